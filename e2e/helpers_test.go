package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/procfs"
	"github.com/otelshop/shop/internal/shoptest"
)

// sample is one series of an instant query's answer.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float() float64 {
	f, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	return f
}

// query runs an instant PromQL query against the real Prometheus.
func query(t *testing.T, promQL string) []sample {
	t.Helper()
	return prometheusAPI(t, "query", url.Values{"query": {promQL}})
}

// queryRange runs a PromQL range query and returns its series (each with its
// labels; the values of a range are not decoded).
func queryRange(t *testing.T, promQL string, start, end time.Time, step time.Duration) []sample {
	t.Helper()
	return prometheusAPI(t, "query_range", url.Values{"query": {promQL}, "start": {strconv.FormatInt(start.Unix(), 10)},
		"end": {strconv.FormatInt(end.Unix(), 10)}, "step": {step.String()}})
}

func prometheusAPI(t *testing.T, endpoint string, params url.Values) []sample {
	t.Helper()
	var out struct {
		Data struct {
			Result []sample `json:"result"`
		}
	}
	u := platform.PrometheusURL + "/api/v1/" + endpoint + "?" + params.Encode()
	if err := shoptest.GetJSON(context.Background(), u, &out); err != nil {
		t.Fatalf("%s %s: %v", endpoint, params.Get("query"), err)
	}
	return out.Data.Result
}

// eventually retries check until it passes or the pipeline has had ample time: metric
// exports every 5 s, spanmetrics flush every 15 s, Prometheus scrapes every 15 s.
func eventually(t *testing.T, check func() error) {
	t.Helper()
	shoptest.Eventually(t, 60*time.Second, check)
}

// labelValues collects the distinct values of label over samples.
func labelValues(samples []sample, label string) map[string]bool {
	out := map[string]bool{}
	for _, s := range samples {
		out[s.Metric[label]] = true
	}
	return out
}

func missing(have map[string]bool, want []string) []string {
	var out []string
	for _, w := range want {
		if !have[w] {
			out = append(out, w)
		}
	}
	return out
}

func serviceNames() []string { return app.Names() }

// rssKiB reads a process's resident set size from /proc.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// dropStores removes what the run created in PostgreSQL, Redis and RabbitMQ.
func dropStores(prefix string) {
	st := shoptest.Stores{
		PostgresURL: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		RedisURL:    "redis://127.0.0.1:6379/0",
		RabbitURL:   "amqp://guest:guest@127.0.0.1:5672/",
	}
	if err := shoptest.RemoveStores(st, prefix, prefix+".events", prefix+".shipping"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: clean up:", err)
	}
}

// syncBuilder is a strings.Builder safe for a process's output goroutines.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sampleStores samples, every second until the returned function is called,
// how much memory each store's processes hold together (proportional set size,
// so shared pages are counted once), and returns the peaks in KiB.
func sampleStores() (stop func() map[string]int) {
	peaks := map[string]int{}
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	sample := func() {
		now := procfs.SumByStore(procfs.PSSKiB)
		mu.Lock()
		for store, kib := range now {
			peaks[store] = max(peaks[store], kib)
		}
		mu.Unlock()
	}
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() map[string]int {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(peaks)
	}
}
