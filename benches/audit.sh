#!/usr/bin/env bash
# `msez audit` benchmark (issue 15): a witness bundle of an N-receipt asset module (default
# 10,000; a checkpoint every 1,000 receipts, an inclusion proof every 1,000), then
#   1. `msez audit BUNDLE` (the whole checklist: zip checks, closure, manifest, every chain
#      check) vs `openssl dgst -sha256` over the same entries (unpacked), the floor of any
#      tool that reads every byte once;
#   2. the chain check's share: `msez asset state verify` of the unpacked module (linkage,
#      next_roots, signatures, MMR) over `msez audit`'s time.
# Prints the markdown table docs/benchmarks.md records.
#
#   benches/audit.sh [WORKDIR]     (default: a temp dir; ~100 MB at 10k receipts)
#   RECEIPTS=1000 RUNS=3 benches/audit.sh    a small run
#   MSEZ=target/debug/msez RECEIPTS=20 RUNS=1 benches/audit.sh   checks the script only
#
# Needs: openssl, unzip, bc, python3. Every figure is the median of RUNS runs with a warm page
# cache. Ratio: openssl time / msez time (< 1: msez slower than hashing alone).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
N=${RECEIPTS:-10000}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-audit-bench.XXXXXX")}
mkdir -p "$WORK"
if [ -z "${MSEZ:-}" ]; then # MSEZ=path/to/msez: check the script with another build
  cargo build --release --quiet
  MSEZ=$PWD/target/release/msez
fi
KEY=$PWD/vectors/msez-fixtures/keys/dev.ed25519.jwk

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
time_cmd() { # time_cmd CMD: median wall seconds of CMD (its exit code is not judged)
  local cmd=$1
  bash -c "$cmd" >/dev/null 2>&1 || true # warm the page cache
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N); bash -c "$cmd" >/dev/null 2>&1 || true; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median
}

C=$WORK/module
rm -rf "$C" && mkdir -p "$C" && cd "$C"
"$MSEZ" -q init >/dev/null
printf '{"type":"SmartAssetGenesis","asset_name":"audit-bench","created_at":"2026-01-01T00:00:00Z"}' > genesis.json
asset=$("$MSEZ" asset module init --genesis genesis.json | head -n 1)
mod=modules/smart-assets/$asset
step=$(( N < 1000 ? N : 1000 ))
for start in $(seq 0 "$step" $(( N - 1 ))); do
  python3 -c "
import sys
for i in range($start, min($start + $step, $N)):
    print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d}}' % i)" > batch.jsonl
  "$MSEZ" -q asset state receipt-init "$mod" --batch batch.jsonl --key "$KEY" >/dev/null
  "$MSEZ" -q asset state checkpoint "$mod" --key "$KEY" >/dev/null
  "$MSEZ" -q asset state inclusion-proof "$mod" --sequence "$start" >/dev/null
done
"$MSEZ" -q asset module witness-bundle "$mod" --out "$WORK/asset.zip" >/dev/null
rm -rf "$WORK/unz" && mkdir "$WORK/unz" && (cd "$WORK/unz" && unzip -q "$WORK/asset.zip")
"$MSEZ" audit "$WORK/asset.zip" | head -n 1

t_audit=$(time_cmd "'$MSEZ' audit '$WORK/asset.zip'")
t_openssl=$(time_cmd "cd '$WORK/unz' && find . -type f -print0 | xargs -0 openssl dgst -sha256")
t_chain=$(time_cmd "'$MSEZ' asset state verify '$WORK/unz/root/$asset'")
entries=$(find "$WORK/unz" -type f | wc -l)
bytes=$(du -sb "$WORK/unz" | cut -f1)

echo
echo "| ${N}-receipt bundle ($entries entries, $((bytes / 1000000)) MB unpacked) | seconds |"
echo "|---|---|"
echo "| \`msez audit\` (whole checklist) | $t_audit |"
echo "| \`openssl dgst -sha256\` over the same entries | $t_openssl |"
echo "| ratio openssl / msez audit | $(echo "scale=3; $t_openssl / $t_audit" | bc -l) |"
echo "| chain check alone (\`asset state verify\`) | $t_chain |"
echo "| chain check's share of \`msez audit\` | $(echo "scale=1; 100 * $t_chain / $t_audit" | bc -l) % |"
