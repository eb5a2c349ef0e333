package overhead

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// RunResult is one measured load run of one variant's shop.
type RunResult struct {
	Variant  string  `json:"variant"`
	Path     string  `json:"path"`
	Mode     string  `json:"mode"` // closed (throughput) or open (latency at a fixed rate)
	Round    int     `json:"round"`
	Rate     float64 `json:"rate,omitempty"` // open model: requests/s asked for
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	// ErrorsWhere counts the errors by endpoint and kind, as the load generator
	// reported them.
	ErrorsWhere  map[string]int64 `json:"errors_where,omitempty"`
	RPS          float64          `json:"rps"`
	MissedStarts int64            `json:"missed_starts"`
	P50ms        float64          `json:"p50_ms"` // from each request's intended start
	P99ms        float64          `json:"p99_ms"`
	// WindowSec is how long the CPU and allocations were counted: the load
	// generator's whole run and the settle time after it.
	WindowSec    float64            `json:"window_s"`
	ShopCPU      float64            `json:"shop_cpu_s"`
	ProcessCPU   map[string]float64 `json:"process_cpu_s"`
	CollectorCPU float64            `json:"collector_cpu_s"`
	Collector    bool               `json:"has_collector"`
	Mallocs      float64            `json:"mallocs"`
	AllocBytes   float64            `json:"alloc_bytes"`
	// Exported is what the variant's discarding endpoint received in the
	// window, by signal: what the shop exported (variant discard) or what its
	// collector sent on (collector), plus the profiles.
	Exported map[string]int64 `json:"exported_bytes,omitempty"`
}

func (r RunResult) perRequest(v float64) float64 {
	if r.Requests == 0 {
		return math.NaN()
	}
	return v / float64(r.Requests)
}

func (r RunResult) line() string {
	s := fmt.Sprintf("%d requests (%d errors), %.0f req/s, p50 %.2f ms, p99 %.2f ms, shop CPU %.0f µs/req, %.0f allocs/req",
		r.Requests, r.Errors, r.RPS, r.P50ms, r.P99ms, r.perRequest(r.ShopCPU)*1e6, r.perRequest(r.Mallocs))
	if r.Collector {
		s += fmt.Sprintf(", collector CPU %.0f µs/req", r.perRequest(r.CollectorCPU)*1e6)
	}
	if r.MissedStarts > 0 {
		s += fmt.Sprintf(", %d missed starts", r.MissedStarts)
	}
	if len(r.ErrorsWhere) > 0 {
		var where []string
		for _, k := range slices.Sorted(maps.Keys(r.ErrorsWhere)) {
			where = append(where, fmt.Sprintf("%s %d", k, r.ErrorsWhere[k]))
		}
		s += "; errors: " + strings.Join(where, ", ")
	}
	return s
}

// Stat is a figure over the rounds.
type Stat struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func statOf(xs []float64) Stat {
	xs = slices.DeleteFunc(slices.Clone(xs), func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) })
	if len(xs) == 0 {
		return Stat{Min: math.NaN(), Median: math.NaN(), Max: math.NaN()}
	}
	sort.Float64s(xs)
	return Stat{Min: xs[0], Median: median(xs), Max: xs[len(xs)-1], N: len(xs)}
}

// MarshalJSON writes a figure nobody measured as null rather than failing on NaN.
func (s Stat) MarshalJSON() ([]byte, error) {
	if s.N == 0 {
		return []byte("null"), nil
	}
	type plain Stat
	return json.Marshal(plain(s))
}

// Figures are one variant's figures on one path, over the rounds. Throughput
// comes from the closed runs; latency from the open runs; CPU and allocations
// per request from both (the open runs at the same rate for every variant are
// the fairer comparison; the closed ones show it under saturation).
type Figures struct {
	ThroughputRPS     Stat            `json:"throughput_rps"`
	P50ms             Stat            `json:"p50_ms"`
	P99ms             Stat            `json:"p99_ms"`
	CPUOpenUs         Stat            `json:"shop_cpu_us_per_request_open"`
	CPUClosedUs       Stat            `json:"shop_cpu_us_per_request_closed"`
	CollectorOpenUs   Stat            `json:"collector_cpu_us_per_request_open"`
	CollectorClosedUs Stat            `json:"collector_cpu_us_per_request_closed"`
	AllocsOpen        Stat            `json:"allocs_per_request_open"`
	AllocKiBOpen      Stat            `json:"alloc_kib_per_request_open"`
	ErrorPercent      Stat            `json:"error_percent"`
	ExportedBytesOpen map[string]Stat `json:"exported_bytes_per_request_open,omitempty"`
}

