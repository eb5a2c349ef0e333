//go:build tools

// Package tools pins the Prometheus server and promtool that local mode runs
// (internal/localstack) and that check deploy/prometheus/. The module is kept
// apart from the shop's go.mod because Prometheus's dependency graph is huge.
// Build with tools/build.sh; the binaries land in bin/.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
