package shipping

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/internal/service"
)

// The faults shipping can be told to have (deploy/flags/shop.flags.json).
const (
	faultCarrierStall  = "shippingCarrierStall"
	faultTrackerLeak   = "shippingTrackerLeak"
	maxLeakedTrackers  = 20_000
	carrierBookingSpan = "carrier book pickup"
)

var faults = []flags.Spec{
	{Key: faultCarrierStall, Service: "shipping", Needs: flags.NeedDelay,
		Summary: "the carrier's booking API hangs for delay before answering (targeting on country): the consumer stalls and the queue backs up"},
	{Key: faultTrackerLeak, Service: "shipping", Needs: flags.NeedAmount, AmountUnit: "goroutines per shipment",
		Summary: "every shipment starts tracking watchers that wait for a channel nobody closes (amount per shipment)"},
}

// carrier books pickups with the shipment's carrier; the booking API is
// simulated: it answers at once, unless the fault makes it hang.
type carrier struct {
	stall  *flags.Fault
	tracer trace.Tracer
}

func (c *carrier) bookPickup(ctx context.Context, country string) error {
	ctx, span := c.tracer.Start(ctx, carrierBookingSpan, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	v, on := c.stall.Eval(ctx, flags.Subject{Country: country})
	if !on {
		return nil
	}
	if err := service.Sleep(ctx, v.Delay.D()); err != nil {
		span.RecordError(err)
		return err
	}
	return nil
}

// trackers is the leak of the shippingTrackerLeak fault: watchers that wait
// for a tracking update channel no one ever writes or closes. Turning the fault
// off closes it (a drill leaves the process as it found it); a real leak would
// keep them until the process restarts.
type trackers struct {
	fault   *flags.Fault
	mu      sync.Mutex
	updates chan struct{}
	leaked  int
}

func (t *trackers) start(ctx context.Context) {
	v, on := t.fault.On(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !on {
		if t.updates != nil {
			close(t.updates)
			t.updates, t.leaked = nil, 0
		}
		return
	}
	if t.updates == nil {
		t.updates = make(chan struct{})
	}
	for range min(v.Amount, maxLeakedTrackers-t.leaked) {
		t.leaked++
		go watchTracking(t.updates)
	}
}

// watchTracking waits for tracking updates of a shipment.
func watchTracking(updates <-chan struct{}) {
	<-updates
}
