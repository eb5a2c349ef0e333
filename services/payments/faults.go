package payments

import (
	"github.com/otelshop/shop/internal/flags"
)

// The faults payments can be told to have (deploy/flags/shop.flags.json).
const (
	faultSlowProcessor = "paymentsSlowProcessor"
	faultBrandOutage   = "paymentsBrandOutage"
)

var faults = []flags.Spec{
	{Key: faultSlowProcessor, Service: "payments", Needs: flags.NeedDelay,
		Summary: "the card processor answers a share of charges late (delay)"},
	{Key: faultBrandOutage, Service: "payments",
		Summary: "the processor fails every charge of one card brand (targeting on cardBrand)"},
}
