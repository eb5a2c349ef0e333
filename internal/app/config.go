package app

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/otelshop/shop/internal/rabbit"
	"github.com/otelshop/shop/services/cart"
	"github.com/otelshop/shop/services/catalog"
	"github.com/otelshop/shop/services/gateway"
	"github.com/otelshop/shop/services/inventory"
	"github.com/otelshop/shop/services/orders"
	"github.com/otelshop/shop/services/payments"
	"github.com/otelshop/shop/services/shipping"
	"github.com/otelshop/shop/services/users"
)

// devJWTSecret lets `shop all` run with nothing set; a warning says it is in use.
const devJWTSecret = "development-only-secret-change-me"

// config is every setting of every service, read once from the environment.
type config struct {
	AdminAddr string
	Gateway   gateway.Config
	Users     users.Config
	Catalog   catalog.Config
	Cart      cart.Config
	Inventory inventory.Config
	Orders    orders.Config
	Payments  payments.Config
	Shipping  shipping.Config
}

// env reads typed values, remembering every malformed one so that all are reported at once.
type env struct {
	getenv func(string) string
	errs   []error
}

func (e *env) str(key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

func (e *env) duration(key string, def time.Duration) time.Duration {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a duration such as 5s", key, v))
		return def
	}
	return d
}

func (e *env) int(key string, def int) int {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a whole number", key, v))
		return def
	}
	return n
}

func (e *env) float(key string, def, min, max float64) float64 {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < min || f > max {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a number from %g to %g", key, v, min, max))
		return def
	}
	return f
}

func loadConfig(getenv func(string) string) (config, error) {
	e := &env{getenv: getenv}
	pgURL := e.str("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	dbPrefix := e.str("POSTGRES_DB_PREFIX", "shop_")
	redisURL := e.str("REDIS_URL", "redis://127.0.0.1:6379/0")
	keyPrefix := e.str("REDIS_KEY_PREFIX", "shop:")
	rabbitURL := e.str("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
	exchange := e.str("RABBITMQ_EXCHANGE", "shop.events")
	jwtSecret := e.str("JWT_SECRET", devJWTSecret)
	usersURL := e.str("USERS_URL", "http://127.0.0.1:8081")
	catalogURL := e.str("CATALOG_URL", "http://127.0.0.1:8082")
	cartURL := e.str("CART_URL", "http://127.0.0.1:8083")
	ordersURL := e.str("ORDERS_URL", "http://127.0.0.1:8085")
	paymentsURL := e.str("PAYMENTS_URL", "http://127.0.0.1:8086")
	shippingURL := e.str("SHIPPING_URL", "http://127.0.0.1:8087")

	cfg := config{
		AdminAddr: e.str("ADMIN_ADDR", ":9464"),
		Gateway: gateway.Config{
			Addr: e.str("GATEWAY_ADDR", ":8080"), JWTSecret: jwtSecret,
			UsersURL: usersURL, CatalogURL: catalogURL, CartURL: cartURL, OrdersURL: ordersURL, ShippingURL: shippingURL,
			RateLimit:       e.float("RATE_LIMIT_RPS", 100, 0, 1e6),
			RateBurst:       e.int("RATE_LIMIT_BURST", 200),
			Timeout:         e.duration("REQUEST_TIMEOUT", 10*time.Second),
			CheckoutTimeout: e.duration("CHECKOUT_TIMEOUT", 20*time.Second),
		},
		Users: users.Config{
			Addr: e.str("USERS_ADDR", ":8081"), PostgresURL: pgURL, Database: dbPrefix + "users",
			JWTSecret: jwtSecret, TokenTTL: e.duration("TOKEN_TTL", time.Hour), BcryptCost: e.int("BCRYPT_COST", 10),
		},
		Catalog: catalog.Config{
			Addr: e.str("CATALOG_ADDR", ":8082"), PostgresURL: pgURL, Database: dbPrefix + "catalog",
			RedisURL: redisURL, RedisKeyPrefix: keyPrefix,
		},
		Cart: cart.Config{
			Addr: e.str("CART_ADDR", ":8083"), RedisURL: redisURL, RedisKeyPrefix: keyPrefix, CatalogURL: catalogURL,
		},
		Inventory: inventory.Config{
			Addr: e.str("INVENTORY_ADDR", ":8084"), PostgresURL: pgURL, Database: dbPrefix + "inventory",
			ReservationTTL: e.duration("RESERVATION_TTL", 2*time.Minute),
			ExpiryInterval: e.duration("RESERVATION_EXPIRY_INTERVAL", 5*time.Second),
		},
		Orders: orders.Config{
			Addr: e.str("ORDERS_ADDR", ":8085"), PostgresURL: pgURL, Database: dbPrefix + "orders",
			RabbitURL: rabbitURL, Exchange: exchange,
			CartURL: cartURL, CatalogURL: catalogURL, PaymentsURL: paymentsURL,
			InventoryTarget: e.str("INVENTORY_TARGET", "127.0.0.1:8084"),
			RelayInterval:   e.duration("OUTBOX_INTERVAL", 500*time.Millisecond),
			PendingTimeout:  e.duration("PENDING_ORDER_TIMEOUT", 10*time.Minute),
		},
		Payments: payments.Config{
			Addr: e.str("PAYMENTS_ADDR", ":8086"), PostgresURL: pgURL, Database: dbPrefix + "payments",
			Provider: payments.ProviderSettings{
				LatencyMS:   e.int("PAYMENTS_LATENCY_MS", 20),
				FailureRate: e.float("PAYMENTS_FAILURE_RATE", 0.02, 0, 1),
				ErrorRate:   e.float("PAYMENTS_ERROR_RATE", 0, 0, 1),
			},
		},
		Shipping: shipping.Config{
			Addr: e.str("SHIPPING_ADDR", ":8087"), PostgresURL: pgURL, Database: dbPrefix + "shipping",
			RabbitURL: rabbitURL,
			Subscription: rabbit.Subscription{
				Exchange: exchange, RoutingKey: orders.RoutingKeyOrderPlaced,
				Queue:       e.str("SHIPPING_QUEUE", "shipping.order-placed"),
				MaxAttempts: e.int("SHIPPING_MAX_ATTEMPTS", 5),
				RetryDelay:  e.duration("SHIPPING_RETRY_DELAY", time.Second),
				Prefetch:    32,
				Workers:     4,
			},
		},
	}
	if cfg.Users.BcryptCost != 0 && (cfg.Users.BcryptCost < 4 || cfg.Users.BcryptCost > 14) {
		e.errs = append(e.errs, fmt.Errorf("BCRYPT_COST=%d: want 4 to 14", cfg.Users.BcryptCost))
	}
	if cfg.Shipping.Subscription.MaxAttempts < 1 {
		e.errs = append(e.errs, errors.New("SHIPPING_MAX_ATTEMPTS: want at least 1"))
	}
	if cfg.Orders.RelayInterval <= 0 || cfg.Inventory.ExpiryInterval <= 0 || cfg.Orders.PendingTimeout <= 0 {
		e.errs = append(e.errs, errors.New("OUTBOX_INTERVAL, RESERVATION_EXPIRY_INTERVAL and PENDING_ORDER_TIMEOUT must be positive"))
	}
	return cfg, errors.Join(e.errs...)
}
