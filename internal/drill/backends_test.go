package drill

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// A search for traces older than some age asks Jaeger for a window that ends
// that long ago, and asks nothing while the window is still empty.
func TestSearch_OlderThanEndsTheWindowEarlier(t *testing.T) {
	var asked atomic.Int32
	var end atomic.Int64
	jaeger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		us, _ := strconv.ParseInt(r.URL.Query().Get("end"), 10, 64)
		end.Store(us)
		w.Write([]byte(`{"data":[]}`))
	}))
	defer jaeger.Close()
	b := Backends{Jaeger: jaeger.URL, HTTP: jaeger.Client()}
	now := time.Now()
	s := Search{Service: "orders", OlderThan: 30 * time.Second}

	if _, err := b.search(context.Background(), s, now.Add(-10*time.Second), now); err != nil {
		t.Fatal(err)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("a window of the last 10 s holds no trace 30 s old, yet Jaeger was asked %d times", n)
	}
	if _, err := b.search(context.Background(), s, now.Add(-2*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if got, latest := time.UnixMicro(end.Load()), now.Add(-29*time.Second); asked.Load() != 1 || got.After(latest) {
		t.Errorf("asked %d times, window ending %s before now; want once, ending 30 s before now", asked.Load(), now.Sub(got).Round(time.Second))
	}
}
