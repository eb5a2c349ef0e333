// Package schedule owns when load is offered: the load profile (ramp, hold and spike
// stages), the arrival times it implies, and the two models that turn it into sessions,
// open (an arrival rate the target cannot slow down) and closed (looping virtual users).
package schedule

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The -mode and -arrival values.
const (
	ModeOpen        = "open"
	ModeClosed      = "closed"
	ArrivalSessions = "sessions" // each arrival starts a new shopper
	ArrivalRequests = "requests" // each arrival is the next request of a waiting shopper
)

// Stage is one segment of the load profile: over Duration the target moves linearly
// From → To. In the open model the target is arrivals per second, in the closed model
// the number of virtual users.
type Stage struct {
	Duration time.Duration
	From, To float64
}

// Profile is the whole run's shape, e.g. ramp, hold, spike.
type Profile []Stage

// Constant is a profile that holds level for d.
func Constant(d time.Duration, level float64) Profile {
	return Profile{{Duration: d, From: level, To: level}}
}

// ParseStages reads "30s:0->50,1m:50,10s:50->200": comma-separated DURATION:VALUE
// (hold) or DURATION:FROM->TO (linear ramp) segments.
func ParseStages(spec string) (Profile, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("no stages given")
	}
	var p Profile
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		st, err := parseStage(part)
		if err != nil {
			return nil, fmt.Errorf("stage %d %q: %w", i+1, part, err)
		}
		p = append(p, st)
	}
	if p.Peak() == 0 {
		return nil, fmt.Errorf("every stage is at zero: nothing would run")
	}
	return p, nil
}

func parseStage(s string) (Stage, error) {
	durText, target, ok := strings.Cut(s, ":")
	if !ok {
		return Stage{}, fmt.Errorf("want DURATION:VALUE or DURATION:FROM->TO")
	}
	d, err := time.ParseDuration(strings.TrimSpace(durText))
	if err != nil {
		return Stage{}, fmt.Errorf("duration: %w", err)
	}
	if d <= 0 {
		return Stage{}, fmt.Errorf("duration must be positive")
	}
	fromText, toText, ramp := strings.Cut(target, "->")
	from, err := parseLevel(fromText)
	if err != nil {
		return Stage{}, err
	}
	to := from
	if ramp {
		if to, err = parseLevel(toText); err != nil {
			return Stage{}, err
		}
	}
	return Stage{Duration: d, From: from, To: to}, nil
}

func parseLevel(s string) (float64, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return v, nil
}

// Duration is the planned length of the run.
func (p Profile) Duration() time.Duration {
	var d time.Duration
	for _, s := range p {
		d += s.Duration
	}
	return d
}

// Peak is the highest target of any stage.
func (p Profile) Peak() float64 {
	var m float64
	for _, s := range p {
		m = max(m, s.From, s.To)
	}
	return m
}

// At is the target at offset t into the run; zero past the end.
func (p Profile) At(t time.Duration) float64 {
	for _, s := range p {
		if t < s.Duration {
			frac := float64(t) / float64(s.Duration)
			return s.From + (s.To-s.From)*frac
		}
		t -= s.Duration
	}
	return 0
}

// Arrivals yields the offset of every arrival the profile asks for (open model), in
// order: the k-th is due where the cumulative expected arrivals reach k+½ (evenly
// spaced), or, with poisson, at the next point of a Poisson process with the profile's
// rate. Scheduling from the cumulative curve instead of from sleeps makes the schedule
// independent of how late the generator itself wakes up: a late scheduler catches up,
// it never stretches the timeline.
func (p Profile) Arrivals(poisson *rand.Rand) iter.Seq[time.Duration] {
	return func(yield func(time.Duration) bool) {
		var cum float64
		for k := 0; ; k++ {
			if poisson != nil {
				cum += poisson.ExpFloat64()
			} else {
				cum = float64(k) + 0.5
			}
			off, ok := p.offsetOf(cum)
			if !ok || !yield(off) {
				return
			}
		}
	}
}

// offsetOf inverts the cumulative arrival curve: the offset at which the n-th
// (fractional) arrival is due.
func (p Profile) offsetOf(n float64) (time.Duration, bool) {
	var base time.Duration
	for _, s := range p {
		secs := s.Duration.Seconds()
		total := (s.From + s.To) / 2 * secs
		if n > total {
			n -= total
			base += s.Duration
			continue
		}
		// Within the stage the rate is a + k·t, so arrivals so far are a·t + k·t²/2.
		// Solving for t in the form 2n/(a+√(a²+2kn)) stays exact when k is 0 or negative.
		a, k := s.From, (s.To-s.From)/secs
		disc := a*a + 2*k*n
		if disc < 0 {
			disc = 0
		}
		den := a + math.Sqrt(disc)
		if den <= 0 {
			return 0, false
		}
		t := 2 * n / den
		return base + time.Duration(t*float64(time.Second)), true
	}
	return 0, false
}

func (p Profile) String() string {
	parts := make([]string, len(p))
	for i, s := range p {
		if s.From == s.To {
			parts[i] = fmt.Sprintf("%s:%g", s.Duration, s.From)
		} else {
			parts[i] = fmt.Sprintf("%s:%g->%g", s.Duration, s.From, s.To)
		}
	}
	return strings.Join(parts, ",")
}
