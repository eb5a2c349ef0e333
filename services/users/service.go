// Package users owns shoppers' accounts: registration with bcrypt-hashed passwords,
// login that issues a JWT, and the current user's profile. PostgreSQL database
// shop_users.
package users

import (
	"context"
	"fmt"
	"time"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
)

const scope = "github.com/otelshop/shop/services/users"

// Config is what the users service reads.
type Config struct {
	JWTSecret  string
	TokenTTL   time.Duration
	BcryptCost int
}

// Service is the users service as the registry lists it.
var Service = service.Definition{
	Name: "users", Port: 8081, Protocol: service.HTTP,
	Summary: "accounts and login",
	Stores:  []service.Store{service.Postgres},
	Load: func(env *service.Env) service.Runner {
		cfg := Config{
			JWTSecret:  auth.Secret(env),
			TokenTTL:   env.PositiveDuration("TOKEN_TTL", time.Hour),
			BcryptCost: env.Int("BCRYPT_COST", 10, 4, 14),
		}
		return func(ctx context.Context, rt service.Runtime) error { return run(ctx, rt, cfg) }
	},
}

func run(ctx context.Context, rt service.Runtime, cfg Config) error {
	db, err := rt.Postgres(ctx, migrationFiles)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	defer db.Close()
	tokens, err := auth.NewTokens(cfg.JWTSecret, cfg.TokenTTL)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if auth.IsDevSecret(cfg.JWTSecret) {
		rt.Telemetry.Logger.Warn("JWT_SECRET is not set; using the development secret")
	}
	s := newServer(store{db}, tokens, cfg.BcryptCost, rt.Telemetry)
	return rt.ServeHTTP(ctx, httpx.Handler(rt.Telemetry, s.routes, map[string]httpx.Check{"postgres": db.Ping}))
}
