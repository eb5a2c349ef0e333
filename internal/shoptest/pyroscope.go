package shoptest

import (
	"net/http/httptest"
	"testing"

	"github.com/otelshop/shop/internal/standin"
)

// FakePyroscope stands in for the Pyroscope server, which cannot run on the project's
// machines: internal/standin's profile store, served on a test port. It accepts
// pyroscope-go's uploads, refuses what is not valid pprof, keeps every profile and
// answers /pyroscope/render.
type FakePyroscope struct {
	URL string
	*standin.Profiles
}

// ProfileUpload is one uploaded profile and whose it is.
type ProfileUpload = standin.Upload

// StartFakePyroscope serves until the test ends.
func StartFakePyroscope(t testing.TB) *FakePyroscope {
	f, stop := NewFakePyroscope()
	t.Cleanup(stop)
	return f
}

// NewFakePyroscope serves until stop is called (for a TestMain, which has no
// testing.TB).
func NewFakePyroscope() (f *FakePyroscope, stop func()) {
	f = &FakePyroscope{Profiles: &standin.Profiles{}}
	srv := httptest.NewServer(f.Profiles)
	f.URL = srv.URL
	return f, srv.Close
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
