// Package overhead measures what the shop's telemetry costs. It runs the same shop
// (one process per service, as compose does) several times side by side on the
// machine's PostgreSQL, Redis and RabbitMQ, with identical settings except
// telemetry, drives each with the same load in alternating rounds, and reports per
// path (browsing, checkout) the throughput, the latency from each request's intended
// start, the CPU per request of the shop's processes and of the collector (from
// /proc/PID/stat) and the allocations per request (the Go collector's
// go_memstats_* on each process's admin /metrics), with the ratios of each
// instrumented shop to the untraced one. cmd/overhead is its command
// (`make bench-overhead`); TestOverhead_ShortRun runs a short form in `make test`.
package overhead

import (
	"fmt"
	"slices"
	"strings"
)

// exportTarget says where an instrumented shop sends its signals.
type exportTarget int

const (
	exportNowhere   exportTarget = iota // telemetry off
	exportSink                          // a discarding OTLP endpoint of the harness's own
	exportCollector                     // a collector of the variant's own (otel-collector.yaml)
)

// Variant is one way of running the shop. Every variant gets the same settings
// (the ones compose ships: export intervals, batch delays, profiling) except those
// below.
type Variant struct {
	Name  string
	About string
	// Env is added to every shop process of the variant, after the shared settings.
	Env     []string
	exports exportTarget
	// overlays are collector config files, relative to the repository root, given
	// after otel-collector.yaml.
	overlays []string
}

// Variants are the ways the harness can run the shop; DefaultVariants are those
// `make bench-overhead` runs.
var Variants = []Variant{
	{Name: "off", About: "OTEL_SDK_DISABLED=true: no traces, metrics, logs or profiles (the JSON log on stdout stays)",
		Env: []string{"OTEL_SDK_DISABLED=true"}},
	{Name: "collector", About: "every signal on at the shipped settings, exporting to the project's collector (otel-collector.yaml, its exporters into a discarding endpoint), profiles to a discarding stand-in",
		exports: exportCollector},
	{Name: "discard", About: "every signal on, exporting straight to a discarding OTLP endpoint: the SDK's cost without the collector",
		exports: exportSink},
	{Name: "ratio", About: "as collector, with head sampling: OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1",
		Env: []string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1"}, exports: exportCollector},
	{Name: "tail", About: "as collector, with tail sampling in the collector (otel-collector.tail-sampling.yaml): errors, traces over 500 ms and one in ten of the rest kept",
		exports: exportCollector, overlays: []string{"otel-collector.tail-sampling.yaml"}},
}

// DefaultVariants is what a run measures unless told otherwise.
var DefaultVariants = []string{"off", "collector", "discard"}

// Baseline is the variant every other is compared with.
const Baseline = "off"

func lookupVariants(names []string) ([]Variant, error) {
	var out []Variant
	for _, n := range names {
		i := slices.IndexFunc(Variants, func(v Variant) bool { return v.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("no variant %q (have %s)", n, variantNames())
		}
		if slices.ContainsFunc(out, func(v Variant) bool { return v.Name == n }) {
			return nil, fmt.Errorf("variant %q given twice", n)
		}
		out = append(out, Variants[i])
	}
	if len(out) == 0 || out[0].Name != Baseline {
		return nil, fmt.Errorf("the first variant must be %q, the baseline the others are compared with", Baseline)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("give %q and at least one variant to compare with it", Baseline)
	}
	return out, nil
}

func variantNames() string {
	var names []string
	for _, v := range Variants {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}

// Path is a part of the shop the load exercises, as a load generator scenario mix.
type Path struct {
	Name  string
	About string
	Mix   string // shop loadgen -mix
	// VUs are the closed model's virtual users (no think time).
	VUs int
}

// Paths are the parts of the shop measured separately.
var Paths = []Path{
	{Name: "browse", About: "categories, product lists and pages, product details (loadgen scenario browse)", Mix: "browse=1", VUs: 16},
	{Name: "checkout", About: "sign in, add to cart, check out, view the order and its shipment (loadgen scenario checkout)", Mix: "checkout=1", VUs: 32},
}

func lookupPaths(names []string) ([]Path, error) {
	var out []Path
	for _, n := range names {
		i := slices.IndexFunc(Paths, func(p Path) bool { return p.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("no path %q (have browse, checkout)", n)
		}
		out = append(out, Paths[i])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no path to measure")
	}
	return out, nil
}
