package service

import (
	"context"
	"time"
)

// Every calls work every interval until ctx ends, and also at once whenever
// wake (when not nil) fires. The background jobs (outbox relay, expiry, sweeper,
// readiness) all run this way; work decides itself what a pass does.
func Every(ctx context.Context, interval time.Duration, wake <-chan struct{}, work func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		work(ctx)
	}
}

// Sleep waits d, or until ctx ends: then it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
