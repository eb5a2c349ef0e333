package drill

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A drill whose alert ignores young processes waits until the service's
// youngest process is old enough, and no longer: the first answers are too
// young, then one is old enough.
func TestWaitUptime_UntilTheYoungestProcessIsOldEnough(t *testing.T) {
	var asked atomic.Int32
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want := `min(process_uptime_seconds{service_name="cart"})`; r.URL.Path != "/api/v1/query" || r.URL.Query().Get("query") != want {
			t.Errorf("asked %s %q, want /api/v1/query %q", r.URL.Path, r.URL.Query().Get("query"), want)
		}
		uptime := []string{"12.5", "200", "301"}[min(int(asked.Add(1))-1, 2)]
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"%s"]}]}}`, uptime)
	}))
	defer prom.Close()
	cfg := Config{Backends: Backends{Prometheus: prom.URL}, Poll: time.Millisecond, Log: io.Discard}
	d := Drill{Fault: "cartMemoryLeak", Labels: map[string]string{"service_name": "cart"}, MinUptime: 5 * time.Minute}
	if err := waitUptime(context.Background(), cfg, d, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	if n := asked.Load(); n != 3 {
		t.Errorf("Prometheus asked %d times, want 3 (until the answer was 301 s)", n)
	}
}
