#!/usr/bin/env bash
# Measures the shop's own flag provider (internal/flags) against the OpenFeature
# flagd provider in in-process file mode (go-sdk-contrib providers/flagd v0.6.0):
# binary size, cold build time, modules, evaluation cost, start-up output and the
# behaviour issue 9 asks of a provider. Prints Markdown; takes about 10 minutes
# on a 2-core machine (a cold build of the shop is one of the figures).
#
#   tools/flagdcompare/measure.sh            # everything
#   SKIP_SHOP_COLD=1 tools/flagdcompare/measure.sh   # without the shop's cold build
#
# It never changes the main module's go.mod: the shop is built with the flagd
# provider linked in through a copy of go.mod (-modfile) and an overlay file.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
ROOT=$(cd ../.. && pwd)
BIN=$HERE/bin
TMP=$(mktemp -d)
trap 'chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir -p "$BIN"
FLAGD=github.com/open-feature/go-sdk-contrib/providers/flagd/pkg@v0.6.0
BUILD=(go build -trimpath -ldflags='-s -w')

mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
size() { stat -c %s "$1"; }

echo "# Flag provider: own vs flagd — measurements"
echo
echo "$(go version), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); run: tools/flagdcompare/measure.sh"
echo

# Modules are downloaded once here; every timed build below runs with GOPROXY=off.
go mod download
(cd "$ROOT" && go mod download)

echo "## Binary size (go build -trimpath -ldflags='-s -w')"
echo
echo "| program | what it links | size |"
echo "| --- | --- | --- |"
declare -A what=(
	[empty]="nothing (runtime only)"
	[telemetryonly]="the shop's telemetry package (internal/flags imports it; the shop has it anyway)"
	[own]="internal/flags: OpenFeature go-sdk v1.20.0 + jsonlogic + telemetry"
	[flagd]="flagd provider v0.6.0 in-process file mode + go-sdk"
	[check]="both, plus the behaviour checks"
)
for p in empty telemetryonly own flagd check; do
	"${BUILD[@]}" -o "$BIN/$p" "./cmd/$p"
	echo "| cmd/$p | ${what[$p]} | $(mib "$(size "$BIN/$p")") ($(size "$BIN/$p") B) |"
done
own_delta=$(($(size "$BIN/own") - $(size "$BIN/telemetryonly")))
echo
echo "The own provider weighs cmd/own − cmd/telemetryonly = $(mib $own_delta) ($own_delta B)."
echo

# The shop itself, as it is and with the flagd provider linked in (reachably, from
# an init that never runs): a copy of go.mod with the provider added, and an
# overlay file in cmd/shop. Nothing in the work tree changes.
cp "$ROOT/go.mod" "$TMP/go.mod"
cp "$ROOT/go.sum" "$TMP/go.sum"
(cd "$ROOT" && go get -modfile="$TMP/go.mod" "$FLAGD" 2>"$TMP/get.log")
cat >"$TMP/zz_flagd.go" <<'EOF'
package main

import (
	"os"

	flagd "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
	"github.com/open-feature/go-sdk/openfeature"
)

func init() {
	if path := os.Getenv("FLAGDCOMPARE_NEVER_SET"); path != "" {
		if p, err := flagd.NewProvider(flagd.WithInProcessResolver(), flagd.WithOfflineFilePath(path)); err == nil {
			_ = openfeature.SetProviderAndWait(p)
		}
	}
}
EOF
printf '{"Replace":{"%s":"%s"}}\n' "$ROOT/cmd/shop/zz_flagdcompare.go" "$TMP/zz_flagd.go" >"$TMP/overlay.json"
WITH_FLAGD=(-modfile="$TMP/go.mod" -overlay="$TMP/overlay.json")
(cd "$ROOT" && "${BUILD[@]}" -o "$BIN/shop" ./cmd/shop)
(cd "$ROOT" && "${BUILD[@]}" "${WITH_FLAGD[@]}" -o "$BIN/shop-with-flagd" ./cmd/shop)
shop=$(size "$BIN/shop")
shopf=$(size "$BIN/shop-with-flagd")
echo "### The shop binary"
echo
echo "| build | size |"
echo "| --- | --- |"
echo "| \`go build -trimpath -ldflags='-s -w' ./cmd/shop\` (today: own provider) | $(mib "$shop") |"
echo "| the same with the flagd provider linked in as well | $(mib "$shopf") (+$(mib $((shopf - shop))), +$(awk -v a="$shop" -v b="$shopf" 'BEGIN { printf "%.1f", (b - a) * 100 / a }') %) |"
echo
echo "The flagd build also upgrades what the provider requires: $(grep -E 'upgraded' "$TMP/get.log" | sed 's/^go: upgraded //' | paste -sd ';' | sed 's/;/; /g')."
echo
# What the own provider holds inside today's shop binary: the symbols of its
# packages and of the two modules it brings (code and data; pclntab not counted).
(cd "$ROOT" && go build -trimpath -o "$TMP/shop-symbols" ./cmd/shop)
go tool nm -size "$TMP/shop-symbols" | awk '
	{ n = $4; for (i = 5; i <= NF; i++) n = n " " $i }
	n ~ /open-feature\/go-sdk/ { s["github.com/open-feature/go-sdk"] += $2 }
	n ~ /diegoholiveira\/jsonlogic/ { s["github.com/diegoholiveira/jsonlogic/v3"] += $2 }
	n ~ /barkimedes\/go-deepcopy/ { s["github.com/barkimedes/go-deepcopy (jsonlogic)"] += $2 }
	n ~ /otelshop\/shop\/internal\/flags/ { s["internal/flags"] += $2 }
	END {
		print "Symbols of the own provider in today'"'"'s shop binary (`go tool nm -size`, unstripped build):"
		print ""
		print "| package | KiB |"
		print "| --- | --- |"
		for (k in s) { printf "| %s | %.1f |\n", k, s[k] / 1024; t += s[k] }
		printf "| total | %.1f |\n", t / 1024
	}'
