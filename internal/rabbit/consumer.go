package rabbit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/telemetry"
)

// ErrPoison marks a message that can never be handled (it does not parse, say); it goes
// to the dead-letter queue at once instead of being retried.
var ErrPoison = errors.New("poison message")

// Subscription is a durable queue bound to an exchange, with its retry and dead-letter
// queues:
//
//	exchange --key--> Queue --reject--> Queue.retry (waits RetryDelay) --> Queue
//	                    \--after MaxAttempts, or poison--> Queue.dlq
type Subscription struct {
	Exchange    string
	RoutingKey  string
	Queue       string
	MaxAttempts int
	RetryDelay  time.Duration
	Prefetch    int
	Workers     int
}

func (s Subscription) retryExchange() string { return s.Queue + ".retry" }
func (s Subscription) retryQueue() string    { return s.Queue + ".retry" }

// DeadLetterQueue is where messages go that could not be handled.
func (s Subscription) DeadLetterQueue() string { return s.Queue + ".dlq" }

// Declare creates the subscription's exchanges, queues and bindings; declaring again
// is harmless.
func (s Subscription) Declare(ch *amqp.Channel) error {
	if err := DeclareExchange(ch, s.Exchange); err != nil {
		return err
	}
	if err := ch.ExchangeDeclare(s.retryExchange(), amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare %s: %w", s.retryExchange(), err)
	}
	steps := []struct {
		name string
		args amqp.Table
	}{
		{s.Queue, amqp.Table{"x-dead-letter-exchange": s.retryExchange()}},
		{s.retryQueue(), amqp.Table{
			"x-message-ttl":             s.RetryDelay.Milliseconds(),
			"x-dead-letter-exchange":    "",
			"x-dead-letter-routing-key": s.Queue,
		}},
		{s.DeadLetterQueue(), nil},
	}
	for _, q := range steps {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			return fmt.Errorf("declare queue %s: %w", q.name, err)
		}
	}
	if err := ch.QueueBind(s.Queue, s.RoutingKey, s.Exchange, false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", s.Queue, err)
	}
	if err := ch.QueueBind(s.retryQueue(), "", s.retryExchange(), false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", s.retryQueue(), err)
	}
	return nil
}

// Handler handles one message. Returning nil acknowledges it, so return only once its
// effects are committed; a duplicate delivery must be harmless.
type Handler func(ctx context.Context, d amqp.Delivery) error

// Consume runs the subscription until ctx ends, reconnecting with backoff whenever the
// broker goes away, and returns after the messages in hand are finished.
func Consume(ctx context.Context, url string, sub Subscription, tel *telemetry.Telemetry, handle Handler) error {
	c := &consumer{sub: sub, tel: tel, tracer: tel.Tracer(scope), handle: handle}
	c.processed, _ = tel.Meter(scope).Int64Counter("shop.messaging.processed",
		metric.WithDescription("Messages handled, by queue and outcome (acked, retried, dead_lettered)."))
	d := &dialer{url: url, name: tel.ServiceName + " consumer", prepare: func(ch *amqp.Channel) error {
		if err := sub.Declare(ch); err != nil {
			return err
		}
		return ch.Qos(max(sub.Prefetch, 1), 0, false)
	}}
	defer d.close()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		s, err := d.get()
		if err == nil {
			backoff = 100 * time.Millisecond
			err = c.run(ctx, s)
			d.drop(s)
		}
		if ctx.Err() != nil {
			break
		}
		tel.Logger.Warn("rabbitmq consumer lost its connection; reconnecting", "queue", sub.Queue, "error", err, "backoff", backoff.String())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

type consumer struct {
	sub       Subscription
	tel       *telemetry.Telemetry
	tracer    trace.Tracer
	handle    Handler
	processed metric.Int64Counter
}

// run consumes on one session until it breaks or ctx ends.
func (c *consumer) run(ctx context.Context, s *session) error {
	deliveries, err := s.ch.ConsumeWithContext(ctx, c.sub.Queue, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.sub.Queue, err)
	}
	closed := s.ch.NotifyClose(make(chan *amqp.Error, 1))
	var wg sync.WaitGroup
	for range max(c.sub.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range deliveries {
				c.deliver(ctx, s.ch, d)
			}
		}()
	}
	select {
	case <-ctx.Done():
		// Stop new deliveries; the workers finish what they hold, then the range ends.
		_ = s.ch.Cancel("", false)
		wg.Wait()
		return nil
	case err := <-closed:
		wg.Wait()
		return fmt.Errorf("channel closed: %v", err)
	}
}

