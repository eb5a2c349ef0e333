#!/usr/bin/env bash
# Builds the telemetry backends that local mode runs (internal/localstack) into
# bin/ at the repository root. Idempotent: a binary newer than every input it
# is built from is left alone, so a second run takes a second.
#
#   tools/build.sh                 # everything: builder otelcol prometheus jaeger
#   tools/build.sh otelcol jaeger  # only these
#
# Each tool lives in its own module under tools/ so that the shop's go.mod
# stays lean: their dependency graphs are huge. Builds run under nice because
# the build machines' two cores are shared.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/bin
builder_version=v0.155.0
nice=(nice -n 19)

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
	local manifest=$root/tools/otelcol/manifest.yaml out=$bin/otelcol-build
	if up_to_date "$bin/otelcol" "$manifest" "$bin/builder"; then
		log "otelcol up to date"
		return
	fi
	log "building otelcol from tools/otelcol/manifest.yaml"
	# The builder's own module step (go mod tidy) fails here: tests of
	# fileexporter and others import modules the proxy refuses (403). Those
	# are test-only, so generate, tidy with -e (tolerate them), then compile;
	# a module the binary really needs would still fail the compile.
	(
		cd "$root"
		"${nice[@]}" "$bin/builder" --config "$manifest" --skip-compilation --skip-get-modules
		# -e reports each refused test-only module; keep that noise in a file.
		(cd "$out" && "${nice[@]}" go mod tidy -e >tidy.log 2>&1) ||
			{ cat "$out/tidy.log" >&2; return 1; }
		log "go mod tidy -e: $(grep -c '403 Forbidden' "$out/tidy.log" || true) test-only modules refused by the proxy, ignored (see bin/otelcol-build/tidy.log)"
		"${nice[@]}" "$bin/builder" --config "$manifest" --skip-generate --skip-get-modules
	)
	mv "$out/otelcol" "$bin/otelcol"
}

build_prometheus() {
	local dir=$root/tools/prometheus version
	if up_to_date "$bin/prometheus" "$dir/go.mod" "$dir/go.sum" &&
		up_to_date "$bin/promtool" "$dir/go.mod" "$dir/go.sum"; then
		log "prometheus, promtool up to date"
		return
	fi
	# Module v0.3MM.P is Prometheus 3.MM.P; stamp it so --version tells the truth.
	version=$(module_version "$dir" github.com/prometheus/prometheus | sed -E 's/^v0\.3([0-9]{2})\.([0-9]+)$/3.\1.\2/; s/^3\.0([0-9])/3.\1/')
	log "building prometheus, promtool $version"
	(
		cd "$dir"
		local ldflags="-s -w -X github.com/prometheus/common/version.Version=$version"
		"${nice[@]}" go build -trimpath -ldflags "$ldflags" -o "$bin/prometheus" github.com/prometheus/prometheus/cmd/prometheus
		"${nice[@]}" go build -trimpath -ldflags "$ldflags" -o "$bin/promtool" github.com/prometheus/prometheus/cmd/promtool
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
		promtool) build_prometheus ;;
		*)
			log "unknown tool $target (want builder, otelcol, prometheus, promtool, jaeger or all)"
			exit 2
			;;
		esac
	done
}

main "$@"
