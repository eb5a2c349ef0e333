package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/shoptest"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// TestStack_TelemetryReachesTheBackends sends one span, one metric and one
// log record through the collector, as a shop process would, and finds each
// where the platform promises it: the span in Jaeger, the metric in
// Prometheus, the log in the local-mode file, personal data masked, and the
// spanmetrics RED series under the names Jaeger's Monitor tab queries.
func TestStack_TelemetryReachesTheBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the collector, Jaeger and Prometheus (and builds them on a fresh machine)")
	}
	ctx := t.Context()
	stack := startStack(t, nil)
	for _, b := range stack.Backends() {
		t.Logf("%s pid %d ready after %s", b.Name, b.PID, b.ReadyAfter.Round(time.Millisecond))
	}

	service := "localstack-test-" + shoptest.RandomHex(4)
	res := resource.NewSchemaless(
		semconv.ServiceName(service),
		semconv.ServiceNamespace("shop-test"),
	)
	traceID := sendSpan(t, res)
	sendMetric(t, res)
	sendLog(t, res)

	t.Run("span in Jaeger, email masked", func(t *testing.T) {
		var tags map[string]string
		shoptest.Eventually(t, 30*time.Second, func() error {
			var err error
			tags, err = jaegerSpanTags(ctx, service, traceID)
			return err
		})
		if got := tags["user.email"]; strings.Contains(got, "alice@example.com") {
			t.Errorf("user.email reached Jaeger unmasked: %q", got)
		}
		if got := tags["http.route"]; got != "/api/checkout" {
			t.Errorf("http.route = %q, want the attribute kept as sent", got)
		}
	})

	t.Run("metric in Prometheus", func(t *testing.T) {
		query := fmt.Sprintf(`localstack_test_sends_total{service_name=%q}`, service)
		shoptest.Eventually(t, 30*time.Second, func() error {
			value, err := promQuery(ctx, query)
			if err == nil && value != "3" {
				err = fmt.Errorf("%s = %s, want 3", query, value)
			}
			return err
		})
	})

	t.Run("log in the file, email and card masked", func(t *testing.T) {
		var line string
		shoptest.Eventually(t, 30*time.Second, func() error {
			data, err := os.ReadFile(stack.LogsFile)
			if err != nil {
				return err
			}
			for l := range strings.Lines(string(data)) {
				if strings.Contains(l, service) {
					line = l
					return nil
				}
			}
			return fmt.Errorf("no record of %s in %s yet", service, stack.LogsFile)
		})
		if !strings.Contains(line, "checkout for") {
			t.Errorf("log body lost: %s", line)
		}
		for _, secret := range []string{"alice@example.com", "4242424242424242"} {
			if strings.Contains(line, secret) {
				t.Errorf("log reached the file with %q unmasked: %s", secret, line)
			}
		}
	})

	// The connector flushes every 15s; Jaeger's call rate is a rate(), which
	// needs two samples, hence the longer waits.
	t.Run("spanmetrics under the Monitor tab's names, with exemplars", func(t *testing.T) {
		calls := fmt.Sprintf(`traces_span_metrics_calls_total{service_name=%q,span_name="POST /api/checkout",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET"}`, service)
		shoptest.Eventually(t, 45*time.Second, func() error {
			_, err := promQuery(ctx, calls)
			return err
		})
		bucket := fmt.Sprintf(`traces_span_metrics_duration_milliseconds_bucket{service_name=%q}`, service)
		shoptest.Eventually(t, 15*time.Second, func() error {
			return promExemplarHasTrace(ctx, bucket, traceID)
		})
		shoptest.Eventually(t, 60*time.Second, func() error {
			return jaegerMonitorHasCalls(ctx, service)
		})
	})
}

