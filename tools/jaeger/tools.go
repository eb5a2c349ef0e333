//go:build tools

// Package tools pins Jaeger v2 (module v1.62.0 is Jaeger 2.0.0-rc2) that local
// mode runs (internal/localstack) with deploy/jaeger/config.yaml. The module
// is kept apart from the shop's go.mod because Jaeger's dependency graph is
// huge. Build with tools/build.sh; the binary lands in bin/.
package tools

import (
	_ "github.com/jaegertracing/jaeger/cmd/jaeger"
)
