package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/otelshop/shop/loadtest/internal/format"
)

// The HTML report draws its charts as inline SVG, built here, so the file needs no
// script and no external asset and opens the same anywhere.

type chartSeries struct {
	name   string
	color  string
	values []float64 // NaN where there is no value; the line breaks there
}

const (
	chartW, chartH = 920, 260
	padL, padR     = 64, 16
	padT, padB     = 28, 36
)

// lineChart draws series over xs (seconds from the start of the run).
func lineChart(title, unit string, xs []float64, series []chartSeries) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		chartW, chartH, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	if len(xs) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">no data</text></svg>`, chartW/2-30, chartH/2)
		return template.HTML(b.String())
	}
	maxX := xs[len(xs)-1]
	if len(xs) > 1 {
		maxX += xs[1] - xs[0]
	} else {
		maxX = max(maxX, 1)
	}
	var maxY float64
	for _, s := range series {
		for _, v := range s.values {
			if !math.IsNaN(v) {
				maxY = max(maxY, v)
			}
		}
	}
	top, step := niceScale(maxY)
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	px := func(x float64) float64 { return float64(padL) + x/maxX*plotW }
	py := func(y float64) float64 { return float64(padT) + plotH - y/top*plotH }

	// Grid and y labels.
	for y := 0.0; y <= top+step/2; y += step {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, py(y), py(y))
		fmt.Fprintf(&b, `<text class="ylab" x="%d" y="%.1f">%s</text>`, padL-6, py(y)+4, template.HTMLEscapeString(axisLabel(y, unit)))
	}
	// x labels: about eight, on whole seconds.
	xstep := niceStep(maxX / 8)
	for x := 0.0; x <= maxX+xstep/100; x += xstep {
		fmt.Fprintf(&b, `<text class="xlab" x="%.1f" y="%d">%s</text>`, px(x), chartH-padB+16, template.HTMLEscapeString(secondsLabel(x)))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, chartW-padR, py(0), py(0))

	// Each value sits at the middle of its bucket.
	half := 0.0
	if len(xs) > 1 {
		half = (xs[1] - xs[0]) / 2
	}
	for _, s := range series {
		// A run of values without a gap is one polyline; a lone point would be
		// invisible as one, so it is a dot.
		var run []point
		flush := func() {
			switch len(run) {
			case 0:
			case 1:
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, run[0].x, run[0].y, s.color)
			default:
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="`, s.color)
				for i, p := range run {
					if i > 0 {
						b.WriteByte(' ')
					}
					fmt.Fprintf(&b, "%.1f,%.1f", p.x, p.y)
				}
				b.WriteString(`"/>`)
			}
			run = run[:0]
		}
		for i, v := range s.values {
			if math.IsNaN(v) {
				flush()
				continue
			}
			run = append(run, point{px(xs[i] + half), py(v)})
		}
		flush()
	}
	// Legend.
	lx := padL
	for _, s := range series {
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="4" fill="%s"/><text class="legend" x="%d" y="14">%s</text>`,
			lx, s.color, lx+16, template.HTMLEscapeString(s.name))
		lx += 24 + 8*len(s.name)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// point is a position on the chart, in SVG units.
type point struct{ x, y float64 }

type barSegment struct {
	name  string
	color string
	value float64
}

type barRow struct {
	label    string
	segments []barSegment
}

// stackedBars draws one horizontal bar per row, split into segments.
func stackedBars(title string, rows []barRow) template.HTML {
	const rowH, labelW = 24, 260
	h := padT + rowH*max(len(rows), 1) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		chartW, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	if len(rows) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">no errors</text></svg>`, chartW/2-30, padT+12)
		return template.HTML(b.String())
	}
	var maxTotal float64
	for _, r := range rows {
		var t float64
		for _, s := range r.segments {
			t += s.value
		}
		maxTotal = max(maxTotal, t)
	}
	plotW := float64(chartW - labelW - padR - 60)
	seen := map[string]string{}
	var legend []string
	for i, r := range rows {
		y := padT + i*rowH
		fmt.Fprintf(&b, `<text class="ylab" x="%d" y="%d">%s</text>`, labelW-8, y+15, template.HTMLEscapeString(r.label))
		x := float64(labelW)
		var total float64
		for _, s := range r.segments {
			w := s.value / maxTotal * plotW
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %g</title></rect>`,
				x, y+3, w, rowH-6, s.color, template.HTMLEscapeString(s.name), s.value)
			x += w
			total += s.value
			if _, ok := seen[s.name]; !ok {
				seen[s.name] = s.color
				legend = append(legend, s.name)
			}
		}
		fmt.Fprintf(&b, `<text class="legend" x="%.1f" y="%d">%g</text>`, x+6, y+15, total)
	}
	lx := labelW
	for _, name := range legend {
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="8" fill="%s"/><text class="legend" x="%d" y="16">%s</text>`,
			lx, seen[name], lx+16, template.HTMLEscapeString(name))
		lx += 28 + 8*len(name)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceScale rounds the axis top up to 1, 2 or 5 times a power of ten, in five steps.
func niceScale(maxY float64) (top, step float64) {
	if maxY <= 0 {
		return 1, 0.2
	}
	step = niceStep(maxY / 5)
	top = math.Ceil(maxY/step) * step
	return top, step
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func axisLabel(v float64, unit string) string {
	if unit == "ms" {
		return format.MS(v)
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2g", v)
}

func secondsLabel(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond)
	if d == 0 {
		return "0"
	}
	return d.String()
}
