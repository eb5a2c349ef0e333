package overhead

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// testLog passes the harness's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The harness in its short form, on the real stores and the project's collector:
// every variant on every path produced figures, and the reports show them. No
// threshold on the figures: a few seconds per run on a shared machine measure
// nothing worth asserting (make bench-overhead is the measurement).
func TestOverhead_ShortRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Root = "../.."
	cfg.Rounds = 1
	cfg.Closed, cfg.Open, cfg.Warmup = 2*time.Second, 2*time.Second, time.Second
	cfg.Settle, cfg.Idle = time.Second, time.Second
	cfg.Log = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	finite := func(s Stat) bool { return s.N > 0 && !math.IsNaN(s.Median) && !math.IsInf(s.Median, 0) }
	if len(rep.Paths) != len(cfg.Paths) {
		t.Fatalf("%d paths reported, want %d", len(rep.Paths), len(cfg.Paths))
	}
	for _, p := range rep.Paths {
		if len(p.Variants) != len(cfg.Variants) {
			t.Errorf("%s: %d variants reported, want %d", p.Path, len(p.Variants), len(cfg.Variants))
		}
		for _, v := range p.Variants {
			f, where := v.Figures, p.Path+"/"+v.Variant
			for name, s := range map[string]Stat{"throughput": f.ThroughputRPS, "p99": f.P99ms, "CPU per request": f.CPUOpenUs, "allocations per request": f.AllocsOpen} {
				if !finite(s) || s.Median <= 0 {
					t.Errorf("%s: no %s figure (%+v)", where, name, s)
				}
			}
			if f.ErrorPercent.Median > 5 {
				t.Errorf("%s: %.1f %% of the requests failed: the figures are of errors", where, f.ErrorPercent.Median)
			}
			switch v.Variant {
			case Baseline:
				if v.Ratios != nil {
					t.Errorf("%s: the baseline has ratios to itself", where)
				}
			default:
				if v.Ratios == nil || !finite(v.Ratios.CPUOpen) || !finite(v.Ratios.Throughput) || !finite(v.Ratios.P99) {
					t.Errorf("%s: no ratios to the baseline (%+v)", where, v.Ratios)
				}
			}
			if v.Variant == "collector" && !(finite(f.CollectorOpenUs) && f.CollectorOpenUs.Median > 0) {
				t.Errorf("%s: no collector CPU figure (%+v)", where, f.CollectorOpenUs)
			}
			if v.Variant == "discard" && !(finite(f.ExportedBytesOpen["traces"]) && f.ExportedBytesOpen["traces"].Median > 0) {
				t.Errorf("%s: the discarding endpoint received no traces (%+v)", where, f.ExportedBytesOpen)
			}
		}
	}

	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range append(append([]string{}, cfg.Paths...), cfg.Variants...) {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report does not mention %q:\n%s", want, text.String())
		}
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Runs) != len(rep.Runs) {
		t.Errorf("the JSON report does not read back (%v, %d runs of %d)", err, len(back.Runs), len(rep.Runs))
	}
	t.Logf("\n%s", text.String())
}
