package loadtest

import (
	"io"
	"strings"
	"testing"
)

// Whatever the command line, flag parsing never panics: bad flags are an error
// before any request.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"-rate 5 -duration 1m", "-mode closed -vus 3", "-stages 30s:0->50", "-threshold p99<1s", "-rate -1", "-url ::", "-max-concurrency 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		_, _ = parseConfig(strings.Fields(line), func(string) string { return "" }, io.Discard)
	})
}
