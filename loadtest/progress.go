package loadtest

import (
	"fmt"
	"io"
	"time"

	"github.com/otelshop/shop/loadtest/internal/format"
	"github.com/otelshop/shop/loadtest/internal/schedule"
	"github.com/otelshop/shop/loadtest/internal/stats"
)

// showProgress rewrites one status line every second until done is closed. Only used on
// a terminal outside CI, where carriage returns are understood and nobody parses stdout.
func showProgress(w io.Writer, rec *stats.Recorder, cfg config, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	total := cfg.profile.Duration()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		l := rec.Live()
		line := fmt.Sprintf("%s/%s  %.1f req/s  p50 %s  p99 %s  errors %s",
			l.Elapsed.Round(time.Second), total, float64(l.Requests-last), format.Duration(l.P50), format.Duration(l.P99), format.Percent(stats.Ratio(l.Failed, l.Requests)))
		if cfg.mode == schedule.ModeOpen {
			line += fmt.Sprintf("  missed %d", l.Missed)
		}
		line += fmt.Sprintf("  active %d", l.Active)
		last = l.Requests
		fmt.Fprint(w, "\r\x1b[K"+line)
	}
}
