package users

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelshop/shop/internal/auth"
)

// keyring holds users' signing keys, kept in its own database so that every
// replica signs with the same ones: the newest signs; every key young enough to
// have signed a token that has not expired is published.
type keyring struct {
	db          *pgxpool.Pool
	rotateEvery time.Duration // a key older than this is replaced
	maxTokenTTL time.Duration // the longest any token lives

	published *auth.KeySet
	mu        sync.RWMutex
	signer    *auth.Signer
}

func newKeyring(ctx context.Context, db *pgxpool.Pool, rotateEvery, maxTokenTTL time.Duration) (*keyring, error) {
	published, err := auth.NewKeySet(ctx, nil)
	if err != nil {
		return nil, err
	}
	k := &keyring{db: db, rotateEvery: rotateEvery, maxTokenTTL: maxTokenTTL, published: published}
	return k, k.refresh(ctx)
}

// refresh makes a new key when the newest is due (one replica does, under a
// transaction lock), drops the keys nothing valid was signed with any more, and
// loads the rest.
func (k *keyring) refresh(ctx context.Context) error {
	type row struct {
		kid     string
		seed    []byte
		created time.Time
	}
	var keys []row
	err := pgx.BeginFunc(ctx, k.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7312005)`); err != nil {
			return err
		}
		var due bool
		if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM signing_keys WHERE created_at > now() - $1::interval)`,
			k.rotateEvery.String()).Scan(&due); err != nil {
			return fmt.Errorf("look at signing keys: %w", err)
		}
		if due {
			seed := make([]byte, ed25519.SeedSize)
			if _, err := rand.Read(seed); err != nil {
				return err
			}
			id := make([]byte, 8)
			_, _ = rand.Read(id)
			if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (kid, seed) VALUES ($1, $2)`, hex.EncodeToString(id), seed); err != nil {
				return fmt.Errorf("make a signing key: %w", err)
			}
		}
		// A key replaced longer ago than any token lives signed nothing still valid.
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE created_at < now() - $1::interval`,
			(k.rotateEvery + k.maxTokenTTL).String()); err != nil {
			return fmt.Errorf("drop old signing keys: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT kid, seed, created_at FROM signing_keys ORDER BY created_at DESC`)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.kid, &x.seed, &x.created)
		})
		return err
	})
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("no signing key")
	}
	public := make([]auth.PublicKey, len(keys))
	for i, key := range keys {
		public[i] = auth.PublicKey{KeyID: key.kid, Key: ed25519.NewKeyFromSeed(key.seed).Public().(ed25519.PublicKey)}
	}
	if err := k.published.Replace(ctx, public); err != nil {
		return err
	}
	k.mu.Lock()
	k.signer = auth.NewSigner(keys[0].kid, ed25519.NewKeyFromSeed(keys[0].seed))
	k.mu.Unlock()
	return nil
}

// current is the signer of the newest key.
func (k *keyring) current() *auth.Signer {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.signer
}

// verifier checks tokens against the published keys: users' own, without asking
// itself over HTTP.
func (k *keyring) verifier() *auth.Verifier { return auth.NewVerifier(k.published.Keyfunc()) }
