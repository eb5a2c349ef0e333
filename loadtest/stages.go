package loadtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// stage is one segment of the load profile: over duration the target moves linearly
// from from to to. In the open model the target is arrivals per second, in the closed
// model the number of virtual users.
type stage struct {
	duration time.Duration
	from, to float64
}

// profile is the whole run's shape, e.g. ramp, hold, spike.
type profile []stage

// parseStages reads "30s:0->50,1m:50,10s:50->200": comma-separated DURATION:VALUE
// (hold) or DURATION:FROM->TO (linear ramp) segments.
func parseStages(spec string) (profile, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("no stages given")
	}
	var p profile
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		st, err := parseStage(part)
		if err != nil {
			return nil, fmt.Errorf("stage %d %q: %w", i+1, part, err)
		}
		p = append(p, st)
	}
	return p, p.validate()
}

func parseStage(s string) (stage, error) {
	durText, target, ok := strings.Cut(s, ":")
	if !ok {
		return stage{}, fmt.Errorf("want DURATION:VALUE or DURATION:FROM->TO")
	}
	d, err := time.ParseDuration(strings.TrimSpace(durText))
	if err != nil {
		return stage{}, fmt.Errorf("duration: %w", err)
	}
	if d <= 0 {
		return stage{}, fmt.Errorf("duration must be positive")
	}
	fromText, toText, ramp := strings.Cut(target, "->")
	from, err := parseLevel(fromText)
	if err != nil {
		return stage{}, err
	}
	to := from
	if ramp {
		if to, err = parseLevel(toText); err != nil {
			return stage{}, err
		}
	}
	return stage{duration: d, from: from, to: to}, nil
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

func (p profile) validate() error {
	if len(p) == 0 {
		return fmt.Errorf("no stages given")
	}
	if p.peak() == 0 {
		return fmt.Errorf("every stage is at zero: nothing would run")
	}
	return nil
}

// duration is the planned length of the run.
func (p profile) duration() time.Duration {
	var d time.Duration
	for _, s := range p {
		d += s.duration
	}
	return d
}

func (p profile) peak() float64 {
	var m float64
	for _, s := range p {
		m = max(m, s.from, s.to)
	}
	return m
}

// at is the target at offset t into the run; zero past the end.
func (p profile) at(t time.Duration) float64 {
	for _, s := range p {
		if t < s.duration {
			frac := float64(t) / float64(s.duration)
			return s.from + (s.to-s.from)*frac
		}
		t -= s.duration
	}
	return 0
}

// expected is the number of arrivals the whole profile asks for (open model).
func (p profile) expected() float64 {
	var n float64
	for _, s := range p {
		n += (s.from + s.to) / 2 * s.duration.Seconds()
	}
	return n
}

// offsetOf inverts the cumulative arrival curve: the offset at which the n-th
// (fractional) arrival is due. Scheduling from this curve instead of from sleeps makes
// the schedule independent of how late the generator itself wakes up: a late scheduler
// catches up, it never stretches the timeline.
func (p profile) offsetOf(n float64) (time.Duration, bool) {
	var base time.Duration
	for _, s := range p {
		secs := s.duration.Seconds()
		total := (s.from + s.to) / 2 * secs
		if n > total {
			n -= total
			base += s.duration
			continue
		}
		// Within the stage the rate is a + k·t, so arrivals so far are a·t + k·t²/2.
		// Solving for t in the form 2n/(a+√(a²+2kn)) stays exact when k is 0 or negative.
		a, k := s.from, (s.to-s.from)/secs
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

func (p profile) String() string {
	parts := make([]string, len(p))
	for i, s := range p {
		if s.from == s.to {
			parts[i] = fmt.Sprintf("%s:%g", s.duration, s.from)
		} else {
			parts[i] = fmt.Sprintf("%s:%g->%g", s.duration, s.from, s.to)
		}
	}
	return strings.Join(parts, ",")
}