// startStack starts local mode's backends, each adjusted by adjust when it is
// set, and stops them when the test ends.
func startStack(t *testing.T, adjust func(*Process)) *Stack {
	t.Helper()
	stack, err := Start(t.Context(), Config{Root: repoRoot(t), BuildTools: true, Log: testLog{t}, Adjust: adjust})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := stack.Stop(stopCtx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return stack
}

func sendSpan(t *testing.T, res *resource.Resource) trace.TraceID {
	t.Helper()
	exp, err := otlptracegrpc.New(t.Context(), otlptracegrpc.WithEndpoint(CollectorOTLPGRPC), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatalf("trace exporter: %v", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("localstack_test").Start(t.Context(), "POST /api/checkout",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.route", "/api/checkout"),
			attribute.String("user.email", "alice@example.com"),
		))
	span.End()
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatalf("flush span: %v", err)
	}
	return span.SpanContext().TraceID()
}

func sendMetric(t *testing.T, res *resource.Resource) {
	t.Helper()
	exp, err := otlpmetricgrpc.New(t.Context(), otlpmetricgrpc.WithEndpoint(CollectorOTLPGRPC), otlpmetricgrpc.WithInsecure())
	if err != nil {
		t.Fatalf("metric exporter: %v", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	sends, err := mp.Meter("localstack_test").Int64Counter("localstack.test.sends")
	if err != nil {
		t.Fatalf("counter: %v", err)
	}
	sends.Add(t.Context(), 3)
	if err := mp.Shutdown(t.Context()); err != nil { // exports once more on the way out
		t.Fatalf("flush metric: %v", err)
	}
}

func sendLog(t *testing.T, res *resource.Resource) {
	t.Helper()
	exp, err := otlploggrpc.New(t.Context(), otlploggrpc.WithEndpoint(CollectorOTLPGRPC), otlploggrpc.WithInsecure())
	if err != nil {
		t.Fatalf("log exporter: %v", err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	var rec otellog.Record
	rec.SetTimestamp(time.Now())
	rec.SetSeverity(otellog.SeverityInfo)
	rec.SetBody(attribute.StringValue("checkout for alice@example.com with card 4242424242424242"))
	lp.Logger("localstack_test").Emit(t.Context(), rec)
	if err := lp.Shutdown(t.Context()); err != nil {
		t.Fatalf("flush log: %v", err)
	}
}

// jaegerSpanTags finds the trace through Jaeger's HTTP API and returns the
// tags of its span.
func jaegerSpanTags(ctx context.Context, service string, traceID trace.TraceID) (map[string]string, error) {
	var body struct {
		Data []struct {
			TraceID string `json:"traceID"`
			Spans   []struct {
				Tags []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"tags"`
			} `json:"spans"`
		} `json:"data"`
	}
	if err := shoptest.GetJSON(ctx, JaegerURL+"/api/traces?limit=20&service="+url.QueryEscape(service), &body); err != nil {
		return nil, err
	}
	for _, tr := range body.Data {
		if tr.TraceID != traceID.String() || len(tr.Spans) == 0 {
			continue
		}
		tags := map[string]string{}
		for _, tag := range tr.Spans[0].Tags {
			tags[tag.Key] = fmt.Sprint(tag.Value)
		}
		return tags, nil
	}
	return nil, fmt.Errorf("trace %s of %s not in Jaeger yet (%d traces)", traceID, service, len(body.Data))
}

// jaegerMonitorHasCalls asks Jaeger's Monitor tab API for the service's call
// rate, which Jaeger computes from Prometheus.
func jaegerMonitorHasCalls(ctx context.Context, service string) error {
	var body struct {
		Metrics []struct {
			MetricPoints []json.RawMessage `json:"metricPoints"`
		} `json:"metrics"`
	}
	q := url.Values{
		"service":  {service},
		"endTs":    {strconv.FormatInt(time.Now().UnixMilli(), 10)},
		"lookback": {strconv.Itoa(int((10 * time.Minute).Milliseconds()))},
		"step":     {"15000"},
		"ratePer":  {strconv.Itoa(int((10 * time.Minute).Milliseconds()))},
		"spanKind": {"server"},
	}
	if err := shoptest.GetJSON(ctx, JaegerURL+"/api/metrics/calls?"+q.Encode(), &body); err != nil {
		return err
	}
	if len(body.Metrics) == 0 || len(body.Metrics[0].MetricPoints) == 0 {
		return fmt.Errorf("Jaeger's Monitor API has no call rate for %s yet", service)
	}
	return nil
}

// promQuery runs an instant query and returns the value of its only series.
func promQuery(ctx context.Context, query string) (string, error) {
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := shoptest.GetJSON(ctx, PrometheusURL+"/api/v1/query?query="+url.QueryEscape(query), &body); err != nil {
		return "", err
	}
	if n := len(body.Data.Result); n != 1 {
		return "", fmt.Errorf("%s: %d series, want 1", query, n)
	}
	return fmt.Sprint(body.Data.Result[0].Value[1]), nil
}

func promExemplarHasTrace(ctx context.Context, query string, traceID trace.TraceID) error {
	var body struct {
		Data []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	q := url.Values{
		"query": {query},
		"start": {strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)},
		"end":   {strconv.FormatInt(time.Now().Unix(), 10)},
	}
	if err := shoptest.GetJSON(ctx, PrometheusURL+"/api/v1/query_exemplars?"+q.Encode(), &body); err != nil {
		return err
	}
	for _, series := range body.Data {
		for _, ex := range series.Exemplars {
			if ex.Labels["trace_id"] == traceID.String() {
				return nil
			}
		}
	}
	return fmt.Errorf("no exemplar of %s carries trace_id %s yet", query, traceID)
}

// repoRoot walks up from the package directory to the module root.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "otel-collector.yaml")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no otel-collector.yaml above the test's directory")
		}
		dir = parent
	}
}

// testLog sends the stack's progress messages to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
