# The shop's developer commands. `make test` is what CI runs (.ci/run).

.PHONY: test chart-test vet build run bench bench-overhead soak fuzz proto storefront-bundle drills help

GO_TEST_FLAGS ?= -count=1 -timeout 40m

test: tools vet chart-test ## run every test: unit, invariants against the real stores, end to end, and each fuzz target briefly
	go test $(GO_TEST_FLAGS) ./...
	tools/fuzz.sh 3s

chart-test: ## the Helm chart (deploy/helm/shop) rendered and checked offline; a module of its own (make -j test runs it beside tools and vet)
	cd deploy/helm && go vet ./... && go test $(GO_TEST_FLAGS) ./...

fuzz: ## every fuzz target for FUZZTIME (default 1m) each
	tools/fuzz.sh $(or $(FUZZTIME),1m)

vet: ## gofmt and go vet
	@unformatted=$$(find . -name '*.go' -not -path './bin/*' -not -path './.git/*' | xargs gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...

build: ## build the shop binary into bin/shop
	go build -o bin/shop ./cmd/shop

run: build ## run the whole shop in one process against local PostgreSQL, Redis and RabbitMQ
	bin/shop all

bench: ## the Go benchmarks (instrumentation overhead, load generator)
	go test -run '^$$' -bench . -benchmem ./telemetry/ ./loadtest/...

bench-overhead: tools ## what telemetry costs: the shop with it off and on, side by side, 3 rounds per path (bin/overhead.json)
	go run ./cmd/overhead -json bin/overhead.json

soak: tools ## measure every process's memory unconstrained, ten minutes of load (the figures behind compose.yaml's limits)
	E2E_MEMORY=measure E2E_LOAD_DURATION=10m go test -count=1 -timeout 40m -run 'TestMemory|TestFigures' -v ./e2e/

storefront-bundle: ## rebuild the storefront's browser script (services/gateway/storefront/static/storefront.js) from web/ and its lock file
	cd services/gateway/storefront/web && npm ci --no-audit --no-fund --ignore-scripts && npm run build

drills: tools ## every fault of the catalogue against local mode: detected, explained, resolved (bin/drills.md)
	tools/drills.sh $(DRILLS)

proto: ## regenerate the inventory gRPC code (needs protoc, protoc-gen-go, protoc-gen-go-grpc)
	go generate ./services/inventory/inventorypb

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

include tools/tools.mk
