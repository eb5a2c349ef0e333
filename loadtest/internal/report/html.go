package report

import (
	_ "embed"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/otelshop/shop/loadtest/internal/format"
	"github.com/otelshop/shop/loadtest/internal/gateway"
	"github.com/otelshop/shop/loadtest/internal/schedule"
)

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":      format.MS,
	"percent": format.Percent,
	"kinds":   kindsLine,
	"outcome": outcomeText,
}).Parse(reportTemplateText))

// Series colours, chosen to stay apart for colour-blind readers.
const (
	colBlue   = "#1f77b4"
	colOrange = "#ff7f0e"
	colRed    = "#d62728"
	colPurple = "#9467bd"
	colGreen  = "#2ca02c"
	colGrey   = "#7f7f7f"
)

var kindColors = map[string]string{
	gateway.OutcomeHTTP5xx:     colRed,
	gateway.OutcomeHTTP4xx:     colOrange,
	gateway.OutcomeTimeout:     colPurple,
	gateway.OutcomeRefused:     "#8c564b",
	gateway.OutcomeNetwork:     colGrey,
	gateway.OutcomeBadResponse: "#e377c2",
	gateway.OutcomeUnexpected:  "#bcbd22",
}

type htmlReport struct {
	*Summary
	OK               bool
	ThroughputChart  template.HTML
	LatencyChart     template.HTML
	ConcurrencyChart template.HTML
	ErrorChart       template.HTML
}

// WriteHTML writes the -html file: one page, inline CSS and SVG, no script.
func WriteHTML(w io.Writer, s *Summary) error {
	xs := make([]float64, len(s.Timeline.Points))
	rps := make([]float64, len(xs))
	errs := make([]float64, len(xs))
	missed := make([]float64, len(xs))
	active := make([]float64, len(xs))
	p50, p90, p99, pmax := make([]float64, len(xs)), make([]float64, len(xs)), make([]float64, len(xs)), make([]float64, len(xs))
	width := s.Timeline.BucketSec
	for i, p := range s.Timeline.Points {
		xs[i] = p.T
		rps[i] = p.RPS
		errs[i] = float64(p.Errors) / width
		missed[i] = float64(p.Missed) / width
		active[i] = float64(p.MaxActive)
		p50[i], p90[i], p99[i], pmax[i] = orNaN(p.P50), orNaN(p.P90), orNaN(p.P99), orNaN(p.Max)
	}
	through := []chartSeries{{"requests/s", colBlue, rps}, {"errors/s", colRed, errs}}
	if s.Mode == schedule.ModeOpen {
		through = append(through, chartSeries{"missed starts/s", colOrange, missed})
	}
	var rows []barRow
	for _, e := range s.Endpoints {
		if e.Errors == 0 {
			continue
		}
		row := barRow{label: e.Name}
		for _, k := range slices.Sorted(maps.Keys(e.ErrorsByKind)) {
			c, ok := kindColors[k]
			if !ok {
				c = colGrey
			}
			row.segments = append(row.segments, barSegment{name: k, color: c, value: float64(e.ErrorsByKind[k])})
		}
		rows = append(rows, row)
	}
	data := htmlReport{
		Summary:         s,
		OK:              s.Passed,
		ThroughputChart: lineChart("Throughput per second", "", xs, through),
		LatencyChart: lineChart("Latency from intended start", "ms", xs, []chartSeries{
			{"p50", colGreen, p50}, {"p90", colBlue, p90}, {"p99", colOrange, p99}, {"max", colRed, pmax},
		}),
		ConcurrencyChart: lineChart("Sessions in progress (peak per interval)", "", xs, []chartSeries{{"active sessions", colPurple, active}}),
		ErrorChart:       stackedBars("Errors by endpoint and kind", rows),
	}
	return reportTemplate.Execute(w, data)
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
