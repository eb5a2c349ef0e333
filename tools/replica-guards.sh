#!/usr/bin/env bash
# Takes each replica guard of the background jobs away, one at a time, in a
# scratch worktree of this checkout (uncommitted changes included), and runs the
# two-replica test that must catch it (after seeing it pass with the guard).
# Prints one line per guard with the test's first failure, and exits non-zero
# when a test passes without its guard or fails with it.
#
#   tools/replica-guards.sh            # every guard
#   tools/replica-guards.sh relay      # the guards whose name contains "relay"
#   SCALEOUT=1 tools/replica-guards.sh # also the scale-out test (e2e/scaleout), each guard away
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
only=${1:-}

scratch=$(mktemp -d)
cleanup() {
	git -C "$root" worktree remove --force "$scratch/tree" >/dev/null 2>&1 || true
	rm -rf "$scratch"
}
trap cleanup EXIT
git -C "$root" worktree add --detach -q "$scratch/tree" HEAD
# The checkout's uncommitted changes, so that what is measured is what is here.
git -C "$root" diff HEAD --binary | git -C "$scratch/tree" apply --allow-empty
(cd "$root" && git ls-files --others --exclude-standard -z | xargs -0 -r cp --parents -t "$scratch/tree")
tree=$scratch/tree

# expectFailure NAME TEST PACKAGE runs the test on the mutated tree.
expectFailure() {
	local name=$1 test=$2 pkg=$3 out
	if out=$(cd "$tree" && go test -count=1 -run "^${test}\$" "./$pkg/" 2>&1); then
		echo "NOT CAUGHT  $name: $test passed without the guard"
		failed=1
	elif ! grep -q -- "--- FAIL: $test" <<<"$out"; then
		# Not a failing test: the mutation did not build, or the run broke.
		echo "BROKEN      $name: $test did not run to a failure without the guard"
		tail -n 20 <<<"$out"
		failed=1
	else
		local why
		why=$(grep -m1 -E '_test\.go:[0-9]+:' <<<"$out" | sed -E 's/^[[:space:]]+//' || true)
		echo "caught      $name: $test: ${why:-$(tail -n 3 <<<"$out" | tr '\n' ' ')}"
	fi
}

# guard NAME TEST PACKAGE FILE FROM TO [FILE FROM TO …]: each FROM (a literal,
# present exactly once in its FILE) is part of what makes the job safe; TO is
# the job without it.
failed=0
guard() {
	local name=$1 test=$2 pkg=$3
	shift 3
	[[ -z $only || $name == *"$only"* ]] || return 0
	local edits=("$@") i
	# First with the guard: a test that fails anyway proves nothing by failing.
	if ! (cd "$tree" && go test -count=1 -run "^${test}\$" "./$pkg/" >"$scratch/baseline" 2>&1); then
		echo "BROKEN      $name: $test fails with its guard in place"
		tail -n 20 "$scratch/baseline"
		failed=1
		return 0
	fi
	for ((i = 0; i < ${#edits[@]}; i += 3)); do
		cp "$tree/${edits[i]}" "$scratch/original.$i"
		FROM=${edits[i + 1]} TO=${edits[i + 2]} perl -0pi -e '
			my $n = () = /\Q$ENV{FROM}\E/g;
			die "guard text found $n times, want 1\n" unless $n == 1;
			s/\Q$ENV{FROM}\E/$ENV{TO}/;' "$tree/${edits[i]}"
	done
	expectFailure "$name" "$test" "$pkg"
	if [[ -n ${SCALEOUT:-} ]]; then
		expectFailure "$name" TestScaleOut_TwoOfEveryService_KilledAtRandom_LedgerBalances e2e/scaleout
	fi
	for ((i = 0; i < ${#edits[@]}; i += 3)); do
		cp "$scratch/original.$i" "$tree/${edits[i]}"
	done
}

guard "outbox relay: rows locked, SKIP LOCKED" TestRelay_TwoReplicas_PublishEveryEventOnce services/orders \
	services/orders/outbox.go 'ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`' 'ORDER BY id LIMIT $1`'
guard "sweeper: claim only while pending" TestSweeper_TwoReplicas_EachAbandonedCheckoutClaimedOnce services/orders \
	services/orders/store.go "WHERE id = \$1 AND status = 'pending'\`, orderID, reason, paymentID, lease" "WHERE id = \$1\`, orderID, reason, paymentID, lease"
guard "refund settlement: the lease" TestSettlement_TwoReplicas_OneClaimantPerOrder_LeasesExpire services/orders \
	services/orders/store.go "AND status = 'failed' AND (settling_until IS NULL OR settling_until < now())" "AND status = 'failed'"
guard "reservation expiry: re-checked under the row lock" TestExpiry_TwoReplicas_ReleaseEachHoldOnce services/inventory \
	services/inventory/store.go 'if status != statusReserved || expires.After(s.now()) {' 'if expires.After(s.now()) {'
guard "shipping consumer: one shipment per order id" TestOrderPlaced_TwoReplicas_DuplicatesAtOnce_OneShipmentPerOrder services/shipping \
	services/shipping/migrations/001_shipments.sql 'order_id    uuid NOT NULL UNIQUE,' 'order_id    uuid NOT NULL,' \
	services/shipping/store.go 'ON CONFLICT (order_id) DO NOTHING' 'ON CONFLICT (id) DO NOTHING'
exit $failed
