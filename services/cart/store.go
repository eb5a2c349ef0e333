package cart

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Item is a product in a cart and how many of it.
type Item struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Cart is a user's cart, items ordered by product id. Version changes with every
// change of the cart and never repeats for a user: a checkout of the same version
// is the same checkout.
type Cart struct {
	Items   []Item `json:"items"`
	Version int64  `json:"version"`
}

const (
	// MaxQuantity bounds the units of one product in a cart.
	MaxQuantity = 99
	// MaxItems bounds the distinct products in a cart.
	MaxItems = 50
	// cartTTL: a cart untouched this long is forgotten.
	cartTTL = 30 * 24 * time.Hour
)

var (
	errTooMany    = errors.New("too many units")
	errCartFull   = errors.New("cart full")
	errNotInCart  = errors.New("not in cart")
	errWrongShape = errors.New("unexpected script answer")
)

// store keeps each cart in one Redis hash, product id → quantity, and beside it a
// counter that every change increments (kept when the cart is cleared).
type store struct {
	rdb    *redis.Client
	prefix string
}

func (s store) keys(userID string) []string {
	return []string{s.prefix + "cart:" + userID, s.prefix + "cart-version:" + userID}
}

// addScript adds units atomically, refusing to pass MaxQuantity or MaxItems.
// Returns the new quantity, -1 when the quantity would pass the bound, -2 when full.
var addScript = redis.NewScript(`
local exists = redis.call('HEXISTS', KEYS[1], ARGV[1])
if exists == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return -2 end
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local wanted = current + tonumber(ARGV[2])
if wanted > tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], wanted)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return wanted
`)

func (s store) add(ctx context.Context, userID, productID string, qty int) error {
	n, err := addScript.Run(ctx, s.rdb, s.keys(userID), productID, qty, MaxQuantity, MaxItems, cartTTL.Milliseconds()).Int()
	switch {
	case err != nil:
		return fmt.Errorf("add to cart: %w", err)
	case n == -1:
		return errTooMany
	case n == -2:
		return errCartFull
	case n < 1:
		return errWrongShape
	}
	return nil
}

// setScript changes the quantity of a product already in the cart.
var setScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

func (s store) set(ctx context.Context, userID, productID string, qty int) error {
	n, err := setScript.Run(ctx, s.rdb, s.keys(userID), productID, qty, cartTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("set cart quantity: %w", err)
	}
	if n == 0 {
		return errNotInCart
	}
	return nil
}

// removeScript drops a product from the cart.
var removeScript = redis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`)

func (s store) remove(ctx context.Context, userID, productID string) error {
	n, err := removeScript.Run(ctx, s.rdb, s.keys(userID), productID, cartTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("remove from cart: %w", err)
	}
	if n == 0 {
		return errNotInCart
	}
	return nil
}

// clearScript empties the cart; the version goes on counting.
var clearScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
`)

func (s store) clear(ctx context.Context, userID string) error {
	if err := clearScript.Run(ctx, s.rdb, s.keys(userID), cartTTL.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("clear cart: %w", err)
	}
	return nil
}

func (s store) get(ctx context.Context, userID string) (Cart, error) {
	keys := s.keys(userID)
	pipe := s.rdb.Pipeline()
	fieldsCmd := pipe.HGetAll(ctx, keys[0])
	versionCmd := pipe.Get(ctx, keys[1])
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Cart{}, fmt.Errorf("read cart: %w", err)
	}
	fields := fieldsCmd.Val()
	c := Cart{Items: make([]Item, 0, len(fields))}
	if v := versionCmd.Val(); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Cart{}, fmt.Errorf("read cart: version is %q", v)
		}
		c.Version = n
	}
	for id, q := range fields {
		n, err := strconv.Atoi(q)
		if err != nil {
			return Cart{}, fmt.Errorf("read cart: quantity of %s is %q", id, q)
		}
		c.Items = append(c.Items, Item{ProductID: id, Quantity: n})
	}
	sort.Slice(c.Items, func(i, j int) bool { return c.Items[i].ProductID < c.Items[j].ProductID })
	return c, nil
}
