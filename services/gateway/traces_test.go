package gateway

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/otelshop/shop/internal/httpx"
)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// What the browser's exporter (@opentelemetry/exporter-trace-otlp-http) sends:
// OTLP/JSON, ids in hex, timestamps as strings, enums as numbers.
const browserJSON = `{"resourceSpans":[{"resource":{"attributes":[
 {"key":"service.name","value":{"stringValue":"payments"}},
 {"key":"service.namespace","value":{"stringValue":"elsewhere"}},
 {"key":"deployment.environment.name","value":{"stringValue":"production"}},
 {"key":"telemetry.sdk.language","value":{"stringValue":"webjs"}}],"droppedAttributesCount":0},
 "scopeSpans":[{"scope":{"name":"@opentelemetry/instrumentation-fetch","version":"0.223.0"},
 "spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","parentSpanId":"",
 "name":"POST /api/checkout","kind":3,"startTimeUnixNano":"1764763200000000001","endTimeUnixNano":"1764763200250000002",
 "attributes":[{"key":"http.request.method","value":{"stringValue":"POST"}},{"key":"http.response.status_code","value":{"intValue":201}}],
 "droppedAttributesCount":0,"events":[{"timeUnixNano":"1764763200100000000","name":"fetchStart","attributes":[],"droppedAttributesCount":0}],
 "droppedEventsCount":0,"status":{"code":0},"links":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","attributes":[]}],
 "droppedLinksCount":0}]}]}]}`

func TestDecodeTraces_OTLPJSONAsTheBrowserSendsIt(t *testing.T) {
	export, err := decodeTraces(otlpJSON, []byte(browserJSON))
	if err != nil {
		t.Fatal(err)
	}
	if n := countSpans(export); n != 1 {
		t.Fatalf("%d spans, want 1", n)
	}
	sp := export.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if !bytes.Equal(sp.TraceId, mustHex(t, "4bf92f3577b34da6a3ce929d0e0e4736")) || !bytes.Equal(sp.SpanId, mustHex(t, "00f067aa0ba902b7")) ||
		len(sp.ParentSpanId) != 0 || !bytes.Equal(sp.Links[0].SpanId, mustHex(t, "b7ad6b7169203331")) {
		t.Errorf("ids: trace %x span %x parent %x link %x", sp.TraceId, sp.SpanId, sp.ParentSpanId, sp.Links[0].SpanId)
	}
	if sp.StartTimeUnixNano != 1764763200000000001 || sp.Kind != tracepb.Span_SPAN_KIND_CLIENT || sp.Name != "POST /api/checkout" {
		t.Errorf("span: %v", sp)
	}

	// The browser speaks for the storefront only, whatever it claims to be.
	stampStorefront(export)
	got := map[string]string{}
	for _, kv := range export.ResourceSpans[0].Resource.Attributes {
		got[kv.Key] = kv.Value.GetStringValue()
	}
	want := map[string]string{"service.name": "storefront", "service.namespace": "shop", "telemetry.sdk.language": "webjs"}
	if len(got) != len(want) {
		t.Errorf("resource %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("resource %s=%q, want %q", k, got[k], v)
		}
	}
}

func TestDecodeTraces_RefusesWhatIsNotATraceExport(t *testing.T) {
	span := &tracepb.Span{TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8), Name: "x"}
	traces := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "x")}}, ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span}}}}}}
	good, err := proto.Marshal(traces)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeTraces(otlpProtobuf, good); err != nil {
		t.Fatalf("a good protobuf export refused: %v", err)
	}
	mustMarshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	metrics := mustMarshal(&colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "x")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "m", Data: &metricspb.Metric_Gauge{
			Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{Value: &metricspb.NumberDataPoint_AsInt{AsInt: 1}}}}}}}}}}}})
	logs := mustMarshal(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "hello"}}}}}}}}})
	noIDs := mustMarshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "no ids"}}}}}}})

	for _, tt := range []struct {
		name, format string
		body         []byte
	}{
		{"a metrics export", otlpProtobuf, metrics},
		{"a logs export", otlpProtobuf, logs},
		{"a span without ids", otlpProtobuf, noIDs},
		{"protobuf garbage", otlpProtobuf, []byte("\xff\xff\xff\xff")},
		{"protobuf sent as JSON", otlpJSON, good},
		{"JSON that is not OTLP", otlpJSON, []byte(`{"hello":"world"}`)},
		{"JSON metrics", otlpJSON, []byte(`{"resourceMetrics":[{"scopeMetrics":[]}]}`)},
		{"JSON logs", otlpJSON, []byte(`{"resourceLogs":[{"scopeLogs":[]}]}`)},
		{"two JSON objects", otlpJSON, []byte(`{"resourceSpans":[]}{"resourceSpans":[]}`)},
		{"a JSON array", otlpJSON, []byte(`[{"resourceSpans":[]}]`)},
		{"ids in base64", otlpJSON, []byte(strings.Replace(browserJSON, `"4bf92f3577b34da6a3ce929d0e0e4736"`, `"S/kvNXezTaajzpKdDg5HNg=="`, 1))},
		{"a short trace id", otlpJSON, []byte(strings.Replace(browserJSON, `"4bf92f3577b34da6a3ce929d0e0e4736"`, `"4bf92f35"`, 1))},
		{"an unknown span field", otlpJSON, []byte(strings.Replace(browserJSON, `"name":"POST`, `"sql":"DROP TABLE","name":"POST`, 1))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeTraces(tt.format, tt.body)
			var e *httpx.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "invalid_otlp" {
				t.Errorf("got %v, want 400 invalid_otlp", err)
			}
		})
	}
}

func TestOTLPFormat(t *testing.T) {
	for ct, ok := range map[string]bool{
		"application/x-protobuf": true, "application/json": true, "application/json; charset=utf-8": true,
		"": false, "text/plain": false, "application/x-www-form-urlencoded": false, "multipart/form-data; boundary=x": false,
		"application/grpc": false, "application/protobuf": false, "application/json-seq": false,
	} {
		_, err := otlpFormat(http.Header{"Content-Type": {ct}})
		if (err == nil) != ok {
			t.Errorf("Content-Type %q: %v", ct, err)
		}
	}
	if _, err := otlpFormat(http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}); !errors.Is(err, errTracesEncoding) {
		t.Errorf("gzip: %v", err)
	}
}
