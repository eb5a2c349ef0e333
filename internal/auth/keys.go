package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// JWKSPath is where users publishes its public keys.
const JWKSPath = "/.well-known/jwks.json"

// PublicKey is a verification key and its key id.
type PublicKey struct {
	KeyID string
	Key   ed25519.PublicKey
}

// KeySet holds public keys for verification: users' own, from its database.
type KeySet struct{ storage jwkset.Storage }

// NewKeySet returns a key set holding keys.
func NewKeySet(ctx context.Context, keys []PublicKey) (*KeySet, error) {
	ks := &KeySet{storage: jwkset.NewMemoryStorage()}
	return ks, ks.Replace(ctx, keys)
}

// Replace makes keys the whole set (after a rotation).
func (ks *KeySet) Replace(ctx context.Context, keys []PublicKey) error {
	jwks := make([]jwkset.JWK, 0, len(keys))
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.Key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			KID: k.KeyID, ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig,
		}})
		if err != nil {
			return fmt.Errorf("public key %s: %w", k.KeyID, err)
		}
		jwks = append(jwks, jwk)
	}
	return ks.storage.KeyReplaceAll(ctx, jwks)
}

// JSON is the set as a JWKS document, public parts only.
func (ks *KeySet) JSON(ctx context.Context) (json.RawMessage, error) {
	return ks.storage.JSONPublic(ctx)
}

// Keyfunc verifies with the set's keys.
func (ks *KeySet) Keyfunc() jwt.Keyfunc { return lookup(ks.storage) }

// lookup finds a token's verification key by its kid: an Ed25519 key for EdDSA,
// published for signatures.
func lookup(storage jwkset.Storage) jwt.Keyfunc {
	return func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("the token names no key")
		}
		jwk, err := storage.KeyRead(context.Background(), kid)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, errUnknownKey)
		}
		m := jwk.Marshal()
		if m.ALG != jwkset.AlgEdDSA || (m.USE != "" && m.USE != jwkset.UseSig) {
			return nil, fmt.Errorf("key %q is not an EdDSA signing key", kid)
		}
		key, ok := jwk.Key().(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("key %q is not an Ed25519 public key", kid)
		}
		return key, nil
	}
}

var errUnknownKey = errors.New("unknown key")

// RemoteKeys follows users' published keys. Nothing is fetched until a token
// needs a key: a service may start before users. A key id not seen yet (a new
// key after a rotation, or the first token) fetches the set again, at most every
// second and one fetch at a time; the set is also fetched every ten minutes, so
// retired keys leave. The fetches of the background refresh stop when ctx ends.
type RemoteKeys struct {
	url    string
	hc     *http.Client
	logger *slog.Logger
	keys   jwkset.Storage
	now    func() time.Time

	mu        sync.Mutex // one fetch at a time
	lastFetch time.Time
}

// NewRemoteKeys follows the keys users publishes at usersURL.
func NewRemoteKeys(ctx context.Context, usersURL string, hc *http.Client, logger *slog.Logger) *RemoteKeys {
	rk := &RemoteKeys{url: usersURL + JWKSPath, hc: hc, logger: logger, keys: jwkset.NewMemoryStorage(), now: time.Now}
	go func() {
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := rk.fetch(ctx, 0); err != nil && ctx.Err() == nil {
					logger.WarnContext(ctx, "could not refresh the issuer's public keys", "url", rk.url, "error", err)
				}
			}
		}
	}()
	return rk
}

// Keyfunc finds a token's key, fetching the set when the key is not known yet.
func (rk *RemoteKeys) Keyfunc() jwt.Keyfunc {
	known := lookup(rk.keys)
	return func(tok *jwt.Token) (any, error) {
		key, err := known(tok)
		if !errors.Is(err, errUnknownKey) {
			return key, err
		}
		if ferr := rk.fetch(context.Background(), time.Second); ferr != nil {
			rk.logger.Warn("could not fetch the issuer's public keys", "url", rk.url, "error", ferr)
		}
		return known(tok)
	}
}

// fetch replaces the keys with the published set, unless one was fetched less
// than minGap ago.
func (rk *RemoteKeys) fetch(ctx context.Context, minGap time.Duration) error {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	if minGap > 0 && rk.now().Sub(rk.lastFetch) < minGap {
		return nil
	}
	rk.lastFetch = rk.now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rk.url, nil)
	if err != nil {
		return err
	}
	resp, err := rk.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", rk.url, resp.StatusCode)
	}
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("%s is not a JWKS: %w", rk.url, err)
	}
	jwks, err := set.JWKSlice()
	if err != nil {
		return fmt.Errorf("%s: %w", rk.url, err)
	}
	return rk.keys.KeyReplaceAll(ctx, jwks)
}
