package payments

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/flags"
)

// The faults payments can be told to have (deploy/flags/shop.flags.json).
const (
	faultSlowProcessor = "paymentsSlowProcessor"
	faultBrandOutage   = "paymentsBrandOutage"
	faultFraudLock     = "paymentsFraudLock"
)

var faults = []flags.Spec{
	{Key: faultSlowProcessor, Service: "payments", Needs: flags.NeedDelay,
		Summary: "the card processor answers a share of charges late (delay)"},
	{Key: faultBrandOutage, Service: "payments",
		Summary: "the processor fails every charge of one card brand (targeting on cardBrand)"},
	{Key: faultFraudLock, Service: "payments", Needs: flags.NeedDelay,
		Summary: "fraud screening holds its process-wide lock while it waits for the scoring call (delay)"},
}

// fraudScreen counts charges per card brand (a velocity check) before each
// authorisation. The count is guarded by one mutex, held for a few nanoseconds —
// unless the fault keeps it held across the (simulated) remote scoring call, and
// every charge of the process queues behind it.
type fraudScreen struct {
	mu       sync.Mutex
	velocity map[string]int
	fault    *flags.Fault
	tracer   trace.Tracer
}

func (f *fraudScreen) screen(ctx context.Context, brand string) error {
	v, slowUnderLock := f.fault.On(ctx)
	ctx, span := f.tracer.Start(ctx, "fraud screen")
	defer span.End()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.velocity[brand]++
	span.SetAttributes(attribute.Int("shop.payment.brand_velocity", f.velocity[brand]))
	if slowUnderLock {
		return f.score(ctx, v.Delay.D())
	}
	return nil
}

// score waits for the fraud-scoring service (simulated: it takes d).
func (f *fraudScreen) score(ctx context.Context, d time.Duration) error {
	return sleep(ctx, d)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
