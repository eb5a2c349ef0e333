package shopper

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/otelshop/shop/loadtest/internal/gateway"
)

// Catalog is the shop's product ids and search words as the generator knows them:
// discovered before the run, topped up from listings the sessions see. Its order is the
// popularity rank the Zipf draw uses.
type Catalog struct {
	mu         sync.RWMutex
	ids        []string
	known      map[string]struct{}
	max        int
	categories []string // set once, before the run
	words      []string
	wordSet    map[string]struct{}
}

const maxSearchWords = 500

// NewCatalog is an empty catalog of at most maxProducts ids, for a run whose discovery
// found nothing: sessions fill it from the listings they see.
func NewCatalog(maxProducts int) *Catalog {
	return &Catalog{known: map[string]struct{}{}, max: maxProducts, wordSet: map[string]struct{}{}}
}

// discoveryBudget bounds the set-up before the run, so a hanging target cannot delay
// the run indefinitely.
const discoveryBudget = 15 * time.Second

// Discover pages through the shop's catalog before the run, up to maxProducts. The
// order is shuffled with the run's seed so popularity does not follow SKU order, yet a
// run can be repeated. On an error the catalog is empty.
func Discover(ctx context.Context, client *gateway.Client, seed uint64, maxProducts int) (*Catalog, error) {
	ctx, cancel := context.WithTimeout(ctx, discoveryBudget)
	defer cancel()
	var categories []string
	if err := client.Do(ctx, gateway.Categories(&categories)); err != nil {
		return NewCatalog(maxProducts), fmt.Errorf("list categories: %w", err)
	}
	var found []gateway.Product
	for page := 1; len(found) < maxProducts; page++ {
		var p gateway.ProductPage
		if err := client.Do(ctx, gateway.ListProducts(gateway.ListQuery{Page: page, Size: 100}, &p)); err != nil {
			return NewCatalog(maxProducts), fmt.Errorf("list products page %d: %w", page, err)
		}
		found = append(found, p.Products...)
		size := max(p.PageSize, len(p.Products))
		if len(p.Products) == 0 || size == 0 || page*size >= p.Total {
			break
		}
	}
	rand.New(rand.NewPCG(seed, 1)).Shuffle(len(found), func(i, j int) { found[i], found[j] = found[j], found[i] })
	c := NewCatalog(maxProducts)
	c.categories = categories
	for _, p := range found {
		c.addLocked(p) // not shared yet
	}
	return c, nil
}

// Products returns the ids by rank. The slice is only ever appended to, so handing out
// the current header is safe without copying.
func (c *Catalog) Products() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ids
}

// Categories returns the category names discovery found.
func (c *Catalog) Categories() []string { return c.categories }

// observe adds products a listing showed; new ones rank after the known ones.
func (c *Catalog) observe(ps []gateway.Product) {
	c.mu.RLock()
	fresh := false
	for _, p := range ps {
		if _, ok := c.known[p.ID]; !ok {
			fresh = true
			break
		}
	}
	c.mu.RUnlock()
	if !fresh {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		c.addLocked(p)
	}
}

// addLocked adds one product; callers hold mu or have not shared the catalog yet.
func (c *Catalog) addLocked(p gateway.Product) {
	if _, ok := c.known[p.ID]; ok || len(c.ids) >= c.max {
		return
	}
	c.known[p.ID] = struct{}{}
	// Appending (never reallocating in place) keeps earlier snapshots valid.
	c.ids = append(c.ids, p.ID)
	for w := range strings.FieldsFuncSeq(strings.ToLower(p.Name), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len(w) < 4 || len(c.words) >= maxSearchWords {
			continue
		}
		if _, ok := c.wordSet[w]; !ok {
			c.wordSet[w] = struct{}{}
			c.words = append(c.words, w)
		}
	}
}

// fallbackWords are searched when the catalog gave no names, and now and then anyway:
// real shoppers search for things the shop does not have.
var fallbackWords = []string{"shirt", "coffee", "lamp", "notebook", "headphones", "mug", "backpack", "sneakers", "umbrella", "chair"}

func (c *Catalog) searchWord(r *rand.Rand) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.words) == 0 || r.IntN(5) == 0 {
		return fallbackWords[r.IntN(len(fallbackWords))]
	}
	return c.words[r.IntN(len(c.words))]
}
