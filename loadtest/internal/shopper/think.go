package shopper

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Think is the pause between a session's requests, drawn uniformly from [Min, Max].
type Think struct{ Min, Max time.Duration }

// ParseThink reads "DURATION" or "MIN-MAX" ("0" for none).
func ParseThink(s string) (Think, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	minD, err := parseThinkDuration(lo)
	if err != nil {
		return Think{}, err
	}
	maxD := minD
	if isRange {
		if maxD, err = parseThinkDuration(hi); err != nil {
			return Think{}, err
		}
	}
	if maxD < minD {
		return Think{}, fmt.Errorf("%q: the maximum is below the minimum", s)
	}
	return Think{Min: minD, Max: maxD}, nil
}

func parseThinkDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

func (t Think) draw(r *rand.Rand) time.Duration {
	if t.Max <= t.Min {
		return t.Min
	}
	return t.Min + time.Duration(r.Int64N(int64(t.Max-t.Min)+1))
}

func (t Think) String() string {
	if t.Min == t.Max {
		return t.Min.String()
	}
	return t.Min.String() + "-" + t.Max.String()
}
