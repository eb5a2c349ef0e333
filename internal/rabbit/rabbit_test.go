package rabbit

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Trace context survives the trip through AMQP headers.
func TestHeaderCarrier_CarriesTraceContext(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	headers := amqp.Table{"other": int64(3)}
	prop := propagation.TraceContext{}
	prop.Inject(trace.ContextWithSpanContext(context.Background(), sc), headerCarrier(headers))
	if headers["traceparent"] != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Fatalf("traceparent header %v", headers["traceparent"])
	}
	got := trace.SpanContextFromContext(prop.Extract(context.Background(), headerCarrier(headers)))
	if got.TraceID() != tid || got.SpanID() != sid || !got.IsRemote() {
		t.Errorf("extracted %v, want the injected span context, remote", got)
	}
	if headerCarrier(headers).Get("other") != "" {
		t.Error("a header that is not a string read as one")
	}
}

// Delivery attempts are counted from RabbitMQ's x-death header, for this queue's
// rejections only.
func TestAttempts_FromXDeath(t *testing.T) {
	death := func(queue, reason string, count int64) amqp.Table {
		return amqp.Table{"queue": queue, "reason": reason, "count": count}
	}
	tests := []struct {
		headers amqp.Table
		want    int
	}{
		{nil, 0},
		{amqp.Table{"x-death": []any{death("q", "rejected", 2)}}, 2},
		{amqp.Table{"x-death": []any{death("q.retry", "expired", 2), death("q", "rejected", 4)}}, 4},
		{amqp.Table{"x-death": []any{death("other", "rejected", 9)}}, 0},
		{amqp.Table{"x-death": []any{death("q", "expired", 9)}}, 0},
		{amqp.Table{"x-death": "garbage"}, 0},
	}
	for _, tt := range tests {
		if got := attempts(amqp.Delivery{Headers: tt.headers}, "q"); got != tt.want {
			t.Errorf("attempts(%v) = %d, want %d", tt.headers, got, tt.want)
		}
	}
}

func TestSubscription_Names(t *testing.T) {
	s := Subscription{Queue: "shipping.order-placed"}
	if s.retryQueue() != "shipping.order-placed.retry" || s.retryExchange() != "shipping.order-placed.retry" ||
		s.DeadLetterQueue() != "shipping.order-placed.dlq" {
		t.Errorf("names %s %s %s", s.retryQueue(), s.retryExchange(), s.DeadLetterQueue())
	}
}
