// Package scaleout proves the shop correct at two replicas of every service: sixteen
// processes on the same stores, each pair behind a round-robin TCP proxy as a
// Kubernetes Service would be, under a checkout-heavy load with checkouts abandoned
// by their clients, while processes are killed with SIGKILL and started again at
// random moments and copies of order.placed are published again (as a relay that
// died after publishing would). An audit every two seconds during the run finds
// nothing wrong whatever lands between its reads; afterwards, once the backstops have
// run, `shop audit` finds no discrepancy, every placed order was shipped exactly
// once, every order.placed a relay published twice was published twice because that
// relay was killed, and every abandoned checkout was claimed by one sweeper.
package scaleout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/audit"
	"github.com/otelshop/shop/internal/auth"
	"github.com/otelshop/shop/internal/demodata"
	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/internal/service"
	"github.com/otelshop/shop/internal/shoptest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("scaleout: skipped with -short (it runs sixteen processes for two minutes)")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const replicasPerService = 2

// How long the load runs, and the backstops' settings for a test of minutes, in the
// proportions of the defaults: a checkout is given up after checkoutTimeout; an
// uncommitted hold expires after reservationTTL (above it: a hold outlives its
// checkout), so that the holds of a checkout whose process died come back by expiry
// first; the checkout is swept as abandoned after pendingTimeout (above both: a
// sweeper must not claim a checkout still running).
const (
	loadDuration    = 40 * time.Second
	checkoutTimeout = 8 * time.Second
	reservationTTL  = 10 * time.Second
	pendingTimeout  = 15 * time.Second
)

// kill is one SIGKILL the test sent.
type kill struct {
	service string
	replica int
	at      time.Time
}

// published is one copy of an order.placed the test's own queue received.
type published struct {
	orderID string
	at      time.Time
}

type cluster struct {
	t        *testing.T
	replicas map[string][]*replica

	mu       sync.Mutex
	kills    []kill
	cleaned  map[string]int // "abandoned checkout cleaned up", by order id, across orders replicas
	startErr []error
}

