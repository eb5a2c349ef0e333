package auth

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// UnaryGuard lets an RPC in for a service token holding one of the roles its
// method is allowed to (by full method name); a method not listed is refused.
func (g Guard) UnaryGuard(allowed map[string][]string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		roles, ok := allowed[info.FullMethod]
		if !ok {
			if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") {
				return handler(ctx, req) // probes carry no credentials
			}
			return nil, status.Error(codes.PermissionDenied, "no one may call "+info.FullMethod)
		}
		var token string
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get("authorization"); len(v) > 0 {
				token, _ = strings.CutPrefix(v[0], "Bearer ")
			}
		}
		caller, err := g.Verifier.Service(token)
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, unauthorized("caller", err).Message)
		}
		if !caller.Has(roles...) {
			return nil, status.Errorf(codes.PermissionDenied, "%s may not call %s", caller.Name, info.FullMethod)
		}
		return handler(context.WithValue(ctx, callerKey{}, caller), req)
	}
}
