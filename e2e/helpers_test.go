package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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
	var out struct {
		Status string
		Data   struct {
			Result []sample `json:"result"`
		}
	}
	u := platform.PrometheusURL + "/api/v1/query?query=" + url.QueryEscape(promQL)
	if err := shoptest.GetJSON(context.Background(), u, &out); err != nil {
		t.Fatalf("query %s: %v", promQL, err)
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

func serviceNames() []string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.name
	}
	return names
}

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
