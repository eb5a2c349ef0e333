package loadtest

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/metrics"
	"github.com/otelshop/shop/loadtest/internal/schedule"
	"github.com/otelshop/shop/loadtest/internal/shopper"
	"github.com/otelshop/shop/loadtest/internal/stats"
	"github.com/otelshop/shop/loadtest/internal/thresholds"
)

// execute runs the load profile and drains it. It returns the run's statistics, and the
// threshold that stopped the run when -abort-on-fail did.
func execute(ctx context.Context, cfg config, client *gateway.Client, inst *metrics.Instruments, catalog *shopper.Catalog, stdout io.Writer) (*stats.Recorder, *thresholds.Result) {
	// requests is every request's parent: cancelled on Ctrl-C at once, and after -grace
	// when the run ends normally, so nothing outlives the run.
	requests, cancelRequests := context.WithCancel(ctx)
	defer cancelRequests()
	// sessions ends when sessions must not start another request: at the end of the
	// grace period, on Ctrl-C, or at once when -abort-on-fail stops the run.
	sessions, stopSessions := context.WithCancel(ctx)
	defer stopSessions()
	// arrivals ends when the profile is done, and with sessions.
	arrivals, stopArrivals := context.WithCancel(sessions)
	defer stopArrivals()

	start := time.Now()
	rec := stats.NewRecorder(start, cfg.profile.Duration(), gateway.Names(cfg.endpoints), cfg.mix.Names(), cfg.topN)
	shoppers := shopper.New(shopper.Config{
		Client:   client,
		Stats:    rec,
		Metrics:  inst,
		Catalog:  catalog,
		Mix:      cfg.mix,
		Think:    cfg.think,
		ZipfS:    cfg.zipfS,
		Seed:     cfg.seed,
		RunID:    cfg.runID,
		Stop:     sessions.Done(),
		Requests: requests,
	})
	model := newModel(cfg, rec, inst)

	var aborted atomic.Pointer[thresholds.Result]
	var watchers sync.WaitGroup
	watchDone := make(chan struct{})
	if cfg.progress {
		watchers.Go(func() { showProgress(stdout, rec, cfg, watchDone) })
	}
	if cfg.abortOnFail {
		watchers.Go(func() {
			if res, ok := watchThresholds(cfg.thresholds, rec, watchDone); ok {
				aborted.Store(&res)
				// Broken is broken: no new requests, only those in flight may finish.
				stopSessions()
			}
		})
	}

	model.Run(arrivals, start, shoppers.Run)
	stopArrivals()
	drain(model, cfg.grace, stopSessions, cancelRequests)
	rec.Finish(time.Now())
	close(watchDone)
	watchers.Wait()
	if cfg.progress {
		_, _ = io.WriteString(stdout, "\r\x1b[K")
	}
	return rec, aborted.Load()
}

func newModel(cfg config, rec *stats.Recorder, inst *metrics.Instruments) schedule.Model {
	if cfg.mode == schedule.ModeClosed {
		return &schedule.Closed{Profile: cfg.profile}
	}
	return &schedule.Open{
		Profile:         cfg.profile,
		Poisson:         cfg.poisson,
		Seed:            cfg.seed,
		MaxConcurrency:  cfg.maxConcurrency,
		RequestArrivals: cfg.arrival == schedule.ArrivalRequests,
		OnArrival: func(due time.Time, missed bool) {
			rec.Arrival(due, missed)
			if missed {
				inst.MissedStart()
			}
		},
	}
}

// drain gives the sessions in progress -grace to finish (a shopper mid-checkout
// completes it, as after a ramp-down), then stops them and cancels what is in flight.
func drain(model schedule.Model, grace time.Duration, stopSessions, cancelRequests context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		model.Wait()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		stopSessions()
		cancelRequests()
		<-done
	}
}

// watchThresholds checks the thresholds every second for -abort-on-fail.
func watchThresholds(ts []thresholds.Threshold, rec *stats.Recorder, done <-chan struct{}) (thresholds.Result, bool) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return thresholds.Result{}, false
		case <-tick.C:
			if res, broken := thresholds.BrokenEarly(ts, rec); broken {
				return res, true
			}
		}
	}
}