echo

echo "## Modules"
echo
count_modules() { # dir: a throw-away module importing only what it names
	(cd "$1" && go mod tidy >/dev/null 2>&1 && go list -m all | wc -l)
}
mkdir -p "$TMP/m-flagd" "$TMP/m-own"
cat >"$TMP/m-flagd/main.go" <<'EOF'
package main

import (
	"os"

	flagd "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
	"github.com/open-feature/go-sdk/openfeature"
)

func main() {
	p, err := flagd.NewProvider(flagd.WithInProcessResolver(), flagd.WithOfflineFilePath(os.Args[1]))
	if err == nil {
		_ = openfeature.SetProviderAndWait(p)
	}
}
EOF
cat >"$TMP/m-own/main.go" <<'EOF'
package main

import (
	"github.com/diegoholiveira/jsonlogic/v3"
	"github.com/open-feature/go-sdk/openfeature"
)

func main() {
	_, _ = jsonlogic.ApplyInterface(map[string]any{"var": "x"}, map[string]any{"x": 1})
	_ = openfeature.NewDefaultClient()
}
EOF
(cd "$TMP/m-flagd" && go mod init flagdcompare.tmp/flagd >/dev/null 2>&1 && go get "$FLAGD" >/dev/null 2>&1)
(cd "$TMP/m-own" && go mod init flagdcompare.tmp/own >/dev/null 2>&1 &&
	go get github.com/open-feature/go-sdk@v1.20.0 github.com/diegoholiveira/jsonlogic/v3@v3.5.1 >/dev/null 2>&1)
shop_mods=$(cd "$ROOT" && go list -m all | wc -l)
shopf_mods=$(cd "$ROOT" && go list -modfile="$TMP/go.mod" -m all | wc -l)
echo "| count | own | flagd |"
echo "| --- | --- | --- |"
echo "| \`go list -m all \| wc -l\` of a module whose program imports only that provider's third-party modules | $(count_modules "$TMP/m-own") (go-sdk + jsonlogic) | $(count_modules "$TMP/m-flagd") |"
echo "| modules whose packages are linked into cmd/own, cmd/flagd (\`go list -deps\`) | $(go list -deps -f '{{with .Module}}{{.Path}}{{end}}' ./cmd/own | sort -u | wc -l) (incl. telemetry's) | $(go list -deps -f '{{with .Module}}{{.Path}}{{end}}' ./cmd/flagd | sort -u | wc -l) |"
echo "| the shop's \`go list -m all \| wc -l\` | $shop_mods (today) | $shopf_mods (+$((shopf_mods - shop_mods))) |"
echo

