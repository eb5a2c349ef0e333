package service

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/otelshop/shop/internal/pg"
	"github.com/otelshop/shop/internal/redisx"
)

// Stores are the settings every service shares to reach the stores. Each service
// owns its data: its own database on the server, its own keys and queues.
type Stores struct {
	PostgresURL    string // the server; each service's database is DatabasePrefix + its name
	DatabasePrefix string
	RedisURL       string
	KeyPrefix      string // every Redis key starts with it
	RabbitURL      string
	Exchange       string // the topic exchange events are published on
}

// LoadStores reads the shared store settings.
func LoadStores(env *Env) Stores {
	return Stores{
		PostgresURL:    env.String("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		DatabasePrefix: env.String("POSTGRES_DB_PREFIX", "shop_"),
		RedisURL:       env.String("REDIS_URL", "redis://127.0.0.1:6379/0"),
		KeyPrefix:      env.String("REDIS_KEY_PREFIX", "shop:"),
		RabbitURL:      env.String("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
		Exchange:       env.String("RABBITMQ_EXCHANGE", "shop.events"),
	}
}

// Database is the name of a service's own database.
func (s Stores) Database(service string) string { return s.DatabasePrefix + service }

// Postgres opens the service's own database, creating it and applying its
// migrations/*.sql when needed.
func (rt Runtime) Postgres(ctx context.Context, migrations fs.FS) (*pgxpool.Pool, error) {
	return pg.Open(ctx, rt.Stores.PostgresURL, rt.Stores.Database(rt.Name), migrations, rt.Telemetry)
}

// Redis opens the shared Redis server; the service's keys start with
// Stores.KeyPrefix.
func (rt Runtime) Redis(ctx context.Context) (*redis.Client, error) {
	return redisx.Open(ctx, rt.Stores.RedisURL, rt.Telemetry)
}
