#!/usr/bin/env bash
# Runs every fuzz target of the shop's module for FUZZTIME each (default 3s):
# `make test` runs it short, `make fuzz FUZZTIME=5m` for longer. A crash is
# written to the package's testdata/fuzz/<target>/ by go test; commit it, and it
# runs as a regression test in every `go test` after. The seed corpora are the
# f.Add calls and the files already in testdata/fuzz/<target>/.
#
#   tools/fuzz.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime=${1:-${FUZZTIME:-3s}}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Every "func FuzzX(" in the module's test files (not the tool modules, not bin/).
targets=$(grep -rHo --include='*_test.go' --exclude-dir=bin --exclude-dir=tools --exclude-dir=.git \
	'^func Fuzz[A-Za-z0-9_]*' . | sed -E 's|^\./(.*)/[^/]+_test\.go:func (Fuzz.*)$|\1 \2|' | sort)
if [[ -z $targets ]]; then
	echo "tools/fuzz.sh: no fuzz targets found" >&2
	exit 1
fi
while read -r dir target; do
	printf 'fuzz %-32s %-22s %s\n' "$dir" "$target" "$fuzztime"
	if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "./$dir" >"$log" 2>&1; then
		cat "$log"
		status=1
	fi
done <<<"$targets"
exit $status
