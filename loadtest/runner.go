package loadtest

import (
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// runner is one run: its configuration, its shared state and the goroutines it owns.
type runner struct {
	cfg      config
	client   *client
	rec      *recorder
	inst     *instruments
	catalog  *catalog
	accounts *accounts
	mix      []weighted
	// endpoints are the names this run can produce, for the recorder.
	endpoints []string

	start   time.Time
	baseCtx context.Context // never cancelled; for metric recording
	// reqCtx is the requests' parent: cancelled on Ctrl-C at once, and after -grace when
	// the run ends normally, so nothing outlives the run.
	reqCtx         context.Context
	cancelRequests context.CancelFunc
	// arrivalsDone closes when the profile is over: no new sessions, no new tickets.
	arrivalsDone <-chan struct{}
	// quit closes when sessions must not start another request: at the end of the grace
	// period, on Ctrl-C, or at once when -abort-on-fail stops the run.
	quit     chan struct{}
	quitOnce sync.Once

	live       atomic.Int64 // sessions in progress
	sessionSeq atomic.Uint64
	accountSeq atomic.Uint64
	emailNonce string
	sessions   sync.WaitGroup
	// idleSessions recycles finished sessions (see acquireSession).
	idleSessions sync.Pool
	// tickets hands request arrivals to idle sessions (open model, -arrival requests).
	tickets chan time.Time
	// idleWorkers hands new sessions' arrival times to goroutines whose last session
	// ended (open model).
	idleWorkers chan time.Time
}

func newRunner(ctx context.Context, cfg config, tel Telemetry, inst *instruments) (*runner, error) {
	idle := cfg.maxConcurrency
	if cfg.mode == modeClosed {
		idle = int(cfg.profile.peak()) + 1
	}
	cl, err := newClient(ctx, cfg, tel, idle)
	if err != nil {
		return nil, err
	}
	r := &runner{
		cfg:         cfg,
		client:      cl,
		inst:        inst,
		catalog:     newCatalog(cfg.maxProducts),
		accounts:    newAccounts(1000),
		mix:         cfg.mix,
		endpoints:   gatewayEndpointNames(),
		baseCtx:     context.WithoutCancel(ctx),
		emailNonce:  cryptoHex(3),
		quit:        make(chan struct{}),
		idleWorkers: make(chan time.Time),
	}
	if cfg.single != nil {
		ep := singleEndpoint(cfg.single)
		r.mix = []weighted{{scenario: singleURL(ep, cfg.single.RawQuery), weight: 1}}
		r.endpoints = []string{ep.String()}
	}
	if cfg.mode == modeOpen && cfg.arrival == arrivalRequests {
		r.tickets = make(chan time.Time)
	}
	r.reqCtx, r.cancelRequests = context.WithCancel(ctx)
	return r, nil
}

// execute runs the load profile and drains it. It returns the threshold that stopped
// the run when -abort-on-fail did.
func (r *runner) execute(ctx context.Context, stdout io.Writer) *thresholdResult {
	defer r.cancelRequests()
	scenarioNames := make([]string, len(r.mix))
	for i, w := range r.mix {
		scenarioNames[i] = w.scenario.name
	}
	r.start = time.Now()
	r.rec = newRecorder(r.start, r.cfg.profile.duration(), r.endpoints, scenarioNames, r.cfg.topN)

	// arrivals ends when the profile is done, on Ctrl-C, or on an -abort-on-fail.
	arrivals, stopArrivals := context.WithCancel(ctx)
	defer stopArrivals()
	r.arrivalsDone = arrivals.Done()

	var aborted atomic.Pointer[thresholdResult]
	var watchers sync.WaitGroup
	watchDone := make(chan struct{})
	watchers.Go(func() {
		// Ctrl-C: sessions stop at once (their requests are cancelled through reqCtx).
		select {
		case <-ctx.Done():
			r.stopSessions()
		case <-watchDone:
		}
	})
	if r.cfg.progress {
		watchers.Go(func() { r.showProgress(stdout, watchDone) })
	}
	if r.cfg.abortOnFail {
		watchers.Go(func() {
			if res, ok := r.watchThresholds(watchDone); ok {
				aborted.Store(&res)
				// Broken is broken: no new requests, only those in flight may finish.
				r.stopSessions()
				stopArrivals()
			}
		})
	}

	if r.cfg.mode == modeOpen {
		r.runOpen(arrivals)
	} else {
		r.runClosed(arrivals)
	}
	stopArrivals()
	r.drain()
	r.rec.finish(time.Now())
	close(watchDone)
	watchers.Wait()
	if r.cfg.progress {
		_, _ = io.WriteString(stdout, "\r\x1b[K")
	}
	return aborted.Load()
}

func (r *runner) stopSessions() { r.quitOnce.Do(func() { close(r.quit) }) }

// drain gives the sessions in progress -grace to finish (a shopper mid-checkout
// completes it, as after a ramp-down), then stops them and cancels what is in flight.
func (r *runner) drain() {
	done := make(chan struct{})
	go func() {
		r.sessions.Wait()
		close(done)
	}()
	grace := time.NewTimer(r.cfg.grace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		r.stopSessions()
		r.cancelRequests()
		<-done
	}
	r.stopSessions()
}

// runSession runs one session of a scenario drawn from the mix.
func (r *runner) runSession(first time.Time, tickets <-chan time.Time) {
	s := r.acquireSession(r.sessionSeq.Add(1))
	defer r.releaseSession(s)
	sc := pick(r.mix, s.rng)
	s.scenario, s.first, s.tickets = sc.name, first, tickets
	r.rec.sessionStarted(sc.name)
	r.inst.sessionStarted(r.baseCtx, sc.name)
	result := sessionResult(sc.run(s))
	r.rec.sessionEnded(sc.name, result)
	r.inst.sessionEnded(r.baseCtx, sc.name, result)
}

func (r *runner) newSession(scenario string, rng *rand.Rand) *session {
	return &session{r: r, scenario: scenario, rng: rng}
}

// acquireSession returns a fresh session whose random stream is the n-th of the run's
// seed, so a seeded run repeats. Sessions are recycled: in -url mode a session is one
// request, and a new session, random source and body buffer per request showed in the
// allocation profile.
func (r *runner) acquireSession(n uint64) *session {
	s, _ := r.idleSessions.Get().(*session)
	if s == nil {
		s = &session{src: rand.NewPCG(0, 0)}
		s.rng = rand.New(s.src)
	}
	s.src.Seed(r.cfg.seed, n+1000)
	s.r = r
	return s
}

// maxKeptBody bounds the buffer a recycled session keeps: a rare large response should
// not pin its size in memory for the rest of the run.
const maxKeptBody = 64 << 10

// releaseSession clears a finished session's state and keeps it for the next one.
func (r *runner) releaseSession(s *session) {
	recycled := session{src: s.src, rng: s.rng, thinkTimer: s.thinkTimer}
	if s.body.Cap() <= maxKeptBody {
		s.body.Reset()
		recycled.body = s.body
	}
	*s = recycled
	r.idleSessions.Put(s)
}

// watchThresholds checks the thresholds every second for -abort-on-fail.
func (r *runner) watchThresholds(done <-chan struct{}) (thresholdResult, bool) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return thresholdResult{}, false
		case <-tick.C:
			if res, broken := brokenEarly(r.cfg.thresholds, r.rec); broken {
				return res, true
			}
		}
	}
}
