package telemetry

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// setExporterDefaults fills in what the OTLP exporters would otherwise get wrong for
// a newcomer who sets no OTEL_* variable. The specification's default endpoint is
// http://localhost:4318 (4317 for gRPC), without TLS, where every collector's
// default receiver listens; Go's exporters default to the same host and port but
// over TLS, so against a local collector every export fails ("server gave HTTP
// response to HTTPS client"). An endpoint or OTEL_EXPORTER_OTLP_INSECURE set by
// the user is kept, and so is everything when the signals' protocols differ (one
// default endpoint cannot fit both ports).
//
// metricInterval, when not zero, is the metric export interval unless
// OTEL_METRIC_EXPORT_INTERVAL says otherwise: the SDK's 60 s leaves a short load
// run with one point per series.
//
// The exporters read the process environment themselves (autoexport), so the
// defaults are set there; a variable already set, even empty, is left as it is.
func setExporterDefaults(metricInterval time.Duration) {
	if endpoint := defaultOTLPEndpoint(os.LookupEnv); endpoint != "" {
		os.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	}
	if _, set := os.LookupEnv("OTEL_METRIC_EXPORT_INTERVAL"); !set && metricInterval > 0 {
		os.Setenv("OTEL_METRIC_EXPORT_INTERVAL", strconv.FormatInt(metricInterval.Milliseconds(), 10))
	}
}

// defaultOTLPEndpoint is the endpoint to set, or "" to leave the variables alone.
func defaultOTLPEndpoint(lookup func(string) (string, bool)) string {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_INSECURE"} {
		if _, set := lookup(name); set {
			return ""
		}
	}
	protocol := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	general := protocol("OTEL_EXPORTER_OTLP_PROTOCOL")
	for _, signal := range []string{"TRACES", "METRICS", "LOGS"} {
		if p := protocol("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL"); p != "" && p != general {
			return ""
		}
	}
	if general == "grpc" {
		return "http://localhost:4317"
	}
	return "http://localhost:4318" // http/protobuf, the exporters' default protocol
}