func TestScaleOut_TwoOfEveryService_KilledAtRandom_LedgerBalances(t *testing.T) {
	stores := shoptest.LocalStores(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "shop")
	build := exec.Command("go", "build", "-o", bin, "./cmd/shop")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the shop: %v\n%s", err, out)
	}
	secrets := filepath.Join(dir, "secrets")
	if out, err := exec.Command(bin, "secrets", secrets).CombinedOutput(); err != nil {
		t.Fatalf("shop secrets: %v\n%s", err, out)
	}

	prefix := "so" + shoptest.RandomHex(4)
	exchange, queue := prefix+".events", prefix+".shipping"
	t.Cleanup(func() {
		if err := shoptest.RemoveStores(stores, prefix, exchange, queue); err != nil {
			t.Errorf("clean up: %v", err)
		}
	})
	// Pools of two: sixteen processes, and the other tests of `make test`, share
	// the server's hundred connections.
	pgURL, err := url.Parse(stores.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	q := pgURL.Query()
	q.Set("pool_max_conns", "2")
	pgURL.RawQuery = q.Encode()
	env := []string{
		"POSTGRES_URL=" + pgURL.String(), "POSTGRES_DB_PREFIX=" + prefix + "_",
		"REDIS_URL=" + stores.RedisURL, "REDIS_KEY_PREFIX=" + prefix + ":",
		"RABBITMQ_URL=" + stores.RabbitURL, "RABBITMQ_EXCHANGE=" + exchange, "SHIPPING_QUEUE=" + queue,
		auth.SecretsDirEnv + "=" + secrets,
		"OTEL_SDK_DISABLED=true", // no telemetry backend: the ledger is what is judged
		// No fault flags: whatever a drill left in deploy/flags, this run has none.
		"FLAGS_FILE=" + filepath.Join(dir, "no-flags.json"),
		"BCRYPT_COST=4",
		"LOGIN_RATE_LIMIT_RPS=0", // one load generator registers many shoppers from one address
		"CHECKOUT_TIMEOUT=" + checkoutTimeout.String(),
		"PENDING_ORDER_TIMEOUT=" + pendingTimeout.String(),
		"RESERVATION_TTL=" + reservationTTL.String(),
		"RESERVATION_EXPIRY_INTERVAL=250ms",
		"OUTBOX_INTERVAL=200ms",
		"SHIPPING_RETRY_DELAY=200ms",
		// A processor as slow as real ones: checkouts spend long enough in the saga for
		// the kills of orders to land in the middle of some.
		"PAYMENTS_LATENCY_MS=200",
	}

	// One balancer per service; every caller reaches a service only through it.
	lbs := map[string]*balancer{}
	for _, d := range app.Registry {
		lb, err := newBalancer(d.Name, replicasPerService)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(lb.close)
		lbs[d.Name] = lb
		env = append(env, d.PeerEnv()+"="+d.PeerAddress(lb.Addr()))
	}

	observer := observe(t, stores.RabbitURL, exchange)

	c := &cluster{t: t, replicas: map[string][]*replica{}, cleaned: map[string]int{}}
	for _, d := range app.Registry {
		for i := range replicasPerService {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.log", d.Name, i)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			c.replicas[d.Name] = append(c.replicas[d.Name], &replica{def: d, index: i, bin: bin, env: env, dir: dir,
				log: &logFile{f: f}, lb: lbs[d.Name], onLine: c.sawLine})
		}
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, rs := range c.replicas {
			for _, r := range rs {
				wg.Go(r.Stop)
			}
		}
		wg.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	started := time.Now()
	for _, d := range app.Registry { // users first: it issues every service's token
		var wg sync.WaitGroup
		errs := make([]error, replicasPerService)
		for i, r := range c.replicas[d.Name] {
			wg.Go(func() { errs[i] = r.Start(ctx) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("start %s: %v\n%s", d.Name, err, c.replicas[d.Name][0].tail(30))
		}
	}
	t.Logf("%d processes up in %s", len(app.Registry)*replicasPerService, time.Since(started).Round(time.Millisecond))

	dbs, err := audit.Open(ctx, service.Stores{PostgresURL: stores.PostgresURL, DatabasePrefix: prefix + "_"})
	if err != nil {
		t.Fatal(err)
	}
	defer dbs.Close()

	// The load, the abandoned checkouts, the kills and an audit every two seconds,
	// all at once.
	gateway := "http://" + lbs["gateway"].Addr()
	loadCtx, stopLoad := context.WithCancel(ctx)
	var bg sync.WaitGroup
	var abandoned abandonment
	bg.Go(func() { abandoned.run(loadCtx, gateway) })
	bg.Go(func() { c.chaos(loadCtx) })
	bg.Go(func() { observer.redeliver(loadCtx, t, stores.RabbitURL, exchange) })
	var midAudits []string
	audits := 0
	bg.Go(func() {
		for loadCtx.Err() == nil {
			// A grace longer than the test: only what is wrong whatever the timing counts,
			// so this proves the audit's reads race-free while checkouts land between them.
			r, err := audit.Run(loadCtx, dbs, audit.Options{Grace: time.Hour})
			if err == nil {
				audits++
				if r.Discrepancies() > 0 {
					var b strings.Builder
					_ = r.Print(&b, prefix+"_*")
					midAudits = append(midAudits, b.String())
				}
			}
			select {
			case <-loadCtx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	})
	report := filepath.Join(dir, "loadgen.json")
	load := exec.CommandContext(ctx, bin, "loadgen", "-target", gateway, "-rate", "5", "-duration", loadDuration.String(),
		"-mix", "checkout=60,cart=15,browse=15,orders=10", "-think", "50ms-300ms", "-timeout", "10s", "-json", report)
	load.Env = append(os.Environ(), "OTEL_SDK_DISABLED=true")
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	loadErr := load.Run()
	stopLoad()
	bg.Wait()
	if loadErr != nil {
		t.Fatalf("load generator: %v\n%s", loadErr, loadOut.String())
	}
	t.Logf("load: %s", lastLines(loadOut.String(), 12))

	// Every replica back up, then the backstops: sweeper, expiry, relay, consumer.
	for _, rs := range c.replicas {
		for _, r := range rs {
			if !r.Ready() {
				if err := r.Start(ctx); err != nil {
					t.Fatalf("restart %s: %v", r.name(), err)
				}
			}
		}
	}
	quiet := time.Now()
	orders, inventory, shipping := pool(t, stores, prefix, "orders"), pool(t, stores, prefix, "inventory"), pool(t, stores, prefix, "shipping")
	shoptest.Eventually(t, 2*time.Minute, func() error { return settled(ctx, orders, inventory, shipping) })
	t.Logf("settled %s after the load", time.Since(quiet).Round(time.Millisecond))

	// The operator's tool, as an operator runs it; no grace: nothing may be in flight now.
	auditCmd := exec.CommandContext(ctx, bin, "audit", "-grace", "0s")
	auditCmd.Env = append(os.Environ(), "POSTGRES_URL="+stores.PostgresURL, "POSTGRES_DB_PREFIX="+prefix+"_", "OTEL_SDK_DISABLED=true")
	auditOut, err := auditCmd.Output()
	t.Logf("shop audit:\n%s", auditOut)
	if err != nil || !strings.Contains(string(auditOut), "11 checks, 0 discrepancies") {
		t.Errorf("shop audit after the run: %v; want exit 0 and no discrepancy", err)
	}
	if len(midAudits) > 0 {
		t.Errorf("%d of %d audits during the run found discrepancies; the first:\n%s", len(midAudits), audits, midAudits[0])
	}

	// Every placed order shipped exactly once.
	placed := ids(t, ctx, orders, `SELECT id::text FROM orders WHERE status = 'placed'`)
	var shipped []string
	rows, err := shipping.Query(ctx, `SELECT order_id::text, count(*) FROM shipments GROUP BY order_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("order %s shipped %d times", id, n)
		}
		shipped = append(shipped, id)
	}
	slices.Sort(placed)
	slices.Sort(shipped)
	if !slices.Equal(placed, shipped) {
		t.Errorf("%d orders placed, %d shipped: not the same orders", len(placed), len(shipped))
	}

	// An order.placed leaves twice only because its relay died between publishing
	// and marking it: each duplicate straddles a SIGKILL of an orders replica.
	var copies map[string][]published
	shoptest.Eventually(t, 10*time.Second, func() error {
		if copies = observer.copies(); len(copies) < len(placed) {
			return fmt.Errorf("the test's queue has %d of the %d order.placed events", len(copies), len(placed))
		}
		return nil
	})
	c.mu.Lock()
	var orderKills []time.Time
	for _, k := range c.kills {
		if k.service == "orders" {
			orderKills = append(orderKills, k.at)
		}
	}
	cleaned := maps.Clone(c.cleaned)
	kills := len(c.kills)
	c.mu.Unlock()
	duplicated := 0
	injected := observer.injected()
	for id, cs := range copies {
		if len(cs)-injected[id] < 2 {
			continue
		}
		duplicated++
		first, last := cs[0].at, cs[len(cs)-1].at
		if !slices.ContainsFunc(orderKills, func(k time.Time) bool { return !k.Before(first.Add(-2*time.Second)) && !k.After(last) }) {
			t.Errorf("order.placed %s (order %s) published %d times between %s and %s, with no orders replica killed in between",
				id, cs[0].orderID, len(cs), first.Format("15:04:05.000"), last.Format("15:04:05.000"))
		}
	}
	if len(copies) != len(placed) {
		t.Errorf("%d order.placed events published for %d placed orders", len(copies), len(placed))
	}
	// Each abandoned checkout was claimed by one sweeper, of either replica.
	for id, n := range cleaned {
		if n > 1 {
			t.Errorf("abandoned checkout %s cleaned up %d times", id, n)
		}
	}

	statuses := map[string]int{}
	srows, err := orders.Query(ctx, `SELECT status || coalesce(nullif('/' || failure_reason, '/'), ''), count(*) FROM orders GROUP BY 1 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for srows.Next() {
		var s string
		var n int
		if err := srows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		statuses[s] = n
	}
	t.Logf("orders by outcome: %v", statuses)
	var expired int
	if err := inventory.QueryRow(ctx, `SELECT count(*) FROM reservations WHERE release_reason = 'expired'`).Scan(&expired); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d holds released by expiry", expired)
	t.Logf("%d SIGKILLs (%d of orders), %d checkouts abandoned by their clients, %d abandoned checkouts swept, %d order.placed published twice by a relay, %d copies published by the test, %d audits during the load",
		kills, len(orderKills), abandoned.count(), len(cleaned), duplicated, sum(injected), audits)
	// Checkouts abandoned by their clients and kills happen every run; a kill of orders
	// in the middle of a saga, which leaves a checkout for the sweeper, in nearly
	// every run (the sweeper's claim is proven on its own in services/orders).
	if len(placed) == 0 || abandoned.count() == 0 || kills < 10 || len(orderKills) < 3 {
		t.Errorf("the run did not exercise what it is for: %d placed, %d abandoned by their clients, %d kills (%d of orders)",
			len(placed), abandoned.count(), kills, len(orderKills))
	}
}

// sawLine counts the sweeper's claims, by order, from every orders replica's log.
func (c *cluster) sawLine(r *replica, line map[string]any) {
	if r.def.Name != "orders" || line["msg"] != "abandoned checkout cleaned up" {
		return
	}
	if id, ok := line["order_id"].(string); ok {
		c.mu.Lock()
		c.cleaned[id]++
		c.mu.Unlock()
	}
}

// chaos kills a replica every 0.7 to 2 seconds, each service at least once in
// the first rounds and then mostly those with background jobs, never the last one
// up of a service (as a PodDisruptionBudget would not let it), and starts it again
// after a moment.
func (c *cluster) chaos(ctx context.Context) {
	names := app.Names()
	rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	weighted := []string{"orders", "orders", "orders", "orders", "orders", "orders", "inventory", "inventory", "payments", "payments",
		"shipping", "shipping", "gateway", "cart", "catalog", "users"}
	var restarts sync.WaitGroup
	defer restarts.Wait()
	for round := 0; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(700*time.Millisecond + rand.N(1300*time.Millisecond)):
		}
		name := weighted[rand.IntN(len(weighted))]
		if round < len(names) {
			name = names[round]
		}
		rs := c.replicas[name]
		victim := rs[rand.IntN(len(rs))]
		if !slices.ContainsFunc(rs, func(r *replica) bool { return r != victim && r.Ready() }) || !victim.Ready() {
			continue
		}
		c.mu.Lock()
		c.kills = append(c.kills, kill{service: name, replica: victim.index, at: time.Now()})
		c.mu.Unlock()
		victim.Kill()
		restarts.Go(func() {
			time.Sleep(200*time.Millisecond + rand.N(2*time.Second)) // down a moment, as a restarting pod is
			if err := victim.Start(context.WithoutCancel(ctx)); err != nil {
				c.t.Errorf("restart %s: %v\n%s", victim.name(), err, victim.tail(20))
			}
		})
	}
}

// settled says nil once every backstop has done its work: no checkout pending, no
// refund or release owed, the outbox empty, every placed order shipped and no hold
// left uncommitted.
func settled(ctx context.Context, orders, inventory, shipping *pgxpool.Pool) error {
	var pending, owed, unpublished, placed, holds, shipments int
	if err := orders.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE refund_due OR release_due),
		count(*) FILTER (WHERE status = 'placed') FROM orders`).Scan(&pending, &owed, &placed); err != nil {
		return err
	}
	if err := orders.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&unpublished); err != nil {
		return err
	}
	if err := inventory.QueryRow(ctx, `SELECT count(*) FROM reservations WHERE status = 'reserved'`).Scan(&holds); err != nil {
		return err
	}
	if err := shipping.QueryRow(ctx, `SELECT count(*) FROM shipments`).Scan(&shipments); err != nil {
		return err
	}
	if pending+owed+unpublished+holds > 0 || shipments < placed {
		return fmt.Errorf("%d checkouts pending, %d owing a refund or release, %d events unpublished, %d holds, %d of %d placed orders shipped",
			pending, owed, unpublished, holds, shipments, placed)
	}
	return nil
}

// abandonment is shoppers who give up on their checkout after a few milliseconds:
// they close the connection mid-saga, at whatever step it is.
type abandonment struct {
	mu sync.Mutex
	n  int
}

func (a *abandonment) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

func (a *abandonment) run(ctx context.Context, gateway string) {
	products := demodata.Products()
	hc := &http.Client{Timeout: 10 * time.Second}
	call := func(ctx context.Context, token, method, path string, body any, out any) (int, error) {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, method, gateway+path, bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode, nil
	}
	for ; ctx.Err() == nil; time.Sleep(200*time.Millisecond + rand.N(300*time.Millisecond)) { // a few shoppers a second
		email := "gives-up-" + shoptest.RandomHex(6) + "@example.com"
		if st, err := call(ctx, "", "POST", "/api/users/register", map[string]string{"email": email, "password": "pw-abandons", "name": "Gives Up"}, nil); err != nil || st != http.StatusCreated {
			continue
		}
		var login struct{ Token string }
		if st, err := call(ctx, "", "POST", "/api/users/login", map[string]string{"email": email, "password": "pw-abandons"}, &login); err != nil || st != http.StatusOK {
			continue
		}
		for range 3 {
			p := products[rand.IntN(len(products))]
			if st, err := call(ctx, login.Token, "POST", "/api/cart/items", map[string]any{"product_id": p.ID, "quantity": 1}, nil); err != nil || st != http.StatusOK {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond+rand.N(400*time.Millisecond)) // at any step of the saga
			_, err := call(cctx, login.Token, "POST", "/api/checkout", shoptest.CheckoutBody(""), nil)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				a.mu.Lock()
				a.n++
				a.mu.Unlock()
			}
		}
	}
}

// observer is a queue of the test's own on the shop's exchange: it sees every
// order.placed the relays publish, copies included. It also publishes copies of
// some itself, as a relay that died after publishing would: consumers must absorb
// them.
type observer struct {
	mu    sync.Mutex
	seen  map[string][]published // by message id
	raw   map[string]amqp.Delivery
	again map[string]int // copies the test published itself, by message id
}

func observe(t *testing.T, url, exchange string) *observer {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := rabbit.DeclareExchange(ch, exchange); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "order.placed", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &observer{seen: map[string][]published{}, raw: map[string]amqp.Delivery{}, again: map[string]int{}}
	go func() {
		for d := range deliveries {
			var ev struct {
				OrderID string `json:"order_id"`
			}
			_ = json.Unmarshal(d.Body, &ev)
			o.mu.Lock()
			o.seen[d.MessageId] = append(o.seen[d.MessageId], published{orderID: ev.OrderID, at: time.Now()})
			o.raw[d.MessageId] = d
			o.mu.Unlock()
		}
	}()
	return o
}

// redeliver publishes again, every second or two, an order.placed already published.
func (o *observer) redeliver(ctx context.Context, t *testing.T, url, exchange string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Error(err)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second + rand.N(time.Second)):
		}
		o.mu.Lock()
		var d amqp.Delivery
		for _, d = range o.raw { // any one
			break
		}
		if d.MessageId != "" {
			o.again[d.MessageId]++
		}
		o.mu.Unlock()
		if d.MessageId == "" {
			continue
		}
		if err := ch.PublishWithContext(ctx, exchange, d.RoutingKey, false, false, amqp.Publishing{
			MessageId: d.MessageId, Type: d.Type, ContentType: d.ContentType, Body: d.Body, Headers: d.Headers, DeliveryMode: amqp.Persistent,
		}); err != nil && ctx.Err() == nil {
			t.Errorf("publish a copy of %s: %v", d.MessageId, err)
		}
	}
}

func (o *observer) injected() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.again)
}

func (o *observer) copies() map[string][]published {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string][]published, len(o.seen))
	for k, v := range o.seen {
		out[k] = slices.Clone(v)
	}
	return out
}

func pool(t *testing.T, st shoptest.Stores, prefix, svc string) *pgxpool.Pool {
	t.Helper()
	u, err := url.Parse(st.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + prefix + "_" + svc
	q := u.Query()
	q.Set("pool_max_conns", "2")
	u.RawQuery = q.Encode()
	db, err := pgxpool.New(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func ids(t *testing.T, ctx context.Context, db *pgxpool.Pool, sql string) []string {
	t.Helper()
	rows, err := db.Query(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
