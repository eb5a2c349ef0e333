package loadtest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/otelshop/shop/loadtest/internal/shopper"
)

// Bad input fails before any request, with a usage exit code and a message naming the
// problem.
func TestMain_InvalidInput_FailsBeforeAnyRequest(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	missingDir := filepath.Join(t.TempDir(), "no", "such", "dir", "r.html")

	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-rate", "abc"}, `invalid value "abc" for flag -rate`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-mode", "half-open"}, `-mode "half-open"`},
		{[]string{"-arrival", "users"}, `-arrival "users"`},
		{[]string{"-rate", "0"}, "-rate/-vus must be positive"},
		{[]string{"-rate", "-3"}, "-rate/-vus must be positive"},
		{[]string{"-duration", "0s"}, "-duration must be positive"},
		{[]string{"-stages", "30s:0->abc"}, `-stages: stage 1 "30s:0->abc"`},
		{[]string{"-stages", "10s:5", "-rate", "3"}, "-stages replaces"},
		{[]string{"-mode", "closed", "-rate", "3"}, "-rate is for -mode open"},
		{[]string{"-vus", "3"}, "-vus is for -mode closed"},
		{[]string{"-mode", "closed", "-vus", "200000"}, "capped at 100000"},
		{[]string{"-max-concurrency", "0"}, "-max-concurrency must be positive"},
		{[]string{"-think", "2s-1s"}, "below the minimum"},
		{[]string{"-think", "soon"}, "-think"},
		{[]string{"-timeout", "0s"}, "-timeout must be positive"},
		{[]string{"-grace", "-1s"}, "-grace must not be negative"},
		{[]string{"-zipf-s", "1"}, "-zipf-s must be greater than 1"},
		{[]string{"-mix", "browse=1,shoplift=2"}, `unknown scenario "shoplift"`},
		{[]string{"-mix", "browse=-1"}, "non-negative"},
		{[]string{"-mix", "browse=0"}, "no scenario has a positive weight"},
		{[]string{"-mix", "browse=1,browse=2"}, "given twice"},
		{[]string{"-target", "localhost:8080"}, "-target"},
		{[]string{"-target", "ftp://127.0.0.1/"}, "want an http"},
		{[]string{"-url", "http://127.0.0.1:1/", "-mix", "browse=1"}, "-url and -mix"},
		{[]string{"-threshold", "p95<300"}, "wants a unit"},
		{[]string{"-threshold", "GET /api/nope:p95<1s"}, "unknown endpoint"},
		{[]string{"-mode", "closed", "-threshold", "missed<1%"}, "no schedule to miss"},
		{[]string{"-abort-on-fail"}, "needs at least one -threshold"},
		{[]string{"-run-id", "has space"}, "-run-id"},
		{[]string{"-top", "5000"}, "-top"},
		{[]string{"-jaeger-url", "jaeger"}, "-jaeger-url"},
		{[]string{"-html", missingDir}, "-html"},
		{[]string{"-metrics-addr", "127.0.0.1:99999"}, "-metrics-addr"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"-target", srv.URL}, tt.args...)
			var stdout, stderr bytes.Buffer
			err := Main(context.Background(), args, testEnv(nil), &stdout, &stderr, Telemetry{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if code := ExitCode(err); code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			if hits.Load() != 0 {
				t.Fatalf("%d requests reached the target", hits.Load())
			}
		})
	}
}

func TestMain_Help_PrintsUsageAndSucceeds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := Main(context.Background(), []string{"-h"}, testEnv(nil), &stdout, &stderr, Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-stages", "-threshold", "checkout", "Exit codes"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), ExitFailure},
		{&ExitError{Code: ExitThresholds, Err: errors.New("p99")}, ExitThresholds},
		{errors.Join(errors.New("x"), &ExitError{Code: ExitInterrupted, Err: context.Canceled}), ExitInterrupted},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestParseConfig_DefaultsFromEnvironment(t *testing.T) {
	cfg, err := parseConfig(nil, testEnv(map[string]string{
		"LOADGEN_TARGET": "http://gateway.internal:8080",
		"JAEGER_UI_URL":  "http://jaeger.internal:16686/",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.target.String() != "http://gateway.internal:8080" || cfg.jaegerURL != "http://jaeger.internal:16686" {
		t.Errorf("target %s, jaeger %s", cfg.target, cfg.jaegerURL)
	}
	if cfg.progress {
		t.Error("progress line on a non-terminal")
	}
	if len(cfg.mix) != len(shopper.Scenarios()) || cfg.seed == 0 || cfg.runID == "" {
		t.Errorf("mix %d scenarios, seed %d, run id %q", len(cfg.mix), cfg.seed, cfg.runID)
	}
}
