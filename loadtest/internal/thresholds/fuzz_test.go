package thresholds

import "testing"

// Whatever the -threshold text, parsing never panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"p99<300ms", "GET /api/products:p95<100ms", "errors<1%", "missed<0.5%", "p101<1s", "errors<", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		_, _ = Parse(expr, []string{"GET /api/products"})
	})
}
