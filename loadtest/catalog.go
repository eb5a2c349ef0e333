package loadtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode"
)

// catalog is the shop's product ids and search words as the generator knows them:
// discovered before the run, topped up from listings the sessions see. Its order is the
// popularity rank the Zipf draw uses.
type catalog struct {
	mu         sync.RWMutex
	ids        []string
	known      map[string]struct{}
	max        int
	categories []string
	words      []string
	wordSet    map[string]struct{}
}

const maxSearchWords = 500

func newCatalog(maxProducts int) *catalog {
	return &catalog{known: map[string]struct{}{}, max: maxProducts, wordSet: map[string]struct{}{}}
}

// snapshot returns the ids by rank. The slice is only ever appended to, so handing out
// the current header is safe without copying.
func (c *catalog) snapshot() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ids
}

func (c *catalog) categoryNames() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.categories
}

// observe adds products a listing showed; new ones rank after the known ones.
func (c *catalog) observe(ps []product) {
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

func (c *catalog) addLocked(p product) {
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

func (c *catalog) searchWord(r *rand.Rand) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.words) == 0 || r.IntN(5) == 0 {
		return fallbackWords[r.IntN(len(fallbackWords))]
	}
	return c.words[r.IntN(len(c.words))]
}

// discover pages through the catalog before the run. The order is shuffled with the
// run's seed so popularity does not follow SKU order, yet a run can be repeated.
func (r *runner) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, discoveryBudget)
	defer cancel()
	s := r.newSession("discovery", rand.New(rand.NewPCG(r.cfg.seed, 0)))
	s.setup = ctx
	cats, err := s.categories()
	if err != nil {
		return fmt.Errorf("list categories: %w", err)
	}
	var found []product
	for page := 1; len(found) < r.cfg.maxProducts; page++ {
		p, err := s.listProducts(listQuery{page: page, size: 100})
		if err != nil {
			return fmt.Errorf("list products page %d: %w", page, err)
		}
		found = append(found, p.Products...)
		size := max(p.PageSize, len(p.Products))
		if len(p.Products) == 0 || size == 0 || page*size >= p.Total {
			break
		}
	}
	rand.New(rand.NewPCG(r.cfg.seed, 1)).Shuffle(len(found), func(i, j int) { found[i], found[j] = found[j], found[i] })
	r.catalog.mu.Lock()
	defer r.catalog.mu.Unlock()
	r.catalog.categories = cats
	for _, p := range found {
		r.catalog.addLocked(p)
	}
	return nil
}

// account is a shopper's credentials.
type account struct {
	email, password, name string
	hasOrders             bool
}

// accounts lends registered accounts to sessions one at a time, so two sessions never
// share a cart and trip over each other's changes. Bounded: beyond max, accounts are
// forgotten.
type accounts struct {
	mu   sync.Mutex
	idle []*account
	max  int
}

func newAccounts(max int) *accounts { return &accounts{max: max} }

// take lends an idle account, preferring one with orders when asked.
func (a *accounts) take(r *rand.Rand, wantOrders bool) (*account, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.idle) == 0 {
		return nil, false
	}
	i := r.IntN(len(a.idle))
	if wantOrders {
		for j := range a.idle {
			if k := (i + j) % len(a.idle); a.idle[k].hasOrders {
				i = k
				break
			}
		}
	}
	acc := a.idle[i]
	a.idle[i] = a.idle[len(a.idle)-1]
	a.idle = a.idle[:len(a.idle)-1]
	return acc, true
}

func (a *accounts) give(acc *account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.idle) < a.max {
		a.idle = append(a.idle, acc)
	}
}

func randomHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Radia"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra", "Perlman"}
)

type address struct{ line1, city, postalCode, country string }

// addresses are real-looking shipping addresses in the shop's likely markets.
var addresses = []address{
	{"221B Baker Street", "London", "NW1 6XE", "GB"},
	{"1600 Amphitheatre Parkway", "Mountain View", "94043", "US"},
	{"Unter den Linden 77", "Berlin", "10117", "DE"},
	{"8 Rue de Rivoli", "Paris", "75004", "FR"},
	{"Keizersgracht 123", "Amsterdam", "1015 CJ", "NL"},
	{"350 Bourke Street", "Melbourne", "3000", "AU"},
	{"Via del Corso 12", "Roma", "00186", "IT"},
}

// newAccount makes credentials no earlier run or other session can have taken: the run
// id says which run made the account, the nonce keeps a repeated -run-id from
// colliding with accounts of an earlier run against the same database.
func (r *runner) newAccount(rng *rand.Rand) *account {
	n := r.accountSeq.Add(1)
	return &account{
		email:    strings.ToLower(fmt.Sprintf("loadgen+%s-%s-%d@example.com", r.cfg.runID, r.emailNonce, n)),
		password: randomHex(rng, 12),
		name:     firstNames[rng.IntN(len(firstNames))] + " " + lastNames[rng.IntN(len(lastNames))],
	}
}

// discoveryBudget bounds the set-up before the run, so a hanging target cannot delay
// the run indefinitely.
const discoveryBudget = 15 * time.Second
