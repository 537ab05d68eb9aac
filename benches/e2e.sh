#!/usr/bin/env bash
# End-to-end benchmarks: msez against the tools a user would compare it with, on this machine,
# in one run. Prints the markdown table that docs/benchmarks.md records.
#
#   benches/e2e.sh [WORKDIR]      (default: a temp dir; needs ~4 GiB free)
#
# Needs: openssl, git, bc, python3, GNU time (/usr/bin/time).
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

echo "| benchmark | msez | baseline | baseline value | ratio |"
echo "|---|---|---|---|---|"

if [ "${E2E_PUT:-1}" = 1 ]; then
BIG=$WORK/big.bin
[ -f "$BIG" ] || head -c $((1 << 30)) /dev/urandom > "$BIG"
cat "$BIG" > /dev/null

t_ossl=$(time_cmd "true" "openssl dgst -sha256 '$BIG'")
t_put=$(time_cmd "rm -rf '$WORK/r' && mkdir '$WORK/r' && '$MSEZ' -C '$WORK/r' init" "'$MSEZ' -C '$WORK/r' artifact put '$BIG' --type blob")
t_git=$(time_cmd "rm -rf '$WORK/g' && git init -q '$WORK/g'" "git -C '$WORK/g' hash-object -w '$BIG'")
printf '| `msez artifact put` 1 GiB (fsync incl.) | %.3f s | `openssl dgst -sha256` | %.3f s | %.2f |\n' "$t_put" "$t_ossl" "$(echo "$t_ossl / $t_put" | bc -l)"
printf '| `msez artifact put` 1 GiB (fsync incl.) | %.3f s | `git hash-object -w` | %.3f s | %.2f |\n' "$t_put" "$t_git" "$(echo "$t_git / $t_put" | bc -l)"
rm -rf "$WORK/r" "$WORK/g"
fi

# --- receipt chains --------------------------------------------------------------------------
# Bare Ed25519 rates of the same crate, measured now on this machine (benches/baseline.rs).
cargo build --release --quiet --benches
base=$(cargo bench --quiet --bench baseline -- --bench | tail -n 1)
sign_rate=$(echo "$base" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sign_per_s_1core"])')
verify_all=$(echo "$base" | python3 -c 'import json,sys; print(json.load(sys.stdin)["verify_per_s_all_cores"])')
cores=$(echo "$base" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cores"])')

batch() { python3 -c "
import sys
for i in range($1, $2): print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d,\"amount\":\"%d.00\"}}' % (i, i))" > "$WORK/batch.jsonl"; }
append() { "$MSEZ" asset state receipt-init "$asset" --batch "$WORK/batch.jsonl" --key k.jwk >/dev/null; }
# A fresh repository and module in a new $C (never a just-deleted one: ext4 then searches its
# inode tables past recently freed inodes, which is not what an operator's first append pays).
# The key is made once, so every run signs with it.
fresh() {
  C=$WORK/chain-$RANDOM$RANDOM && mkdir -p "$C" && cd "$C"
  "$MSEZ" -q init >/dev/null
  [ -f "$WORK/k.jwk" ] || "$MSEZ" key gen --out "$WORK/k.jwk" >/dev/null 2>&1
  cp "$WORK/k.jwk" k.jwk
  printf '{"type":"SmartAssetGenesis","asset_name":"bench","created_at":"2026-01-01T00:00:00Z"}' > genesis.json
  asset=$("$MSEZ" asset module init --genesis genesis.json | head -n 1)
}

# Batch append of 10k into a fresh chain, median of RUNS (each run a fresh repository).
batch 0 10000
times=()
for _ in $(seq "$RUNS"); do
  fresh; sync
  t0=$(date +%s.%N); append; t1=$(date +%s.%N)
  times+=("$(echo "$t1 - $t0" | bc -l)")
done
t_append=$(printf '%s\n' "${times[@]}" | median)
append_rate=$(echo "10000 / $t_append" | bc -l)
printf '| batch append 10k signed receipts (one transaction, fsync incl.; median of %s) | %.0f receipts/s | ed25519-dalek sign, 1 core | %.0f sig/s | %.2f |\n' "$RUNS" "$append_rate" "$sign_rate" "$(echo "$append_rate / $sign_rate" | bc -l)"

for start in $(seq 10000 10000 90000); do batch "$start" $((start + 10000)); append; done  # the last fresh chain grows to 100k
find "modules/smart-assets/$asset/state/receipts" -type f -exec cat {} + > /dev/null
t_verify=$(time_cmd "true" "cd '$C' && '$MSEZ' asset state verify '$asset'")
verify_rate=$(echo "100000 / $t_verify" | bc -l)
printf '| verify a 100k-receipt chain (warm cache, %s cores) | %.0f receipts/s | ed25519-dalek verify_strict, all cores | %.0f verif/s | %.2f |\n' "$cores" "$verify_rate" "$verify_all" "$(echo "$verify_rate / $verify_all" | bc -l)"

if [ "${E2E_MILLION:-1}" = 1 ]; then
  for start in $(seq 100000 50000 950000); do batch "$start" $((start + 50000)); append; done
  find "modules/smart-assets/$asset/state/receipts" -type f -exec cat {} + > /dev/null
  rss=$( { /usr/bin/time -f '%M' "$MSEZ" asset state verify "$asset" > /dev/null; } 2>&1 | tail -n 1)
  printf '| peak RSS of `asset state verify` at 1M receipts | %.0f MB | target | 200 MB | %.2f |\n' "$(echo "$rss / 1024" | bc -l)" "$(echo "200 * 1024 / $rss" | bc -l)"
  t_ck=$(time_cmd "true" "cd '$C' && '$MSEZ' asset state checkpoint '$asset' --key k.jwk")
  t_pr=$(time_cmd "true" "cd '$C' && '$MSEZ' asset state inclusion-proof '$asset' --sequence 333333")
  printf '| `asset state checkpoint` at 1M (whole command: sign, fsync, ref move) | %.1f ms | | | |\n' "$(echo "$t_ck * 1000" | bc -l)"
  printf '| `asset state inclusion-proof` at 1M (whole command) | %.1f ms | | | |\n' "$(echo "$t_pr * 1000" | bc -l)"
fi
cd /; rm -rf "$WORK"/chain-*
