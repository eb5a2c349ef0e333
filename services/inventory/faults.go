package inventory

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelshop/shop/internal/flags"
	"github.com/otelshop/shop/services/inventory/inventorypb"
)

// The faults inventory can be told to have (deploy/flags/shop.flags.json).
const faultUnavailable = "inventoryUnavailable"

var faults = []flags.Spec{
	{Key: faultUnavailable, Service: "inventory",
		Summary: "the server sheds a share of its calls with gRPC UNAVAILABLE, as an overloaded one does"},
}

// shedLoad is the admission control of the Inventory API: while the fault is on
// it refuses a share of calls before they reach the handler, the answer an
// overloaded gRPC server gives so that clients back off and retry elsewhere.
func shedLoad(fault *flags.Fault) grpc.UnaryServerInterceptor {
	prefix := "/" + inventorypb.Inventory_ServiceDesc.ServiceName + "/"
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if strings.HasPrefix(info.FullMethod, prefix) {
			if _, shed := fault.On(ctx); shed {
				return nil, status.Error(codes.Unavailable, "inventory is over capacity: call shed, retry with backoff")
			}
		}
		return handler(ctx, req)
	}
}
