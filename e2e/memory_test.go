package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/otelshop/shop/internal/localstack"
)

// Every process that stands in for a container ran the whole load under that
// container's memory limit (compose.yaml) with its GOMEMLIMIT: none was killed,
// and none reached its limit, which in a container means reclaim stalls first and
// the OOM killer next. A limit lowered below need fails here.
func TestMemory_EveryProcessStaysUnderItsComposeLimit(t *testing.T) {
	if !platform.MemoryLimited {
		if os.Getenv("CI") != "" {
			t.Fatalf("the CI machines can put processes in memory cgroups, but not this run: %s", platform.MemoryLimitsSkip)
		}
		t.Skipf("processes ran without memory limits: %s", platform.MemoryLimitsSkip)
	}
	type row struct {
		name  string
		usage localstack.MemoryUsage
	}
	var rows []row
	for _, b := range platform.Stack.Backends() {
		u, err := platform.Stack.MemoryUsage(b.Name)
		if err != nil {
			t.Errorf("%s: %v", b.Name, err)
			continue
		}
		rows = append(rows, row{b.Name, u})
	}
	rows = append(rows, row{"loadgen", platform.LoadMemory})
	if len(rows) < 12 {
		t.Errorf("%d processes ran under a limit, want the collector, Prometheus, Jaeger, 8 services and the load generator", len(rows))
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.name, b.name) })
	var table strings.Builder
	fmt.Fprintf(&table, "%-11s %9s %9s %5s %5s %4s\n", "process", "peak MiB", "limit MiB", "used", "hits", "oom")
	for _, r := range rows {
		u := r.usage
		fmt.Fprintf(&table, "%-11s %9.1f %9.1f %4.0f%% %5d %4d\n", r.name, mib(u.Peak), mib(u.Limit),
			100*float64(u.Peak)/float64(u.Limit), u.LimitHits, u.OOMKills)
		switch {
		case u.Limit <= 0:
			t.Errorf("%s ran without a limit", r.name)
		case u.OOMKills > 0:
			t.Errorf("%s: killed %d times for want of memory under its %.0f MiB limit", r.name, u.OOMKills, mib(u.Limit))
		case u.LimitHits > 0:
			t.Errorf("%s: reached its %.0f MiB limit %d times (peak %.1f MiB)", r.name, mib(u.Limit), u.LimitHits, mib(u.Peak))
		}
	}
	t.Logf("memory under the compose limits, %s of load:\n%s", loadDuration(), table.String())
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }
