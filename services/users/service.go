// Package users owns shoppers' accounts and the shop's identity: registration with
// bcrypt-hashed passwords, login that issues an access token, the current user's
// profile, and the issuer of every token in the shop: it signs end users' and
// services' tokens with Ed25519 keys kept in its database, rotates them, and
// publishes the public keys (JWKS) that every service verifies with. PostgreSQL
// database shop_users.
package users

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/httpx"
	"github.com/otelshop/shop/internal/service"
)

const scope = "github.com/otelshop/shop/services/users"

// Config is what the users service reads.
type Config struct {
	TokenTTL    time.Duration // an end user's access token
	KeyRotation time.Duration // how long a signing key signs before a new one takes over
	BcryptCost  int
	// BcryptWorkers bound the hashes computed at once, so that a flood of logins
	// cannot take every core from the other routes.
	BcryptWorkers int
	// BcryptCPUShare is the share of the process's cores (GOMAXPROCS) that hashing
	// may take on average: the bound on what a flood from any number of clients
	// costs the other routes. Beyond it, logins and registrations wait up to a
	// second, then are refused as busy (503).
	BcryptCPUShare float64
}

// Service is the users service as the registry lists it.
var Service = service.Definition{
	Name: "users", Port: 8081, Protocol: service.HTTP,
	Summary: "accounts, login and the token issuer",
	Stores:  []service.Store{service.Postgres},
	Load: func(env *service.Env) service.Runner {
		return service.With(run, Config{
			TokenTTL:      env.PositiveDuration("TOKEN_TTL", time.Hour),
			KeyRotation:   env.PositiveDuration("KEY_ROTATION", 30*24*time.Hour),
			BcryptCost:    env.Int("BCRYPT_COST", 10, 4, 14),
			BcryptWorkers: env.Int("BCRYPT_WORKERS", max(1, runtime.GOMAXPROCS(0)/2), 1, 64),
			// 0.3 of 2 cores is about 10 hashes a second at cost 10 (measured under a
			// flood), some twice what the drills' 12 sessions a second ask for by the
			// load's scenario mix (about half a sign-in per session).
			BcryptCPUShare: env.Float("BCRYPT_CPU_SHARE", 0.3, 0.01, 1),
		})
	},
}

func run(ctx context.Context, rt service.Runtime, cfg Config) error {
	tel := rt.Telemetry
	db, err := rt.Postgres(ctx, migrationFiles)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	defer db.Close()
	keys, err := newKeyring(ctx, db, cfg.KeyRotation, max(cfg.TokenTTL, auth.ServiceTokenTTL))
	if err != nil {
		return fmt.Errorf("users: signing keys: %w", err)
	}
	verifier := keys.verifier()
	clients, err := newClients(rt.SecretsDir)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	s := newServer(store{db}, keys, clients, auth.Guard{Verifier: verifier}, cfg, tel)

	var wg sync.WaitGroup
	bg, stop := context.WithCancel(ctx)
	// Replicas learn of a key another one made within the hour; verifiers refresh
	// on an unknown key id at once.
	wg.Go(func() {
		service.Every(bg, time.Hour, nil, func(ctx context.Context) {
			if err := keys.refresh(ctx); err != nil && ctx.Err() == nil {
				tel.Logger.Warn("refresh signing keys", "error", err)
			}
		})
	})
	err = rt.ServeHTTP(ctx, httpx.Handler(tel, s.routes, map[string]httpx.Check{"postgres": db.Ping}))
	stop()
	wg.Wait()
	return err
}
