#!/usr/bin/env bash
# The 100k-chain verify ratio in paired rounds: each round measures the bare `verify_strict`
# rate of the same crate on all cores (benches/baseline.rs) and then times `asset state verify`
# of one 100k-receipt chain (warm page cache), so a shared machine's drifting speed hits both
# sides of each ratio alike. With BEFORE=/path/to/old/msez each round also times that binary
# on the same chain (before/after in one run).
#
#   benches/verify_paired.sh [ROUNDS] [WORKDIR]      (default 9 rounds, a temp dir)
#
# Needs: python3, bc. Prints one line per round and the median ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-9}
WORK=${2:-$(mktemp -d "${TMPDIR:-/tmp}/msez-verify.XXXXXX")}
mkdir -p "$WORK"
cargo build --release --quiet
cargo build --release --quiet --benches
MSEZ=$PWD/target/release/msez
BEFORE=${BEFORE:-}
C=$WORK/chain
if [ ! -f "$WORK/asset" ]; then
  mkdir -p "$C" && cd "$C"
  "$MSEZ" -q init >/dev/null
  "$MSEZ" key gen --out k.jwk >/dev/null 2>&1
  printf '{"type":"SmartAssetGenesis","asset_name":"bench","created_at":"2026-01-01T00:00:00Z"}' > genesis.json
  "$MSEZ" asset module init --genesis genesis.json | head -n 1 > "$WORK/asset"
  for start in $(seq 0 10000 90000); do
    python3 -c "
for i in range($start, $start + 10000): print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d,\"amount\":\"%d.00\"}}' % (i, i))" > "$WORK/batch.jsonl"
    "$MSEZ" asset state receipt-init "$(cat "$WORK/asset")" --batch "$WORK/batch.jsonl" --key k.jwk >/dev/null
  done
  cd - >/dev/null
fi
asset=$(cat "$WORK/asset")
timed() { # BINARY: seconds for one verify of the chain
  local t0 t1
  t0=$(date +%s.%N); (cd "$C" && "$1" asset state verify "$asset" >/dev/null); t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
timed "$MSEZ" >/dev/null # warm the page cache
after=(); before=()
for i in $(seq 1 "$ROUNDS"); do
  base=$(BASELINE_SECS=${BASELINE_SECS:-2} cargo bench --quiet --bench baseline -- --bench 2>/dev/null | tail -n 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["verify_per_s_all_cores"])')
  t=$(timed "$MSEZ")
  r=$(python3 -c "print(f'{100000 / $t / $base:.3f}')")
  after+=("$r")
  line="round $i: verify_strict all cores $base /s; msez $t s ($(python3 -c "print(round(100000 / $t))") receipts/s), ratio $r"
  if [ -n "$BEFORE" ]; then
    tb=$(timed "$BEFORE")
    rb=$(python3 -c "print(f'{100000 / $tb / $base:.3f}')")
    before+=("$rb")
    line="$line; before $tb s, ratio $rb"
  fi
  echo "$line"
done
med() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2, "(range", a[1], "-", a[NR] ")"}'; }
echo "median ratio: $(printf '%s\n' "${after[@]}" | med)"
[ -n "$BEFORE" ] && echo "median ratio before: $(printf '%s\n' "${before[@]}" | med)"
true
