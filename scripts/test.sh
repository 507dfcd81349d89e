#!/usr/bin/env bash
# Runs the whole test suite under Bun and then under Deno (the same files),
# and ends with one line that sums both: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if [ "$(id -u)" -ne 0 ]; then
  echo "the tests create DPDK devices and network namespaces: run them as root" >&2
  exit 1
fi

node_modules/.bin/bun test 2>&1 | tee "$out/bun.log"
bun_rc=${PIPESTATUS[0]}
node_modules/.bin/deno test -A 2>&1 | tee "$out/deno.log"
deno_rc=${PIPESTATUS[0]}

bun_pass=$(grep -Eo '^ *[0-9]+ pass$' "$out/bun.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
bun_fail=$(grep -Eo '^ *[0-9]+ fail$' "$out/bun.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
deno_pass=$(grep -Eo '[0-9]+ passed' "$out/deno.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
deno_fail=$(grep -Eo '[0-9]+ failed' "$out/deno.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)

# Repeat the names of failed tests last, so the tail of a long log says which ones.
if grep -q '^(fail)' "$out/bun.log" || grep -q ' \.\.\. FAILED' "$out/deno.log"; then
  echo
  echo "failed tests:"
  grep '^(fail)' "$out/bun.log" | awk '!seen[$0]++' | sed 's/^/  bun /'
  grep ' \.\.\. FAILED' "$out/deno.log" | sed 's/^/  deno /'
fi
echo
echo "bun: $bun_pass passed, $bun_fail failed (exit $bun_rc); deno: $deno_pass passed, $deno_fail failed (exit $deno_rc)"
passed=$((bun_pass + deno_pass))
failed=$((bun_fail + deno_fail))
# A runner that failed without counting a failed test, or ran none, still fails the run.
if [ "$failed" -eq 0 ] && { [ "$bun_rc" -ne 0 ] || [ "$deno_rc" -ne 0 ] || [ "$bun_pass" -eq 0 ] || [ "$deno_pass" -eq 0 ]; }; then
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$bun_rc" -eq 0 ] && [ "$deno_rc" -eq 0 ] && [ "$failed" -eq 0 ]
