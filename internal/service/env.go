package service

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Env reads typed settings from the environment, remembering every malformed
// one so that all are reported at once, before anything starts.
type Env struct {
	getenv func(string) string
	errs   []error
}

// NewEnv reads from getenv (os.Getenv, or a map in tests).
func NewEnv(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// Err returns every problem recorded so far, or nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// Fail records a problem found while reading settings.
func (e *Env) Fail(err error) { e.errs = append(e.errs, err) }

// String returns key's value, or def when it is unset or empty.
func (e *Env) String(key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

// Duration reads a non-negative duration such as 5s.
func (e *Env) Duration(key string, def time.Duration) time.Duration {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.Fail(fmt.Errorf("%s=%q: want a duration such as 5s", key, v))
		return def
	}
	return d
}

// PositiveDuration reads a duration that must be above zero.
func (e *Env) PositiveDuration(key string, def time.Duration) time.Duration {
	d := e.Duration(key, def)
	if d <= 0 {
		e.Fail(fmt.Errorf("%s=%q: want a positive duration such as 5s", key, e.getenv(key)))
		return def
	}
	return d
}

// Int reads a whole number within [min, max].
func (e *Env) Int(key string, def, min, max int) int {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		e.Fail(fmt.Errorf("%s=%q: want a whole number from %d to %d", key, v, min, max))
		return def
	}
	return n
}

// Float reads a number within [min, max].
func (e *Env) Float(key string, def, min, max float64) float64 {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < min || f > max {
		e.Fail(fmt.Errorf("%s=%q: want a number from %g to %g", key, v, min, max))
		return def
	}
	return f
}
