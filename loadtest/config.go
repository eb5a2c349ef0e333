package loadtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/schedule"
	"github.com/otelshop/shop/loadtest/internal/shopper"
	"github.com/otelshop/shop/loadtest/internal/thresholds"
)

// config is every setting of a run, parsed and validated once before any request.
type config struct {
	target  *url.URL         // base URL of the gateway
	single  *url.URL         // -url: one GET instead of the shop scenarios
	mode    string           // "open" or "closed"
	arrival string           // open model: "sessions" or "requests"
	profile schedule.Profile // arrivals/s (open) or virtual users (closed)
	poisson bool

	maxConcurrency int
	think          shopper.Think
	timeout        time.Duration
	grace          time.Duration
	mix            shopper.Mix // one "url" scenario with -url
	zipfS          float64
	maxProducts    int
	seed           uint64

	endpoints   []gateway.Endpoint // every endpoint the run can call
	thresholds  []thresholds.Threshold
	abortOnFail bool

	jsonPath    string
	htmlPath    string
	jaegerURL   string
	metricsAddr string
	runID       string
	topN        int
	progress    bool // a live line on stdout: only on a terminal and outside CI
}

// flagValues are the raw flag values; parseConfig turns them into a config.
type flagValues struct {
	target, single, mode, arrival, stages, think, mix, runID string
	jsonPath, htmlPath, jaegerURL, metricsAddr               string
	rate                                                     float64
	vus, maxConcurrency, maxProducts, topN                   int
	duration, timeout, grace                                 time.Duration
	zipfS                                                    float64
	seed                                                     uint64
	poisson, abortOnFail                                     bool
	thresholds                                               multiFlag
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newFlagSet(v *flagValues, getenv func(string) string) *flag.FlagSet {
	fs := flag.NewFlagSet("shop loadgen", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Main reports errors itself; -h prints usage
	target := getenv("LOADGEN_TARGET")
	if target == "" {
		target = "http://127.0.0.1:8080"
	}
	jaeger := getenv("JAEGER_UI_URL")
	if jaeger == "" {
		jaeger = "http://127.0.0.1:16686"
	}
	fs.StringVar(&v.target, "target", target, "base URL of the gateway (env LOADGEN_TARGET)")
	fs.StringVar(&v.single, "url", "", "GET this one URL instead of running the shop scenarios (calibration, tool comparisons)")
	fs.StringVar(&v.mode, "mode", schedule.ModeOpen, "open (arrival rate) or closed (looping virtual users)")
	fs.StringVar(&v.arrival, "arrival", schedule.ArrivalSessions, "open model: the `kind` of arrival -rate counts, sessions (new shoppers) or requests (the next request of a waiting session)")
	fs.Float64Var(&v.rate, "rate", 10, "open model: constant arrivals per second (with -duration; or use -stages)")
	fs.IntVar(&v.vus, "vus", 10, "closed model: virtual users (with -duration; or use -stages)")
	fs.DurationVar(&v.duration, "duration", 30*time.Second, "run length for a constant -rate or -vus")
	fs.StringVar(&v.stages, "stages", "", "load shape, e.g. 30s:0->50,1m:50,10s:50->200 (arrivals/s when open, users when closed; quote it in a shell)")
	fs.BoolVar(&v.poisson, "poisson", false, "open model: Poisson arrivals instead of evenly spaced ones")
	fs.IntVar(&v.maxConcurrency, "max-concurrency", 500, "open model: cap on sessions in flight; arrivals beyond it are counted as missed starts")
	fs.StringVar(&v.think, "think", "500ms-2s", "think time between a session's requests: `DURATION` or MIN-MAX (0 for none)")
	fs.DurationVar(&v.timeout, "timeout", 10*time.Second, "timeout of each request")
	fs.DurationVar(&v.grace, "grace", 5*time.Second, "how long sessions in progress may go on after the last arrival before they are cut off")
	fs.StringVar(&v.mix, "mix", shopper.DefaultMix(), "scenario `weights`, name=weight,…; scenarios left out do not run")
	fs.Float64Var(&v.zipfS, "zipf-s", 1.1, "skew of product popularity (Zipf s, > 1; higher is more skewed)")
	fs.IntVar(&v.maxProducts, "max-products", 10000, "how many product ids to discover before the run")
	fs.Uint64Var(&v.seed, "seed", 0, "random seed for reproducible sessions (0 picks one and reports it)")
	fs.Var(&v.thresholds, "threshold", "pass/fail `rule`, repeatable: p95<300ms, 'GET /api/products:p99<100ms', errors<1%, missed<1%, rps>=40")
	fs.BoolVar(&v.abortOnFail, "abort-on-fail", false, "stop the run as soon as a threshold fails on at least 100 samples")
	fs.StringVar(&v.jsonPath, "json", "", "write the JSON summary to this file")
	fs.StringVar(&v.htmlPath, "html", "", "write the self-contained HTML report to this file")
	fs.StringVar(&v.jaegerURL, "jaeger-url", jaeger, "Jaeger UI base for trace links in the report (env JAEGER_UI_URL)")
	fs.StringVar(&v.metricsAddr, "metrics-addr", "", "serve the generator's Prometheus metrics on this address, e.g. 127.0.0.1:9465")
	fs.StringVar(&v.runID, "run-id", "", "name of this run in baggage, reports and emails (default: time and random suffix)")
	fs.IntVar(&v.topN, "top", 20, "how many of the slowest requests the report lists")
	return fs
}

func printUsage(w io.Writer) {
	var v flagValues
	fs := newFlagSet(&v, func(string) string { return "" })
	fs.SetOutput(w)
	fmt.Fprintf(w, "Usage: shop loadgen [flags]\n\nGenerates shopper traffic against the gateway and reports latency from each request's intended start.\n\nScenarios:\n")
	shopper.Describe(func(name, about string) { fmt.Fprintf(w, "  %-9s %s\n", name, about) })
	fmt.Fprintf(w, "\nFlags:\n")
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nExit codes: 0 ok, %d run failed, %d invalid flags, %d threshold broken, %d interrupted.\n",
		ExitFailure, ExitUsage, ExitThresholds, ExitInterrupted)
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func parseConfig(args []string, getenv func(string) string, stdout io.Writer) (config, error) {
	var v flagValues
	fs := newFlagSet(&v, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, fmt.Errorf("invalid flags: %w", err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := config{
		mode:           v.mode,
		arrival:        v.arrival,
		poisson:        v.poisson,
		maxConcurrency: v.maxConcurrency,
		timeout:        v.timeout,
		grace:          v.grace,
		zipfS:          v.zipfS,
		maxProducts:    v.maxProducts,
		seed:           v.seed,
		abortOnFail:    v.abortOnFail,
		jsonPath:       v.jsonPath,
		htmlPath:       v.htmlPath,
		jaegerURL:      strings.TrimRight(v.jaegerURL, "/"),
		metricsAddr:    v.metricsAddr,
		runID:          v.runID,
		topN:           v.topN,
		progress:       isTerminal(stdout) && getenv("CI") == "",
	}
	var err error

	switch cfg.mode {
	case schedule.ModeOpen:
		if set["vus"] {
			return cfg, fmt.Errorf("-vus is for -mode closed; the open model takes -rate or -stages")
		}
		if cfg.arrival != schedule.ArrivalSessions && cfg.arrival != schedule.ArrivalRequests {
			return cfg, fmt.Errorf("-arrival %q: want sessions or requests", cfg.arrival)
		}
	case schedule.ModeClosed:
		for _, f := range []string{"rate", "arrival", "poisson", "max-concurrency"} {
			if set[f] {
				return cfg, fmt.Errorf("-%s is for -mode open; the closed model takes -vus or -stages", f)
			}
		}
	default:
		return cfg, fmt.Errorf("-mode %q: want open or closed", cfg.mode)
	}

	if v.stages != "" {
		if set["duration"] || set["rate"] || set["vus"] {
			return cfg, fmt.Errorf("-stages replaces -duration, -rate and -vus; give one or the other")
		}
		if cfg.profile, err = schedule.ParseStages(v.stages); err != nil {
			return cfg, fmt.Errorf("-stages: %w", err)
		}
	} else {
		level := v.rate
		if cfg.mode == schedule.ModeClosed {
			level = float64(v.vus)
		}
		if v.duration <= 0 {
			return cfg, fmt.Errorf("-duration must be positive, got %s", v.duration)
		}
		if level <= 0 || math.IsNaN(level) || math.IsInf(level, 0) {
			return cfg, fmt.Errorf("-rate/-vus must be positive, got %g", level)
		}
		cfg.profile = schedule.Constant(v.duration, level)
	}
	if cfg.mode == schedule.ModeClosed && cfg.profile.Peak() > maxVirtualUsers {
		return cfg, fmt.Errorf("the closed model is capped at %d virtual users, stages ask for %g", maxVirtualUsers, cfg.profile.Peak())
	}

	if cfg.maxConcurrency <= 0 {
		return cfg, fmt.Errorf("-max-concurrency must be positive, got %d", cfg.maxConcurrency)
	}
	if cfg.think, err = shopper.ParseThink(v.think); err != nil {
		return cfg, fmt.Errorf("-think: %w", err)
	}
	if cfg.timeout <= 0 {
		return cfg, fmt.Errorf("-timeout must be positive, got %s", cfg.timeout)
	}
	if cfg.grace < 0 {
		return cfg, fmt.Errorf("-grace must not be negative, got %s", cfg.grace)
	}
	if !(cfg.zipfS > 1) || math.IsInf(cfg.zipfS, 0) {
		return cfg, fmt.Errorf("-zipf-s must be greater than 1, got %g", cfg.zipfS)
	}
	if cfg.maxProducts <= 0 {
		return cfg, fmt.Errorf("-max-products must be positive, got %d", cfg.maxProducts)
	}
	if cfg.topN < 0 || cfg.topN > 1000 {
		return cfg, fmt.Errorf("-top must be between 0 and 1000, got %d", cfg.topN)
	}

	if cfg.target, err = parseBaseURL(v.target); err != nil {
		return cfg, fmt.Errorf("-target: %w", err)
	}
	cfg.endpoints = gateway.Endpoints()
	if v.single != "" {
		if set["mix"] {
			return cfg, fmt.Errorf("-url and -mix exclude each other: -url replaces the scenarios")
		}
		if cfg.single, err = parseBaseURL(v.single); err != nil {
			return cfg, fmt.Errorf("-url: %w", err)
		}
		ep := gateway.URLEndpoint(cfg.single)
		cfg.endpoints = []gateway.Endpoint{ep}
		cfg.mix = shopper.URLMix(ep, cfg.single.RawQuery)
	} else if cfg.mix, err = shopper.ParseMix(v.mix); err != nil {
		return cfg, fmt.Errorf("-mix: %w", err)
	}

	for _, expr := range v.thresholds {
		t, err := thresholds.Parse(expr, gateway.Names(cfg.endpoints))
		if err != nil {
			return cfg, err
		}
		if t.Metric() == "missed" && cfg.mode == schedule.ModeClosed {
			return cfg, fmt.Errorf("threshold %q: the closed model has no schedule to miss", expr)
		}
		cfg.thresholds = append(cfg.thresholds, t)
	}
	if cfg.abortOnFail && len(cfg.thresholds) == 0 {
		return cfg, fmt.Errorf("-abort-on-fail needs at least one -threshold")
	}

	if cfg.jaegerURL != "" {
		if _, err := parseBaseURL(cfg.jaegerURL); err != nil {
			return cfg, fmt.Errorf("-jaeger-url: %w", err)
		}
	}
	if cfg.runID == "" {
		cfg.runID = newRunID(time.Now())
	} else if !runIDPattern.MatchString(cfg.runID) {
		return cfg, fmt.Errorf("-run-id %q: use letters, digits, '.', '_' or '-' (at most 64)", cfg.runID)
	}
	if cfg.seed == 0 {
		cfg.seed = mrand.Uint64() | 1
	}
	return cfg, nil
}

// maxVirtualUsers keeps a typo such as -vus 1000000 from exhausting the machine.
const maxVirtualUsers = 100_000

func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", s)
	}
	return u, nil
}

// newRunID names a run by its start and a random suffix, unrelated to -seed on purpose:
// two runs with the same seed are still two runs.
func newRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// isTerminal reports whether w is a character device, i.e. a person is watching.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
