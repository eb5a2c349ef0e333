package shoptest

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// AttributeSets returns the attribute set of every data point of a metric, whatever its
// kind; a metric without points gives one empty set.
func AttributeSets(data metricdata.Aggregation) []attribute.Set {
	var out []attribute.Set
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		out = sets(d.DataPoints, func(p metricdata.DataPoint[int64]) attribute.Set { return p.Attributes })
	case metricdata.Sum[float64]:
		out = sets(d.DataPoints, func(p metricdata.DataPoint[float64]) attribute.Set { return p.Attributes })
	case metricdata.Gauge[int64]:
		out = sets(d.DataPoints, func(p metricdata.DataPoint[int64]) attribute.Set { return p.Attributes })
	case metricdata.Gauge[float64]:
		out = sets(d.DataPoints, func(p metricdata.DataPoint[float64]) attribute.Set { return p.Attributes })
	case metricdata.Histogram[int64]:
		out = sets(d.DataPoints, func(p metricdata.HistogramDataPoint[int64]) attribute.Set { return p.Attributes })
	case metricdata.Histogram[float64]:
		out = sets(d.DataPoints, func(p metricdata.HistogramDataPoint[float64]) attribute.Set { return p.Attributes })
	}
	if len(out) == 0 {
		out = append(out, attribute.NewSet())
	}
	return out
}

func sets[P any](points []P, attrs func(P) attribute.Set) []attribute.Set {
	out := make([]attribute.Set, len(points))
	for i, p := range points {
		out[i] = attrs(p)
	}
	return out
}

// MetricAttributeSets collects the service's metrics now and returns the attribute sets
// of the named metric's data points (none when the metric does not exist).
func (s *Shop) MetricAttributeSets(t testing.TB, service, metric string) []attribute.Set {
	t.Helper()
	var out []attribute.Set
	for _, sm := range s.Metrics(t, service).ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == metric {
				out = append(out, AttributeSets(m.Data)...)
			}
		}
	}
	return out
}