// deliver handles one message in a consumer span continuing the producer's trace.
func (c *consumer) deliver(ctx context.Context, ch *amqp.Channel, d amqp.Delivery) {
	parent := c.tel.Propagator.Extract(ctx, headerCarrier(d.Headers))
	attempt := attempts(d, c.sub.Queue) + 1
	// Named by what was subscribed to: a retried message comes back from the delay
	// queue with the queue's name as its routing key.
	ctx, span := c.tracer.Start(parent, "process "+c.sub.RoutingKey,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(messagingAttrs(d.Exchange, d.RoutingKey, d.MessageId)...),
		trace.WithAttributes(
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingConsumerGroupName(c.sub.Queue),
			semconv.MessagingMessageBodySize(len(d.Body)),
			attribute.Int("messaging.rabbitmq.delivery_attempt", attempt),
		))
	defer span.End()

	err := c.handle(ctx, d)
	outcome := "acked"
	switch {
	case err == nil:
		err = d.Ack(false)
	case errors.Is(err, ErrPoison) || attempt >= c.sub.MaxAttempts:
		outcome = "dead_lettered"
		span.RecordError(err)
		span.SetStatus(codes.Error, outcome)
		c.tel.Logger.ErrorContext(ctx, "message dead-lettered", "queue", c.sub.Queue, "message_id", d.MessageId, "attempt", attempt, "error", err)
		err = c.deadLetter(ctx, ch, d, err)
	default:
		outcome = "retried"
		span.RecordError(err)
		span.SetStatus(codes.Error, outcome)
		c.tel.Logger.WarnContext(ctx, "message handling failed; will retry", "queue", c.sub.Queue, "message_id", d.MessageId, "attempt", attempt, "error", err)
		err = d.Reject(false) // to the retry queue, through the dead-letter exchange
	}
	if err != nil {
		// The channel broke; the broker redelivers what was not acknowledged.
		c.tel.Logger.WarnContext(ctx, "settle message", "message_id", d.MessageId, "error", err)
	}
	c.processed.Add(ctx, 1, metric.WithAttributes(attribute.String("queue", c.sub.Queue), attribute.String("outcome", outcome)))
}

// deadLetter copies d to the dead-letter queue with the reason, then acknowledges it.
func (c *consumer) deadLetter(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, cause error) error {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	headers["x-shop-dead-letter-reason"] = cause.Error()
	err := ch.PublishWithContext(ctx, "", c.sub.DeadLetterQueue(), false, false, amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, DeliveryMode: amqp.Persistent,
		MessageId: d.MessageId, Type: d.Type, Timestamp: d.Timestamp, Body: d.Body,
	})
	if err != nil {
		return d.Reject(false)
	}
	return d.Ack(false)
}

// attempts counts how often the message was rejected from queue before, from the
// x-death header RabbitMQ maintains when dead-lettering.
func attempts(d amqp.Delivery, queue string) int {
	deaths, _ := d.Headers["x-death"].([]any)
	for _, x := range deaths {
		death, ok := x.(amqp.Table)
		if !ok || death["queue"] != queue || death["reason"] != "rejected" {
			continue
		}
		if n, ok := death["count"].(int64); ok {
			return int(n)
		}
	}
	return 0
}
