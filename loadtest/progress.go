package loadtest

import (
	"fmt"
	"io"
	"time"
)

// showProgress rewrites one status line every second until done is closed. Only used on
// a terminal outside CI, where carriage returns are understood and nobody parses stdout.
func (r *runner) showProgress(w io.Writer, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	total := r.cfg.profile.duration()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		l := r.rec.live()
		line := fmt.Sprintf("%s/%s  %.1f req/s  p50 %s  p99 %s  errors %s",
			l.elapsed.Round(time.Second), total, float64(l.requests-last), fmtDuration(l.p50), fmtDuration(l.p99), fmtPercent(ratio(l.failed, l.requests)))
		if r.cfg.mode == modeOpen {
			line += fmt.Sprintf("  missed %d", l.missed)
		}
		line += fmt.Sprintf("  active %d", r.live.Load())
		last = l.requests
		fmt.Fprint(w, "\r\x1b[K"+line)
	}
}
