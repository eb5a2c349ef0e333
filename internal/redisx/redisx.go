// Package redisx opens an instrumented Redis client: a span per command and the
// client's pool metrics.
package redisx

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/otelshop/shop/telemetry"
)

// Open connects to the Redis server url names (redis://host:port/db) and checks
// that it answers.
func Open(ctx context.Context, url string, tel *telemetry.Telemetry) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	rdb := redis.NewClient(opts)
	if err := Instrument(rdb, tel); err != nil {
		rdb.Close()
		return nil, err
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("ping redis: %w", err)
	}
	return rdb, nil
}

// Instrument adds a span per command and the pool metrics to a client, for a caller
// that makes its client with options of its own (the gateway's shared rate limits).
func Instrument(rdb *redis.Client, tel *telemetry.Telemetry) error {
	// Statements stay off spans: their arguments are keys and values (cart contents,
	// cached JSON), which are noise at best and personal at worst. The caller's file
	// and line stay off too: they cost a runtime.Callers walk per command, and the
	// span's parent already says which handler sent it.
	if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tel.TracerProvider),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
		return fmt.Errorf("redis tracing: %w", err)
	}
	if err := redisotel.InstrumentMetrics(rdb, redisotel.WithMeterProvider(tel.MeterProvider), redisotel.WithSemConvCompliantMetrics(true)); err != nil {
		return fmt.Errorf("redis metrics: %w", err)
	}
	return nil
}
