# Tool targets, included by the top-level Makefile (include tools/tools.mk).
# The telemetry backends local mode runs are built into bin/ (git-ignored) by
# tools/build.sh, which skips what is already built and up to date.

.PHONY: tools tools-check tools-clean localstack

tools: ## build the collector (bin/otelcol), Prometheus + promtool and Jaeger into bin/
	tools/build.sh all

tools-check: tools ## validate the collector, Prometheus and rules configs with the built tools
	bin/otelcol validate --config otel-collector.yaml
	bin/otelcol validate --config otel-collector.yaml --config otel-collector.local.yaml
	bin/promtool check config deploy/prometheus/prometheus.yml

tools-clean: ## remove the built tools (the Go build cache keeps rebuilds fast)
	rm -rf bin/builder bin/otelcol bin/otelcol-build bin/prometheus bin/promtool bin/jaeger bin/localstack

localstack: tools ## run collector, Jaeger, Prometheus and `shop all` as local processes (Ctrl-C stops)
	go build -o bin/localstack ./cmd/localstack
	bin/localstack
