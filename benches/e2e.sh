#!/usr/bin/env bash
# End-to-end benchmarks: msez against the tools a user would compare it with, on this machine,
# in one run. Prints the markdown table that docs/benchmarks.md records.
#
#   benches/e2e.sh [WORKDIR]      (default: a temp dir; needs ~4 GiB free)
#
# Every figure is the median of RUNS runs with a warm page cache (the input is read once
# before timing). Ratios are baseline time / msez time, so > 1 means msez is faster.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-bench.XXXXXX")}
mkdir -p "$WORK"
cargo build --release --quiet
MSEZ=$PWD/target/release/msez

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# time_cmd SETUP CMD: seconds for CMD, SETUP run untimed before each run.
time_cmd() {
  local setup=$1 cmd=$2
  for _ in $(seq "$RUNS"); do
    bash -c "$setup" >/dev/null 2>&1
    local t0 t1
    t0=$(date +%s.%N); bash -c "$cmd" >/dev/null; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median
}

BIG=$WORK/big.bin
[ -f "$BIG" ] || head -c $((1 << 30)) /dev/urandom > "$BIG"
cat "$BIG" > /dev/null

echo "| benchmark | msez (s) | baseline | baseline (s) | ratio |"
echo "|---|---|---|---|---|"
t_ossl=$(time_cmd "true" "openssl dgst -sha256 '$BIG'")
t_put=$(time_cmd "rm -rf '$WORK/r' && mkdir '$WORK/r' && '$MSEZ' -C '$WORK/r' init" "'$MSEZ' -C '$WORK/r' artifact put '$BIG' --type blob")
t_git=$(time_cmd "rm -rf '$WORK/g' && git init -q '$WORK/g'" "git -C '$WORK/g' hash-object -w '$BIG'")
printf '| `msez artifact put` 1 GiB (fsync incl.) | %.3f | `openssl dgst -sha256` | %.3f | %.2f |\n' "$t_put" "$t_ossl" "$(echo "$t_ossl / $t_put" | bc -l)"
printf '| `msez artifact put` 1 GiB (fsync incl.) | %.3f | `git hash-object -w` | %.3f | %.2f |\n' "$t_put" "$t_git" "$(echo "$t_git / $t_put" | bc -l)"
rm -rf "$WORK/r" "$WORK/g"
