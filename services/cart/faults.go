package cart

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/otelshop/shop/internal/flags"
)

// The faults cart can be told to have (deploy/flags/shop.flags.json).
const faultMemoryLeak = "cartMemoryLeak"

var faults = []flags.Spec{
	{Key: faultMemoryLeak, Service: "cart", Needs: flags.NeedAmount, AmountUnit: "KiB per request",
		Summary: "every cart answer is also kept in a debugging history that nothing trims (amount KiB a request, up to 40 MiB)"},
}

// leakCap bounds the history, so the fault starves the process of memory
// without killing it under its container's limit.
const leakCap = 40 << 20

// responseHistory is the leak of the cartMemoryLeak fault: a copy of every cart
// answer, padded to the fault's size, kept for "debugging" and never trimmed.
// When the fault goes off the history is dropped, so a drill leaves the process
// as it found it.
type responseHistory struct {
	fault *flags.Fault
	bytes atomic.Int64
	mu    sync.Mutex
	kept  [][]byte
}

func (h *responseHistory) keep(ctx context.Context, c Cart) {
	v, on := h.fault.On(ctx)
	if !on && h.bytes.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !on {
		h.kept = nil
		h.bytes.Store(0)
		return
	}
	if h.bytes.Load() >= leakCap {
		return
	}
	snap := snapshot(c, v.Amount<<10)
	h.kept = append(h.kept, snap)
	h.bytes.Add(int64(len(snap)))
}

// snapshot is the cart's JSON repeated to fill size bytes (every page written,
// so the memory is really used).
func snapshot(c Cart, size int) []byte {
	b, _ := json.Marshal(c)
	if len(b) == 0 {
		b = []byte("{}")
	}
	out := make([]byte, size)
	for i := 0; i < size; i += copy(out[i:], b) {
	}
	return out
}
