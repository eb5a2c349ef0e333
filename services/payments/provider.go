package payments

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/service"
)

// ProviderSettings shape the simulated card processor, changeable at run time.
type ProviderSettings struct {
	// LatencyMS is the mean time the processor takes, in milliseconds; each call takes
	// between half and one and a half times as long.
	LatencyMS int `json:"latency_ms"`
	// FailureRate is the share of otherwise good charges the processor declines.
	FailureRate float64 `json:"failure_rate"`
	// ErrorRate is the share of calls on which the processor fails outright (no answer).
	ErrorRate float64 `json:"error_rate"`
}

// Test cards with a fixed outcome. Each brand has one that always succeeds, so
// a load can pay with a realistic mix of networks.
const (
	CardSucceeds           = "4242424242424242"
	CardSucceedsMastercard = "5555555555554444"
	CardSucceedsAmex       = "378282246310005"
	CardSucceedsDiscover   = "6011111111111117"
	CardDeclined           = "4000000000000002"
	CardInsufficientFunds  = "4000000000009995"
)

var (
	errProviderDown = errors.New("payment processor unavailable")
	// errBrandDown is the processor failing one card network (its acquirer link is down).
	errBrandDown = fmt.Errorf("%w: the card network does not answer", errProviderDown)
)

// provider simulates a card processor: it takes time, declines some cards, and
// sometimes fails.
type provider struct {
	mu       sync.RWMutex
	settings ProviderSettings
	slow     *flags.Fault // paymentsSlowProcessor
	outage   *flags.Fault // paymentsBrandOutage
}

func (p *provider) get() ProviderSettings {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.settings
}

func (p *provider) set(s ProviderSettings) {
	p.mu.Lock()
	p.settings = s
	p.mu.Unlock()
}

// authorize answers "" for an approved charge or a decline reason.
func (p *provider) authorize(ctx context.Context, cardNumber string) (string, error) {
	s := p.get()
	var d time.Duration
	if s.LatencyMS > 0 {
		d = time.Duration(float64(s.LatencyMS) * (0.5 + rand.Float64()) * float64(time.Millisecond))
	}
	subject := flags.Subject{CardBrand: brand(cardNumber).name}
	if v, on := p.slow.Eval(ctx, subject); on {
		d += v.Delay.D()
	}
	if d > 0 {
		if err := service.Sleep(ctx, d); err != nil {
			return "", err
		}
	}
	if rand.Float64() < s.ErrorRate {
		return "", errProviderDown
	}
	if _, on := p.outage.Eval(ctx, subject); on {
		return "", errBrandDown
	}
	switch cardNumber {
	case CardDeclined:
		return "card_declined", nil
	case CardInsufficientFunds:
		return "insufficient_funds", nil
	case CardSucceeds, CardSucceedsMastercard, CardSucceedsAmex, CardSucceedsDiscover:
		return "", nil
	}
	if rand.Float64() < s.FailureRate {
		return "processor_declined", nil
	}
	return "", nil
}
