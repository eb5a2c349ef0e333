package telemetry

import (
	"log/slog"
	"sync"
	"time"
)

// exportErrorHandler logs the SDK's export errors at most once per interval, saying how
// many it held back: a collector that is down fails every batch of every signal, and
// one line a minute tells the operator as much as a thousand.
type exportErrorHandler struct {
	logger   *slog.Logger
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newExportErrorHandler(logger *slog.Logger, interval time.Duration) *exportErrorHandler {
	return &exportErrorHandler{logger: logger, interval: interval}
}

func (h *exportErrorHandler) Handle(err error) {
	h.mu.Lock()
	now := time.Now()
	if now.Sub(h.last) < h.interval {
		h.suppressed++
		h.mu.Unlock()
		return
	}
	suppressed := h.suppressed
	h.last, h.suppressed = now, 0
	h.mu.Unlock()
	h.logger.Warn("telemetry export failing; signals are dropped while it does", "error", err, "errors_since_last_report", suppressed)
}
