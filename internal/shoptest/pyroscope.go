package shoptest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
)

// FakePyroscope stands in for the Pyroscope server, which cannot run on the project's
// machines: it accepts pyroscope-go's uploads, refuses what is not valid pprof, and
// keeps every profile.
type FakePyroscope struct {
	URL string

	mu      sync.Mutex
	uploads []ProfileUpload
}

// ProfileUpload is one uploaded profile and whose it is.
type ProfileUpload struct {
	App  string // the application name: the service.name
	Type string // the last sample type: cpu, alloc_space, inuse_space, goroutine, contentions, delay…
	// Labels are the series labels Pyroscope would index the profile by: the
	// uploader's tags, and the application name as service_name.
	Labels  map[string]string
	Profile *profile.Profile
}

// StartFakePyroscope serves until the test ends.
func StartFakePyroscope(t testing.TB) *FakePyroscope {
	f, stop := NewFakePyroscope()
	t.Cleanup(stop)
	return f
}

// NewFakePyroscope serves until stop is called (for a TestMain, which has no
// testing.TB).
func NewFakePyroscope() (f *FakePyroscope, stop func()) {
	f = &FakePyroscope{}
	srv := httptest.NewServer(http.HandlerFunc(f.ingest))
	f.URL = srv.URL
	return f, srv.Close
}

func (f *FakePyroscope) ingest(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ingest" || r.ParseMultipartForm(32<<20) != nil {
		http.Error(w, "bad upload", http.StatusBadRequest)
		return
	}
	file, _, err := r.FormFile("profile")
	if err != nil {
		http.Error(w, "no profile", http.StatusBadRequest)
		return
	}
	defer file.Close()
	data, _ := io.ReadAll(file)
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		http.Error(w, "not pprof: "+err.Error(), http.StatusBadRequest)
		return
	}
	// name is "<app>{tag=value,...}"; the kind of profile is its last sample type.
	app, tags, _ := strings.Cut(r.URL.Query().Get("name"), "{")
	labels := map[string]string{"service_name": app}
	for _, kv := range strings.Split(strings.TrimSuffix(tags, "}"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = v
		}
	}
	typ := ""
	if n := len(p.SampleType); n > 0 {
		typ = p.SampleType[n-1].Type
	}
	f.mu.Lock()
	f.uploads = append(f.uploads, ProfileUpload{App: app, Type: typ, Labels: labels, Profile: p})
	f.mu.Unlock()
}

// Uploads returns what was uploaded so far.
func (f *FakePyroscope) Uploads() []ProfileUpload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ProfileUpload(nil), f.uploads...)
}

// SpanSamples returns the CPU samples, by value, that carry span labels in app's
// uploads, by span id.
func (f *FakePyroscope) SpanSamples(app string) map[string]int64 {
	out := map[string]int64{}
	for _, u := range f.Uploads() {
		if u.App != app || u.Type != "cpu" {
			continue
		}
		for _, s := range u.Profile.Sample {
			for _, id := range s.Label["span_id"] {
				out[id] += s.Value[0]
			}
		}
	}
	return out
}
