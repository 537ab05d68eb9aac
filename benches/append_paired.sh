#!/usr/bin/env bash
# The batch-append ratio in paired rounds: each round measures the bare Ed25519 sign rate
# (benches/baseline.rs) and then times one `receipt-init --batch` of 10,000 receipts into a
# fresh repository, so a shared machine's drifting speed hits both sides of each ratio alike.
#
#   benches/append_paired.sh [ROUNDS] [WORKDIR]      (default 9 rounds, a temp dir)
#
# Needs: python3, GNU time. Prints one line per round and the median ratio. Chains are
# deleted only at the end: on ext4, files created soon after a mass deletion are slower.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-9}
WORK=${2:-$(mktemp -d "${TMPDIR:-/tmp}/msez-append.XXXXXX")}
mkdir -p "$WORK"
cargo build --release --quiet
cargo build --release --quiet --benches
MSEZ=$PWD/target/release/msez
python3 -c "
for i in range(10000): print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d,\"amount\":\"%d.00\"}}' % (i, i))" > "$WORK/batch.jsonl"
"$MSEZ" key gen --out "$WORK/k.jwk" >/dev/null 2>&1
ratios=()
# Round 0 warms up (page cache, inode tables) and is not counted.
for i in $(seq 0 "$ROUNDS"); do
  rate=$(cargo bench --quiet --bench baseline -- --bench 2>/dev/null | tail -n 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["sign_per_s_1core"])')
  C=$WORK/chain-$i && mkdir -p "$C" && cd "$C"
  "$MSEZ" -q init >/dev/null
  printf '{"type":"SmartAssetGenesis","asset_name":"bench","created_at":"2026-01-01T00:00:00Z"}' > genesis.json
  asset=$("$MSEZ" asset module init --genesis genesis.json | head -n 1)
  sync
  t=$( { /usr/bin/time -f '%e' "$MSEZ" asset state receipt-init "$asset" --batch "$WORK/batch.jsonl" --key "$WORK/k.jwk" >/dev/null; } 2>&1 | tail -n 1)
  cd - >/dev/null
  r=$(python3 -c "print(f'{10000 / $t / $rate:.3f}')")
  [ "$i" = 0 ] && continue
  ratios+=("$r")
  echo "round $i: sign $rate /s, append $t s ($(python3 -c "print(round(10000 / $t))") receipts/s), ratio $r"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print "median ratio:", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
rm -rf "$WORK"/chain-*
