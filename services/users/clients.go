package users

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/otelshop/shop/internal/auth"
)

// clients are the services (and the operators' admin client) users issues
// tokens to, each known by the hash of its secret. A client unknown at first is
// looked for again in the secrets directory, at most every two seconds (a service
// started later made its secret then).
type clients struct {
	dir string

	mu       sync.Mutex
	hashes   map[string][32]byte
	lastRead time.Time
}

func newClients(dir string) (*clients, error) {
	c := &clients{dir: dir, hashes: map[string][32]byte{}}
	if _, err := auth.EnsureSecret(dir, auth.AdminClient); err != nil {
		return nil, err // the operators' client exists from the start, so `shop token admin` works
	}
	return c, c.reload()
}

func (c *clients) reload() error {
	secrets, err := auth.ReadSecrets(c.dir)
	if err != nil {
		return err
	}
	for name, secret := range secrets {
		c.hashes[name] = sha256.Sum256([]byte(secret))
	}
	c.lastRead = time.Now()
	return nil
}

// check says whether secret is client's.
func (c *clients) check(client, secret string) bool {
	given := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	defer c.mu.Unlock()
	want, ok := c.hashes[client]
	if !ok && time.Since(c.lastRead) > 2*time.Second {
		_ = c.reload()
		want, ok = c.hashes[client]
	}
	// Both compared in full whatever happens: the time taken says nothing.
	return subtle.ConstantTimeCompare(given[:], want[:]) == 1 && ok
}
