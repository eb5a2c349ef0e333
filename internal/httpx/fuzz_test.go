package httpx

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

type fuzzed struct {
	Name  string             `json:"name"`
	Tags  []string           `json:"tags"`
	Inner struct{ V string } `json:"inner"`
	Map   map[string]string  `json:"map"`
	N     int                `json:"n"`
}

// Whatever the body, Decode never panics, and no string it accepts holds NUL or,
// from a body that was not UTF-8, a replaced byte.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name":"a","tags":["b"],"inner":{"V":"c"},"map":{"k":"v"},"n":1}`))
	f.Add([]byte("{\"name\":\"\xff\"}"))
	f.Add([]byte(`{"name":"\u0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := Decode[fuzzed](httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: %T is not an *Error", body, err)
			}
			return
		}
		all := append([]string{v.Name, v.Inner.V}, v.Tags...)
		for k, val := range v.Map {
			all = append(all, k, val)
		}
		for _, s := range all {
			if strings.ContainsRune(s, 0) || (!utf8.Valid(body) && strings.ContainsRune(s, utf8.RuneError)) {
				t.Fatalf("%q: accepted %q", body, s)
			}
		}
	})
}
