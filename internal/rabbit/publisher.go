package rabbit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/telemetry"
)

// Message is one event to publish.
type Message struct {
	ID         string // messaging.message.id; consumers deduplicate on it
	RoutingKey string
	Body       []byte
	Type       string
}

// Publisher publishes persistent messages to one topic exchange and waits for the
// broker to confirm each, so a message counts as sent only once RabbitMQ has it.
type Publisher struct {
	// mu keeps one message in flight: RabbitMQ sends an unroutable message's return
	// before its confirm, so after the confirm any pending return is this message's.
	mu       sync.Mutex
	exchange string
	dialer   *dialer
	tel      *telemetry.Telemetry
	tracer   trace.Tracer
}

// NewPublisher returns a publisher to exchange (declared durable, topic). It connects
// on first use and again after any failure.
func NewPublisher(url, exchange string, tel *telemetry.Telemetry) *Publisher {
	return &Publisher{
		exchange: exchange,
		tel:      tel,
		tracer:   tel.Tracer(scope),
		dialer: &dialer{url: url, name: tel.ServiceName + " publisher", prepare: func(ch *amqp.Channel) error {
			if err := DeclareExchange(ch, exchange); err != nil {
				return err
			}
			return ch.Confirm(false)
		}},
	}
}

// DeclareExchange declares the durable topic exchange events go through.
func DeclareExchange(ch *amqp.Channel, exchange string) error {
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", exchange, err)
	}
	return nil
}

// Publish sends m in a producer span that is a child of ctx's span, with the trace
// context in the message headers, and returns once the broker confirmed it.
func (p *Publisher) Publish(ctx context.Context, m Message) error {
	ctx, span := p.tracer.Start(ctx, "publish "+m.RoutingKey,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messagingAttrs(p.exchange, m.RoutingKey, m.ID)...),
		trace.WithAttributes(
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("publish"),
			semconv.MessagingMessageBodySize(len(m.Body)),
		))
	defer span.End()
	err := p.publish(ctx, m)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
	}
	return err
}

func (p *Publisher) publish(ctx context.Context, m Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.dialer.get()
	if err != nil {
		return err
	}
	headers := amqp.Table{}
	p.tel.Propagator.Inject(ctx, headerCarrier(headers))
	confirm, err := s.ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, m.RoutingKey, true, false, amqp.Publishing{
		Headers:      headers,
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    m.ID,
		Type:         m.Type,
		Timestamp:    time.Now(),
		Body:         m.Body,
	})
	if err != nil {
		p.dialer.drop(s)
		return fmt.Errorf("publish %s: %w", m.RoutingKey, err)
	}
	ok, err := confirm.WaitContext(ctx)
	if err != nil {
		p.dialer.drop(s)
		return fmt.Errorf("wait for confirm of %s: %w", m.ID, err)
	}
	if !ok {
		return fmt.Errorf("broker refused %s", m.ID)
	}
	select {
	case ret := <-s.returns:
		// No queue is bound for the key yet (its consumer never started): the message
		// would be lost, so it is not sent; the caller keeps it and tries again.
		return fmt.Errorf("%w: %s (%s)", ErrUnroutable, m.RoutingKey, ret.ReplyText)
	default:
	}
	return nil
}

// ErrUnroutable: no queue takes messages with this routing key yet.
var ErrUnroutable = errors.New("no queue bound for routing key")

// Close closes the connection.
func (p *Publisher) Close() { p.dialer.close() }

func deadlineOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return 5 * time.Second
}
