// Package rabbit is the shop's messaging over RabbitMQ (amqp091-go): a publisher that
// waits for broker confirms and reconnects after a broker outage, a consumer that
// acknowledges only after its handler succeeds, retries a failed message a bounded
// number of times through a delay queue and then dead-letters it, and trace context
// carried in message headers with producer and consumer spans per the messaging
// semantic conventions.
package rabbit

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

const scope = "github.com/otelshop/shop/internal/rabbit"

// headerCarrier lets a propagator read and write AMQP message headers.
type headerCarrier amqp.Table

var _ propagation.TextMapCarrier = headerCarrier{}

func (c headerCarrier) Get(key string) string {
	if v, ok := c[key].(string); ok {
		return v
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { c[key] = value }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

func messagingAttrs(exchange, routingKey, messageID string) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.MessagingSystemRabbitMQ,
		semconv.MessagingDestinationName(exchange),
		semconv.MessagingRabbitMQDestinationRoutingKey(routingKey),
		semconv.MessagingMessageID(messageID),
	}
}

// session is one connection and channel, replaced whole when either closes.
type session struct {
	conn    *amqp.Connection
	ch      *amqp.Channel
	returns chan amqp.Return // unroutable mandatory messages, for publishers
}

func (s *session) close() {
	if s.ch != nil {
		s.ch.Close()
	}
	if s.conn != nil {
		s.conn.Close()
	}
}

// dialer opens sessions lazily and drops them when broken, so callers simply retry.
type dialer struct {
	url     string
	name    string
	prepare func(*amqp.Channel) error // declare topology, set QoS, enable confirms

	mu  sync.Mutex
	cur *session
}

func (d *dialer) get() (*session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur != nil && !d.cur.conn.IsClosed() && !d.cur.ch.IsClosed() {
		return d.cur, nil
	}
	if d.cur != nil {
		d.cur.close()
		d.cur = nil
	}
	cfg := amqp.Config{Properties: amqp.NewConnectionProperties()}
	cfg.Properties.SetClientConnectionName(d.name)
	conn, err := amqp.DialConfig(d.url, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to rabbitmq: %w", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if d.prepare != nil {
		if err := d.prepare(ch); err != nil {
			ch.Close()
			conn.Close()
			return nil, err
		}
	}
	d.cur = &session{conn: conn, ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, 1))}
	return d.cur, nil
}

// drop discards a session that failed, unless it was replaced already.
func (d *dialer) drop(s *session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == s {
		d.cur.close()
		d.cur = nil
	}
}

func (d *dialer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur != nil {
		d.cur.close()
		d.cur = nil
	}
}

// Ping reports whether the broker is reachable, for readiness.
func Ping(ctx context.Context, url string) error {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(deadlineOf(ctx))})
	if err != nil {
		return err
	}
	return conn.Close()
}
