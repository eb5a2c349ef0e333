package telemetry

import (
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Latency buckets, in seconds, from the HTTP semantic conventions, reaching down to
// 1 ms because most of the shop's calls finish within a few milliseconds.
var secondsBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Milliseconds buckets for instruments that still report in ms (some contrib libraries).
var millisecondsBuckets = []float64{1, 2.5, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000}

// durationBuckets gives every duration histogram, ours and the libraries', the same
// bucket layout by unit, so dashboards can compare any two of them.
func durationBuckets(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	if i.Kind != sdkmetric.InstrumentKindHistogram {
		return sdkmetric.Stream{}, false
	}
	var bounds []float64
	switch i.Unit {
	case "s":
		bounds = secondsBuckets
	case "ms":
		bounds = millisecondsBuckets
	default:
		return sdkmetric.Stream{}, false
	}
	return sdkmetric.Stream{
		Name:        i.Name,
		Description: i.Description,
		Unit:        i.Unit,
		Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: bounds},
	}, true
}
