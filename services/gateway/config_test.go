package gateway

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/otelshop/shop/internal/service"
)

// The gateway's defaults are the ones docs/contract.md promises: a default
// changed in one place and not the other fails here (LOGIN_RATE_LIMIT_RPS once
// was 1 in the code and 5 in the contract).
func TestConfig_DefaultsAreTheContracts(t *testing.T) {
	env := service.NewEnv(func(string) string { return "" })
	cfg := loadConfig(env)
	if err := env.Err(); err != nil {
		t.Fatal(err)
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	got := map[string]string{
		"RATE_LIMIT_RPS":          num(cfg.RateLimit),
		"RATE_LIMIT_BURST":        strconv.Itoa(cfg.RateBurst),
		"LOGIN_RATE_LIMIT_RPS":    num(cfg.LoginRateLimit),
		"LOGIN_RATE_LIMIT_BURST":  strconv.Itoa(cfg.LoginRateBurst),
		"RATE_LIMIT_STORE":        cfg.RateLimitStore,
		"REQUEST_TIMEOUT":         cfg.Timeout.String(),
		"CHECKOUT_TIMEOUT":        cfg.CheckoutTimeout.String(),
		"REQUEST_BODY_TIMEOUT":    cfg.BodyTimeout.String(),
		"BROWSER_TRACES_URL":      cfg.BrowserTracesURL,
		"TRACES_RATE_LIMIT_RPS":   num(cfg.TracesRateLimit),
		"TRACES_RATE_LIMIT_BURST": strconv.Itoa(cfg.TracesRateBurst),
		"JAEGER_UI_URL":           cfg.JaegerUIURL,
		"SESSION_COOKIE_SECURE":   strconv.FormatBool(cfg.SecureCookie),
	}
	want := contractDefaults(t)
	for name, g := range got {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: docs/contract.md has no row for it", name)
			continue
		}
		if g != w {
			t.Errorf("%s: the gateway defaults to %s, docs/contract.md says %s", name, g, w)
		}
	}
}

// contractDefaults reads the contract's settings tables: rows of
// `| NAME[, NAME…] | DEFAULT[, DEFAULT…] | what |`, names and defaults paired in
// order when there are as many of each.
func contractDefaults(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/contract.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 4 {
			continue
		}
		names := strings.Split(cells[1], ",")
		defs := strings.Split(cells[2], ",")
		if len(names) != len(defs) {
			continue
		}
		for i, n := range names {
			out[strings.TrimSpace(n)] = strings.Trim(strings.TrimSpace(defs[i]), "`")
		}
	}
	return out
}
