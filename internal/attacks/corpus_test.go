package attacks_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/shoptest"
)

// badRequest is a line of testdata/bad-requests.jsonl.
type badRequest struct {
	Service   string            `json:"service"`
	Method    string            `json:"method"`
	Path      string            `json:"path"`
	As        string            `json:"as"`
	Body      *string           `json:"body"`
	RawBase64 string            `json:"raw_base64"`
	Header    map[string]string `json:"header"`
	Note      string            `json:"note"`
}

// Not one of the committed bad requests, to any route of any service, public or
// internal, gets a server error or hangs: each is answered, within 5 s, with a 4xx.
func TestBadRequests_NoServerErrorNoHang(t *testing.T) {
	corpus := readCorpus(t)
	if len(corpus) < 150 {
		t.Fatalf("the corpus holds %d requests, want at least 150", len(corpus))
	}
	s := shoptest.Start(t, shoptest.Options{})
	shopper := s.NewShopper(t)
	shopper.AddToCart("SKU-00001", 1)
	headersOf := map[string]func() http.Header{
		"":     func() http.Header { return http.Header{} },
		"user": func() http.Header { return http.Header{"Authorization": {"Bearer " + shopper.Token}} },
		"user-only": func() http.Header {
			return http.Header{"Authorization": {"Bearer " + shopper.Token}, auth.UserTokenHeader: {shopper.Token}}
		},
		"gateway+user": func() http.Header {
			h := http.Header{}
			ctx := auth.WithUser(context.Background(), auth.User{Token: shopper.Token})
			if err := s.Credentials(t, "gateway").Authorize(ctx, h); err != nil {
				t.Fatal(err)
			}
			return h
		},
	}
	statuses := map[int]int{}
	client := &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, br := range corpus {
		header := http.Header{}
		if f, ok := headersOf[br.As]; ok {
			header = f()
		} else if err := s.Credentials(t, br.As).Authorize(context.Background(), header); err != nil {
			t.Fatalf("line %d: credentials of %s: %v", i+1, br.As, err)
		}
		for k, v := range br.Header {
			header.Set(k, v)
		}
		var body *strings.Reader
		switch {
		case br.RawBase64 != "":
			raw, err := base64.StdEncoding.DecodeString(br.RawBase64)
			if err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			body = strings.NewReader(string(raw))
		case br.Body != nil:
			body = strings.NewReader(*br.Body)
		default:
			body = strings.NewReader("")
		}
		base := s.URL[br.Service]
		req, err := http.NewRequest(br.Method, base+br.Path, body)
		if err != nil {
			t.Errorf("line %d: the request cannot be sent: %v", i+1, err)
			continue
		}
		req.Header = header
		if req.Header.Get("Content-Type") == "" && body.Len() > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s %s %s (%s, as %q): no answer within 5 s: %v", br.Service, br.Method, br.Path, br.Note, br.As, err)
			continue
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
		if resp.StatusCode >= 500 || resp.StatusCode < 400 {
			t.Errorf("%s %s %.80s (%s, as %q): %d after %s, want a 4xx", br.Service, br.Method, br.Path, br.Note, br.As,
				resp.StatusCode, time.Since(start).Round(time.Millisecond))
		}
	}
	var counts []string
	for _, status := range slices.Sorted(maps.Keys(statuses)) {
		counts = append(counts, fmt.Sprintf("%d×%d", statuses[status], status))
	}
	t.Logf("%d bad requests: %s", len(corpus), strings.Join(counts, ", "))
}

func readCorpus(t *testing.T) []badRequest {
	t.Helper()
	f, err := os.Open("testdata/bad-requests.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []badRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var br badRequest
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&br); err != nil {
			t.Fatalf("testdata/bad-requests.jsonl:%d: %v", n, err)
		}
		out = append(out, br)
	}
	return out
}
