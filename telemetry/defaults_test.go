package telemetry

import "testing"

// With no OTEL_* variable the exporters go to the specification's default,
// plain HTTP on localhost; anything the user set wins. The end-to-end test runs
// the load generator with no OTEL_* variable against local mode and finds its
// spans in Jaeger (TestJaeger_CheckoutTraceCrossesEveryHop) and its metrics in the
// Load test dashboard (TestDashboards_EveryPanelHasData).
func TestDefaultOTLPEndpoint(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, "http://localhost:4318"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "http://localhost:4318"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http://localhost:4317"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, "http://localhost:4317"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, "http://localhost:4318"}, // empty is unset
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, "http://localhost:4318"},
		{map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem"}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "false"}, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"}, ""},
	}
	for _, tt := range tests {
		if got := defaultOTLPEndpoint(func(name string) string { return tt.env[name] }); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.env, got, tt.want)
		}
	}
}
