// Package format writes durations and ratios the way every report of the load
// generator shows them: three significant digits and a unit (850µs, 12.3ms, 1.02s),
// and percentages with two decimals.
package format

import (
	"strconv"
	"time"
)

// Duration shows a latency with three significant digits: 850µs, 12.3ms, 1.02s.
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return sig3(d.Seconds()) + "s"
	default:
		return d.Round(time.Second).String()
	}
}

// MS formats a latency given in milliseconds.
func MS(v float64) string { return Duration(time.Duration(v * float64(time.Millisecond))) }

func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// Percent shows a ratio as a percentage: 0.0125 is 1.25%.
func Percent(r float64) string {
	return strconv.FormatFloat(r*100, 'f', 2, 64) + "%"
}
