// Package dashboards defines the shop's Grafana dashboards in Go and holds the
// JSON files generated from them (one per dashboard, named by uid), which
// Grafana provisions from this folder (deploy/grafana/provisioning/dashboards).
//
// Every query uses the metric and label names the pipeline really stores in
// Prometheus (OTLP translation UnderscoreEscapingWithSuffixes, resource
// attributes service.name and deployment.environment.name promoted to labels);
// e2e/dashboards_test.go runs each one against a live stack.
//
// Regenerate after editing the Go code:
//
//	go generate ./dashboards
package dashboards

//go:generate go run ../cmd/dashboards -out .
