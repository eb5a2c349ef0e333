package shoptest

import (
	"bytes"
	"context"
	"sync"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// LogCapture keeps every log record exported through OTLP.
type LogCapture struct {
	mu      sync.Mutex
	records []sdklog.Record
}

var _ sdklog.Exporter = (*LogCapture)(nil)

func (c *LogCapture) Export(_ context.Context, records []sdklog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range records {
		c.records = append(c.records, r.Clone())
	}
	return nil
}

func (c *LogCapture) Shutdown(context.Context) error   { return nil }
func (c *LogCapture) ForceFlush(context.Context) error { return nil }

// Records returns a copy of what was captured so far.
func (c *LogCapture) Records() []sdklog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sdklog.Record(nil), c.records...)
}

// SyncBuffer is a bytes.Buffer safe for the many goroutines that log.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

type discardLogs struct{}

func (discardLogs) Export(context.Context, []sdklog.Record) error { return nil }
func (discardLogs) Shutdown(context.Context) error                { return nil }
func (discardLogs) ForceFlush(context.Context) error              { return nil }