echo "## Cold build time"
echo
echo "Fresh GOCACHE in a temporary directory for every build, modules already downloaded (GOPROXY=off), wall time and CPU (user + sys) of \`go build -trimpath -ldflags='-s -w'\`; two runs each. The machine is shared: CPU seconds are the steadier figure."
echo
echo "| program | run 1 | run 2 |"
echo "| --- | --- | --- |"
cold() { # label, dir, build args...
	local label=$1 dir=$2
	shift 2
	local row="| $label |"
	for run in 1 2; do
		local cache
		cache=$(mktemp -d "$TMP/gocache.XXXX")
		(cd "$dir" && GOCACHE=$cache GOPROXY=off /usr/bin/time -f '%e %U %S' -o "$TMP/time" "${BUILD[@]}" -o /dev/null "$@") >/dev/null
		row="$row $(awk '{ printf "%.1f s wall, %.1f s CPU", $1, $2 + $3 }' "$TMP/time") |"
		chmod -R u+w "$cache"
		rm -rf "$cache"
	done
	echo "$row"
}
cold cmd/empty "$HERE" ./cmd/empty
cold cmd/telemetryonly "$HERE" ./cmd/telemetryonly
cold cmd/own "$HERE" ./cmd/own
cold cmd/flagd "$HERE" ./cmd/flagd
if [ -z "${SKIP_SHOP_COLD:-}" ]; then
	# The shop cold, then the shop with flagd in the same (now warm) cache: what
	# adding the provider costs a build of the shop.
	cache=$(mktemp -d "$TMP/gocache.XXXX")
	(cd "$ROOT" && GOCACHE=$cache GOPROXY=off /usr/bin/time -f '%e %U %S' -o "$TMP/time" "${BUILD[@]}" -o /dev/null ./cmd/shop)
	a=$(awk '{ printf "%.1f s wall, %.1f s CPU", $1, $2 + $3 }' "$TMP/time")
	(cd "$ROOT" && GOCACHE=$cache GOPROXY=off /usr/bin/time -f '%e %U %S' -o "$TMP/time" "${BUILD[@]}" "${WITH_FLAGD[@]}" -o /dev/null ./cmd/shop)
	b=$(awk '{ printf "%.1f s wall, %.1f s CPU", $1, $2 + $3 }' "$TMP/time")
	chmod -R u+w "$cache"
	rm -rf "$cache"
	echo "| ./cmd/shop (today), cold | $a | |"
	echo "| then ./cmd/shop with flagd, same cache (what flagd adds) | $b | |"
fi
echo

echo "## Evaluation cost"
echo
echo "\`go test -run '^\$' -bench . -benchtime 1s -count 5 ./internal/compare\` in tools/flagdcompare (median of 5). The flag file is deploy/flags/shop.flags.json with catalogProductErrors switched on; the context is {productId}. *client* is \`Client.ObjectValueDetails\` on the provider's own OpenFeature API; *Fault.Eval* is how the services call internal/flags (for the off flag: one atomic load, no SDK). In this module both providers run with jsonlogic v3.9.1 (flagd's requirement); the shop's own benchmarks with its v3.5.1 follow."
echo
median_table() {
	awk '/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		for (i = 2; i < NF; i++) {
			if ($(i+1) == "ns/op") ns[name] = ns[name] " " $i
			if ($(i+1) == "B/op") by[name] = by[name] " " $i
			if ($(i+1) == "allocs/op") al[name] = al[name] " " $i
		}
		if (!(name in seen)) { seen[name] = 1; order[++n] = name }
	}
	function med(s,   a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((k + 1) / 2)]
	}
	END {
		print "| benchmark | ns/op | B/op | allocs/op |"
		print "| --- | --- | --- | --- |"
		for (i = 1; i <= n; i++) printf "| %s | %s | %s | %s |\n", order[i], med(ns[order[i]]), med(by[order[i]]), med(al[order[i]])
	}'
}
GOPROXY=off go test -run '^$' -bench . -benchtime 1s -count 5 ./internal/compare 2>&1 | median_table
echo
echo "The shop's own benchmarks, in the main module (jsonlogic v3.5.1): \`go test -run '^\$' -bench Fault -benchtime 1s -count 5 ./internal/flags\`"
echo
(cd "$ROOT" && GOPROXY=off go test -run '^$' -bench Fault -benchtime 1s -count 5 ./internal/flags 2>&1) | median_table
echo

echo "## Start-up output"
echo
mkdir -p "$TMP/flags"
cp "$ROOT/deploy/flags/shop.flags.json" "$TMP/flags/"
for p in own flagd; do
	"$BIN/$p" -file "$TMP/flags/shop.flags.json" >"$TMP/$p.out" 2>"$TMP/$p.err"
	echo "\`bin/$p -file shop.flags.json\`: $(wc -l <"$TMP/$p.out") lines on stdout, $(wc -l <"$TMP/$p.err") on stderr."
	echo
	echo '```'
	echo "# stdout"
	cat "$TMP/$p.out"
	echo "# stderr"
	cat "$TMP/$p.err"
	echo '```'
	echo
done

echo "## Behaviour (cmd/check)"
echo
echo "Each check runs on a fresh copy of deploy/flags/shop.flags.json in a directory of its own; a change must take effect within 2 s; a file to be refused is watched for 2 s. Changes are made as \`shop flags set\` makes them (internal/flags.SetVariant: a temporary file in the same directory renamed over the old one) unless the check says otherwise."
echo
echo "| provider | check | result | seen |"
echo "| --- | --- | --- | --- |"
"$BIN/check" -file "$ROOT/deploy/flags/shop.flags.json" 2>"$TMP/check.err" | sed 's/^/| /; s/$/ |/'
echo
echo "The flagd provider wrote $(wc -l <"$TMP/check.err") log lines on stderr during these checks; its error-level lines:"
echo
echo '```'
grep '"level":"error"' "$TMP/check.err" | sed -E 's/"stacktrace":"[^"]*"/"stacktrace":…/' | cut -c1-240 | sort | uniq -c | sort -rn | head -8
echo '```'