// Ratios are one variant's figures divided by the baseline's of the same round
// and mode (paired, so drift in the machine between rounds cancels out).
type Ratios struct {
	Throughput      Stat `json:"throughput"`
	P50             Stat `json:"p50"`
	P99             Stat `json:"p99"`
	CPUOpen         Stat `json:"shop_cpu_per_request_open"`
	CPUClosed       Stat `json:"shop_cpu_per_request_closed"`
	CPUAndCollector Stat `json:"shop_and_collector_cpu_per_request_open"`
	AllocsOpen      Stat `json:"allocs_per_request_open"`
}

// VariantFigures are a variant's figures and, but for the baseline, its ratios.
type VariantFigures struct {
	Variant string  `json:"variant"`
	Figures Figures `json:"figures"`
	Ratios  *Ratios `json:"ratios_to_off,omitempty"`
}

// PathReport is one path's figures for every variant.
type PathReport struct {
	Path     string           `json:"path"`
	About    string           `json:"about"`
	VUs      int              `json:"closed_vus"`
	OpenRate float64          `json:"open_rate_rps"`
	Variants []VariantFigures `json:"variants"`
}

// Report is a whole run of the harness.
type Report struct {
	Started     time.Time          `json:"started"`
	DurationSec float64            `json:"duration_s"`
	CPUs        int                `json:"cpus"`
	LoadBefore  string             `json:"loadavg_before"`
	LoadAfter   string             `json:"loadavg_after"`
	Rounds      int                `json:"rounds"`
	ClosedSec   float64            `json:"closed_s"`
	OpenSec     float64            `json:"open_s"`
	SettleSec   float64            `json:"settle_s"`
	Load        float64            `json:"open_load"`
	Variants    []VariantInfo      `json:"variant_settings"`
	IdleCores   map[string]float64 `json:"idle_shop_cores"` // CPU seconds per second with no load, by variant
	Paths       []PathReport       `json:"paths"`
	Runs        []RunResult        `json:"runs"`
}

// VariantInfo says what a variant is.
type VariantInfo struct {
	Name  string `json:"name"`
	About string `json:"about"`
}

func (h *harness) report(started time.Time) *Report {
	rep := &Report{
		Started: started, DurationSec: time.Since(started).Seconds(), CPUs: runtime.NumCPU(),
		LoadBefore: h.loadBefore, LoadAfter: loadAverage(),
		Rounds: h.cfg.Rounds, ClosedSec: h.cfg.Closed.Seconds(), OpenSec: h.cfg.Open.Seconds(),
		SettleSec: h.cfg.Settle.Seconds(), Load: h.cfg.Load, IdleCores: h.idle, Runs: h.runs,
	}
	for _, v := range h.variants {
		rep.Variants = append(rep.Variants, VariantInfo{v.Name, v.About})
	}
	for _, p := range h.paths {
		pr := PathReport{Path: p.Name, About: p.About, VUs: p.VUs}
		for _, r := range h.runs {
			if r.Path == p.Name && r.Mode == "open" {
				pr.OpenRate = r.Rate
			}
		}
		for _, v := range h.variants {
			vf := VariantFigures{Variant: v.Name, Figures: figures(h.runs, p.Name, v.Name)}
			if v.Name != Baseline {
				r := ratios(h.runs, p.Name, v.Name)
				vf.Ratios = &r
			}
			pr.Variants = append(pr.Variants, vf)
		}
		rep.Paths = append(rep.Paths, pr)
	}
	return rep
}

