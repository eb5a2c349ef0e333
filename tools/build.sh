#!/usr/bin/env bash
# Builds the telemetry backends that local mode runs (internal/localstack) into
# bin/ at the repository root. Idempotent: a binary newer than every input it
# is built from is left alone, so a second run takes a second.
#
#   tools/build.sh                 # everything: builder otelcol prometheus jaeger
#   tools/build.sh otelcol jaeger  # only these
#   tools/build.sh otelcol-tidy    # refresh tools/otelcol/go.sum after a version bump
#
# Each tool lives in its own module under tools/ so that the shop's go.mod
# stays lean: their dependency graphs are huge. Builds run under nice because
# the build machines' two cores are shared.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/bin
builder_version=v0.155.0
nice=(nice -n 19)
# Prometheus's service discovery for clouds and orchestrators (AWS, Azure, GCE,
# Consul, ...) is most of its build; the shop only scrapes static targets.
# Prometheus 3.12's plugins honour this tag (file and HTTP discovery stay), and
# so does the collector's prometheus receiver, which imports the same plugins.
# It cuts the cold build of Prometheus and promtool from ~9 to ~4 minutes.
sd_tags=remove_all_sd

log() { printf 'tools/build.sh: %s\n' "$*" >&2; }

# up_to_date OUT INPUT...: OUT exists and is newer than every INPUT.
up_to_date() {
	local out=$1 input
	shift
	[[ -x $out ]] || return 1
	for input in "$@"; do
		[[ $out -nt $input ]] || return 1
	done
}

# module_version DIR MODULE: the version DIR/go.mod requires of MODULE.
module_version() {
	awk -v m="$2" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$1/go.mod" | head -n1
}

build_builder() {
	local installed=""
	# Read the whole output first: grep -q closing the pipe early would fail
	# the pipeline under pipefail.
	[[ -x $bin/builder ]] && installed=$("$bin/builder" version 2>&1 || true)
	if [[ $installed == *"$builder_version"* ]]; then
		log "builder $builder_version up to date"
		return
	fi
	log "installing the OpenTelemetry Collector Builder $builder_version"
	GOBIN=$bin "${nice[@]}" go install "go.opentelemetry.io/collector/cmd/builder@$builder_version"
}

build_otelcol() {
	build_builder
	local dir=$root/tools/otelcol out=$bin/otelcol-build
	if up_to_date "$bin/otelcol" "$dir/manifest.yaml" "$dir/go.mod" "$dir/go.sum" "$bin/builder" "$root/tools/build.sh"; then
		log "otelcol up to date"
		return
	fi
	log "building otelcol from tools/otelcol/manifest.yaml"
	generate_otelcol
	# The module graph is committed (tools/otelcol/go.mod, go.sum), so every
	# machine compiles the same versions; resolving it here instead would pick
	# whatever is newest that day, and the proxy refuses the newest.
	cp "$dir/go.mod" "$dir/go.sum" "$out/"
	(cd "$out" && "${nice[@]}" go build -trimpath -tags "$sd_tags" -ldflags "-s -w" -o "$bin/otelcol" .)
}

# generate_otelcol writes the distribution's sources (main.go, components.go)
# into bin/otelcol-build. --skip-get-modules: the builder would resolve the
# module graph itself and fail on test-only modules the proxy refuses (403).
generate_otelcol() {
	rm -rf "$bin/otelcol-build"
	(cd "$root" && "${nice[@]}" "$bin/builder" --config tools/otelcol/manifest.yaml --skip-compilation --skip-get-modules)
}

# tidy_otelcol refreshes tools/otelcol/go.sum (and the indirect requirements
# in go.mod) after a component's version changed in manifest.yaml and go.mod.
# -e tolerates the test-only modules the proxy refuses; a module the binary
# needs would still fail the compile that follows.
tidy_otelcol() {
	build_builder
	local dir=$root/tools/otelcol out=$bin/otelcol-build
	generate_otelcol
	cp "$dir/go.mod" "$dir/go.sum" "$out/"
	(cd "$out" && "${nice[@]}" go mod tidy -e >tidy.log 2>&1) || { cat "$out/tidy.log" >&2; return 1; }
	log "go mod tidy -e: $(grep -c '403 Forbidden' "$out/tidy.log" || true) test-only modules refused by the proxy, ignored (see bin/otelcol-build/tidy.log)"
	cp "$out/go.mod" "$out/go.sum" "$dir/"
	build_otelcol
}

build_prometheus() {
	local dir=$root/tools/prometheus version
	if up_to_date "$bin/prometheus" "$dir/go.mod" "$dir/go.sum" "$root/tools/build.sh" &&
		up_to_date "$bin/promtool" "$dir/go.mod" "$dir/go.sum" "$root/tools/build.sh"; then
		log "prometheus, promtool up to date"
		return
	fi
	# Module v0.3MM.P is Prometheus 3.MM.P; stamp it so --version tells the truth.
	version=$(module_version "$dir" github.com/prometheus/prometheus | sed -E 's/^v0\.3([0-9]{2})\.([0-9]+)$/3.\1.\2/; s/^3\.0([0-9])/3.\1/')
	log "building prometheus, promtool $version"
	(
		cd "$dir"
		local ldflags="-s -w -X github.com/prometheus/common/version.Version=$version"
		"${nice[@]}" go build -trimpath -tags "$sd_tags" -ldflags "$ldflags" -o "$bin/prometheus" github.com/prometheus/prometheus/cmd/prometheus
		"${nice[@]}" go build -trimpath -tags "$sd_tags" -ldflags "$ldflags" -o "$bin/promtool" github.com/prometheus/prometheus/cmd/promtool
	)
}

build_jaeger() {
	local dir=$root/tools/jaeger
	if up_to_date "$bin/jaeger" "$dir/go.mod" "$dir/go.sum"; then
		log "jaeger up to date"
		return
	fi
	log "building jaeger $(module_version "$dir" github.com/jaegertracing/jaeger)"
	(
		cd "$dir"
		"${nice[@]}" go build -trimpath -ldflags "-s -w" -o "$bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
	)
}

main() {
	mkdir -p "$bin"
	local targets=("$@") target
	if [[ ${#targets[@]} -eq 0 || ${targets[0]} == all ]]; then
		targets=(builder otelcol prometheus jaeger)
	fi
	for target in "${targets[@]}"; do
		case $target in
		builder | otelcol | prometheus | jaeger) "build_$target" ;;
		otelcol-tidy) tidy_otelcol ;;
		promtool) build_prometheus ;;
		*)
			log "unknown tool $target (want builder, otelcol, otelcol-tidy, prometheus, promtool, jaeger or all)"
			exit 2
			;;
		esac
	done
}

main "$@"
