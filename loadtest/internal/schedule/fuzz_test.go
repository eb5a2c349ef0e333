package schedule

import "testing"

// Whatever the -stages text, parsing never panics, and an accepted profile has
// stages of positive length.
func FuzzParseStages(f *testing.F) {
	for _, s := range []string{"30s:0->50,1m:50,10s:50->200", "1m:10", "0s:1", "1m:-5", "1m:1->", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		p, err := ParseStages(spec)
		if err != nil {
			return
		}
		if p.Duration() <= 0 {
			t.Fatalf("%q: accepted a profile of %s", spec, p.Duration())
		}
	})
}
