package payments

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
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

// Test cards with a fixed outcome.
const (
	CardSucceeds          = "4242424242424242"
	CardDeclined          = "4000000000000002"
	CardInsufficientFunds = "4000000000009995"
)

var errProviderDown = errors.New("payment processor unavailable")

// provider simulates a card processor: it takes time, declines some cards, and
// sometimes fails.
type provider struct {
	mu       sync.RWMutex
	settings ProviderSettings
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
	if s.LatencyMS > 0 {
		d := time.Duration(float64(s.LatencyMS) * (0.5 + rand.Float64()) * float64(time.Millisecond))
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(d):
		}
	}
	if rand.Float64() < s.ErrorRate {
		return "", errProviderDown
	}
	switch cardNumber {
	case CardDeclined:
		return "card_declined", nil
	case CardInsufficientFunds:
		return "insufficient_funds", nil
	case CardSucceeds:
		return "", nil
	}
	if rand.Float64() < s.FailureRate {
		return "processor_declined", nil
	}
	return "", nil
}
