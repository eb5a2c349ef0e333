#!/usr/bin/env bash
# make drills: the whole fault catalogue, resolution included, against local
# mode (the collector, Prometheus and Jaeger built here, the Pyroscope and Loki
# stand-ins, one process per service). Writes the table to bin/drills.md and
# bin/drills.json; exits non-zero when a fault is not detected, explained and
# resolved. Usage: tools/drills.sh [NAME…|all]
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/shop ./cmd/shop
go build -o bin/localstack ./cmd/localstack
data=$(mktemp -d)
bin/localstack -data "$data" -shop bin/shop >"$data/localstack.out" 2>&1 &
stack=$!
trap 'kill -INT $stack 2>/dev/null; wait $stack 2>/dev/null; rm -rf "$data"' EXIT

# Ready when the gateway answers (the stack starts it last).
for _ in $(seq 300); do
	if curl -fsS -o /dev/null http://127.0.0.1:8080/readyz 2>/dev/null; then break; fi
	if ! kill -0 $stack 2>/dev/null; then cat "$data/localstack.out"; exit 1; fi
	sleep 1
done
bin/shop flags reset
bin/shop drill -json bin/drills.json -markdown bin/drills.md "${@:-all}"
