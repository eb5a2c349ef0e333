#!/usr/bin/env bash
# compare.sh measures how many requests the shop's load generator completes per CPU-second
# of its own, side by side with wrk, hey and fortio, all against the same trivial
# endpoint on loopback with the same number of connections and no think time.
#
# The endpoint (loadtest/internal/benchtarget) is pinned to one core and every client in
# turn to the other, so clients never compete with the server for a core; each client's
# CPU time (user + system) comes from /usr/bin/time. Requests per CPU-second is the
# figure that matters for a load generator: it says how much load one core can offer.
#
# Usage: loadtest/compare.sh [seconds per tool] [connections]    (defaults: 10, 32)
# Needs: wrk, hey (apt-get install -y wrk hey), GNU time, taskset; fortio is built
# from the Go module proxy into a temporary directory, outside the shop's go.mod.
set -euo pipefail

secs=${1:-10}
conns=${2:-32}
port=${PORT:-18080}
# Newer fortio releases depend on grol.io/grol, which the module proxy here refuses.
fortio_version=${FORTIO_VERSION:-v1.66.5}
url="http://127.0.0.1:${port}/"

cd "$(dirname "$0")/.."
work=$(mktemp -d)
server_pid=""
cleanup() {
	if [[ -n "$server_pid" ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

for tool in wrk hey; do
	if ! command -v "$tool" >/dev/null; then
		if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
			apt-get install -y wrk hey >/dev/null
		else
			echo "compare.sh: $tool is missing: apt-get install -y wrk hey" >&2
			exit 1
		fi
	fi
done
[[ -x /usr/bin/time ]] || { echo "compare.sh: GNU time (/usr/bin/time) is missing" >&2; exit 1; }

echo "building benchtarget, loadgen and fortio ${fortio_version}…" >&2
nice go build -o "$work/benchtarget" ./loadtest/internal/benchtarget
nice go build -o "$work/loadgen" ./loadtest/internal/standalone
(cd "$work" && GOBIN="$work" GOFLAGS=-buildvcs=false nice go install "fortio.org/fortio@${fortio_version}")

server_cpu=0
client_cpu=1
if (($(nproc) < 2)); then
	echo "compare.sh: one core only: server and clients share it" >&2
	client_cpu=0
fi

taskset -c "$server_cpu" "$work/benchtarget" -addr "127.0.0.1:${port}" &
server_pid=$!
for _ in $(seq 50); do
	if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then break; fi
	sleep 0.1
done

# measure NAME COMMAND…: runs the client pinned to its core, keeps its output and CPU time.
measure() {
	local name=$1
	shift
	echo "running $name for ${secs}s with $conns connections…" >&2
	/usr/bin/time -f "%U %S %e" -o "$work/$name.time" taskset -c "$client_cpu" "$@" >"$work/$name.out" 2>&1
}

measure wrk wrk -t1 -c"$conns" -d"${secs}s" "$url"
measure hey hey -z "${secs}s" -c "$conns" "$url"
measure fortio "$work/fortio" load -c "$conns" -qps 0 -t "${secs}s" -loglevel Warning "$url"
measure loadgen "$work/loadgen" -url "$url" -mode closed -vus "$conns" -think 0 -duration "${secs}s" -json "$work/loadgen.json"

requests_wrk=$(awk '/requests in/ {print $1; exit}' "$work/wrk.out")
requests_hey=$(awk '/^ *\[[0-9]+\]/ {s += $2} END {print s + 0}' "$work/hey.out")
# fortio: "All done N calls (plus W warmup)"; the warm-up calls cost CPU too.
requests_fortio=$(sed -n 's/.*All done \([0-9]*\) calls (plus \([0-9]*\) warmup).*/\1 \2/p' "$work/fortio.out" | awk '{print $1 + $2; exit}')
requests_loadgen=$(grep -m1 '"requests":' "$work/loadgen.json" | tr -dc '0-9')

printf '\n%-8s %10s %10s %10s %12s %8s\n' tool requests cpu_s req/s req/cpu-s vs_wrk
wrk_rate=""
for name in wrk hey fortio loadgen; do
	var="requests_$name"
	requests=${!var}
	read -r user sys wall <"$work/$name.time"
	read -r cpu rate per_cpu < <(awk -v r="$requests" -v u="$user" -v s="$sys" -v w="$wall" \
		'BEGIN {c = u + s; printf "%.2f %.0f %.0f\n", c, r / w, r / c}')
	[[ -z "$wrk_rate" ]] && wrk_rate=$per_cpu
	ratio=$(awk -v a="$per_cpu" -v b="$wrk_rate" 'BEGIN {printf "%.2f", a / b}')
	printf '%-8s %10s %10s %10s %12s %8s\n' "$name" "$requests" "$cpu" "$rate" "$per_cpu" "$ratio"
done
echo
echo "($(nproc) cores, $(uname -r), $(go version | awk '{print $3}'), wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}'), fortio ${fortio_version}; load average $(cut -d' ' -f1-3 /proc/loadavg))"