func selectRuns(runs []RunResult, path, variant, mode string) []RunResult {
	var out []RunResult
	for _, r := range runs {
		if r.Path == path && r.Variant == variant && r.Mode == mode {
			out = append(out, r)
		}
	}
	return out
}

func each(runs []RunResult, f func(RunResult) float64) Stat {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return statOf(xs)
}

func figures(runs []RunResult, path, variant string) Figures {
	closed, open := selectRuns(runs, path, variant, "closed"), selectRuns(runs, path, variant, "open")
	f := Figures{
		ThroughputRPS: each(closed, func(r RunResult) float64 { return r.RPS }),
		P50ms:         each(open, func(r RunResult) float64 { return r.P50ms }),
		P99ms:         each(open, func(r RunResult) float64 { return r.P99ms }),
		CPUOpenUs:     each(open, func(r RunResult) float64 { return r.perRequest(r.ShopCPU) * 1e6 }),
		CPUClosedUs:   each(closed, func(r RunResult) float64 { return r.perRequest(r.ShopCPU) * 1e6 }),
		AllocsOpen:    each(open, func(r RunResult) float64 { return r.perRequest(r.Mallocs) }),
		AllocKiBOpen:  each(open, func(r RunResult) float64 { return r.perRequest(r.AllocBytes) / 1024 }),
		ErrorPercent:  each(append(closed, open...), func(r RunResult) float64 { return r.perRequest(float64(r.Errors)) * 100 }),
	}
	if len(open) > 0 && open[0].Collector {
		f.CollectorOpenUs = each(open, func(r RunResult) float64 { return r.perRequest(r.CollectorCPU) * 1e6 })
		f.CollectorClosedUs = each(closed, func(r RunResult) float64 { return r.perRequest(r.CollectorCPU) * 1e6 })
	}
	signals := map[string]bool{}
	for _, r := range open {
		for k := range r.Exported {
			signals[k] = true
		}
	}
	if len(signals) > 0 {
		f.ExportedBytesOpen = map[string]Stat{}
		for k := range signals {
			f.ExportedBytesOpen[k] = each(open, func(r RunResult) float64 { return r.perRequest(float64(r.Exported[k])) })
		}
	}
	return f
}

// paired divides variant's value by the baseline's of the same round and mode.
func paired(runs []RunResult, path, variant, mode string, f func(RunResult) float64) Stat {
	base := map[int]RunResult{}
	for _, r := range selectRuns(runs, path, Baseline, mode) {
		base[r.Round] = r
	}
	var xs []float64
	for _, r := range selectRuns(runs, path, variant, mode) {
		if b, ok := base[r.Round]; ok {
			xs = append(xs, f(r)/f(b))
		}
	}
	return statOf(xs)
}

func ratios(runs []RunResult, path, variant string) Ratios {
	cpu := func(r RunResult) float64 { return r.perRequest(r.ShopCPU) }
	return Ratios{
		Throughput:      paired(runs, path, variant, "closed", func(r RunResult) float64 { return r.RPS }),
		P50:             paired(runs, path, variant, "open", func(r RunResult) float64 { return r.P50ms }),
		P99:             paired(runs, path, variant, "open", func(r RunResult) float64 { return r.P99ms }),
		CPUOpen:         paired(runs, path, variant, "open", cpu),
		CPUClosed:       paired(runs, path, variant, "closed", cpu),
		CPUAndCollector: paired(runs, path, variant, "open", func(r RunResult) float64 { return r.perRequest(r.ShopCPU + r.CollectorCPU) }),
		AllocsOpen:      paired(runs, path, variant, "open", func(r RunResult) float64 { return r.perRequest(r.Mallocs) }),
	}
}

