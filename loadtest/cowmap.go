package loadtest

import (
	"maps"
	"sync"
	"sync/atomic"
)

// cowMap is read on every request and written only when a key first appears: readers
// load the current map without a lock; a writer publishes a copy with the new key.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[K]V]
}

func (c *cowMap[K, V]) load(key K) (V, bool) {
	var zero V
	m := c.m.Load()
	if m == nil {
		return zero, false
	}
	v, ok := (*m)[key]
	return v, ok
}

// loadOrCreate returns the value for key, creating and publishing it on first use.
func (c *cowMap[K, V]) loadOrCreate(key K, create func() V) V {
	if v, ok := c.load(key); ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.load(key); ok {
		return v
	}
	next := map[K]V{}
	if m := c.m.Load(); m != nil {
		maps.Copy(next, *m)
	}
	v := create()
	next[key] = v
	c.m.Store(&next)
	return v
}

// snapshot returns the current map; callers must not modify it.
func (c *cowMap[K, V]) snapshot() map[K]V {
	if m := c.m.Load(); m != nil {
		return *m
	}
	return nil
}
