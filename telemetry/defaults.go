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
// response to HTTPS client"). An endpoint, OTEL_EXPORTER_OTLP_INSECURE or a TLS
// file set by the user is kept, and so is everything when the signals'
// protocols differ (one default endpoint cannot fit both ports).
//
// metricInterval, when not zero, is the metric export interval unless
// OTEL_METRIC_EXPORT_INTERVAL says otherwise: the SDK's 60 s leaves a short load
// run with one point per series.
//
// The exporters read the process environment themselves (autoexport), so the
// defaults are set there. An empty variable counts as unset, as the exporters
// and the specification read it.
func setExporterDefaults(metricInterval time.Duration) {
	if endpoint := defaultOTLPEndpoint(os.Getenv); endpoint != "" {
		os.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	}
	if os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" && metricInterval > 0 {
		os.Setenv("OTEL_METRIC_EXPORT_INTERVAL", strconv.FormatInt(metricInterval.Milliseconds(), 10))
	}
}

// defaultOTLPEndpoint is the endpoint to set, or "" to leave the variables alone.
func defaultOTLPEndpoint(getenv func(string) string) string {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_INSECURE",
		"OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_KEY"} {
		if strings.TrimSpace(getenv(name)) != "" {
			return ""
		}
	}
	general := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	if general == "" {
		general = "http/protobuf" // the exporters' default
	}
	for _, signal := range []string{"TRACES", "METRICS", "LOGS"} {
		if p := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL")); p != "" && p != general {
			return ""
		}
	}
	if general == "grpc" {
		return "http://localhost:4317"
	}
	return "http://localhost:4318"
}