// WriteJSON writes the report, every run included.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes one table per path: each figure as median [min–max] over the
// rounds, and beside each instrumented variant its ratio to off.
func (rep *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Telemetry overhead: %d rounds, closed runs of %gs (throughput), open runs of %gs at %.0f %% of the lowest throughput (latency from the intended start), %gs settle; %d CPUs, load average %s before, %s after.\n",
		rep.Rounds, rep.ClosedSec, rep.OpenSec, rep.Load*100, rep.SettleSec, rep.CPUs, rep.LoadBefore, rep.LoadAfter)
	for _, v := range rep.Variants {
		fmt.Fprintf(w, "  %-9s %s\n", v.Name, v.About)
	}
	if len(rep.IdleCores) > 0 {
		var parts []string
		for _, v := range rep.Variants {
			parts = append(parts, fmt.Sprintf("%s %.0f", v.Name, rep.IdleCores[v.Name]*1000))
		}
		fmt.Fprintf(w, "Idle CPU of the eight shop processes, millicores: %s\n", strings.Join(parts, ", "))
	}
	for _, p := range rep.Paths {
		fmt.Fprintf(w, "\n%s: %s; closed %d users with no think time, open %.0f requests/s\n", p.Path, p.About, p.VUs, p.OpenRate)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		header := []string{""}
		for _, v := range p.Variants {
			header = append(header, v.Variant)
			if v.Ratios != nil {
				header = append(header, "÷ off")
			}
		}
		fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
		row := func(label string, fig func(Figures) Stat, ratio func(Ratios) Stat, format string) {
			cells := []string{label}
			for _, v := range p.Variants {
				cells = append(cells, formatStat(fig(v.Figures), format))
				if v.Ratios != nil {
					if ratio == nil {
						cells = append(cells, "")
					} else {
						cells = append(cells, formatStat(ratio(*v.Ratios), "%.2f"))
					}
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
		row("throughput, req/s (closed)", func(f Figures) Stat { return f.ThroughputRPS }, func(r Ratios) Stat { return r.Throughput }, "%.0f")
		row("p50, ms (open)", func(f Figures) Stat { return f.P50ms }, func(r Ratios) Stat { return r.P50 }, "%.2f")
		row("p99, ms (open)", func(f Figures) Stat { return f.P99ms }, func(r Ratios) Stat { return r.P99 }, "%.2f")
		row("shop CPU/request, µs (open)", func(f Figures) Stat { return f.CPUOpenUs }, func(r Ratios) Stat { return r.CPUOpen }, "%.0f")
		row("shop CPU/request, µs (closed)", func(f Figures) Stat { return f.CPUClosedUs }, func(r Ratios) Stat { return r.CPUClosed }, "%.0f")
		row("collector CPU/request, µs (open)", func(f Figures) Stat { return f.CollectorOpenUs }, func(r Ratios) Stat { return r.CPUAndCollector }, "%.0f")
		row("collector CPU/request, µs (closed)", func(f Figures) Stat { return f.CollectorClosedUs }, nil, "%.0f")
		row("allocations/request (open)", func(f Figures) Stat { return f.AllocsOpen }, func(r Ratios) Stat { return r.AllocsOpen }, "%.0f")
		row("allocated KiB/request (open)", func(f Figures) Stat { return f.AllocKiBOpen }, nil, "%.1f")
		row("errors, % of requests", func(f Figures) Stat { return f.ErrorPercent }, nil, "%.1f")
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, v := range p.Variants {
			if len(v.Figures.ExportedBytesOpen) == 0 {
				continue
			}
			var parts []string
			for _, k := range []string{"traces", "metrics", "logs", "profiles", "other"} {
				if s, ok := v.Figures.ExportedBytesOpen[k]; ok {
					parts = append(parts, fmt.Sprintf("%s %.0f", k, s.Median))
				}
			}
			what := "exported by the shop"
			if v.Figures.CollectorOpenUs.N > 0 {
				what = "sent on by its collector (profiles: by the shop)"
			}
			fmt.Fprintf(w, "  %s: bytes/request %s (open, median): %s\n", v.Variant, what, strings.Join(parts, ", "))
		}
	}
	fmt.Fprintln(w, "\nEach cell: median [min–max] over the rounds; ÷ off: the variant's figure over off's in the same round and mode. The collector column of ÷ off is (shop + collector) CPU over off's shop CPU.")
	return nil
}

func formatStat(s Stat, format string) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf(format, s.Median)
	}
	return fmt.Sprintf(format+" ["+format+"–"+format+"]", s.Median, s.Min, s.Max)
}

// loadAverage is /proc/loadavg's 1, 5 and 15-minute figures.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
