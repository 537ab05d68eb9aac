#!/usr/bin/env bash
# Before/after of a refactor (issue 16): two msez binaries timed in paired rounds on the six
# operations docs/benchmarks.md tracks end to end: batch append, chain verify, checkpoint, push
# and clone over a directory remote, and reading every file of a FUSE mount. In each round both
# binaries run every operation back to back (their order alternating by round), so a shared
# machine's drifting speed hits both sides of each ratio alike.
#
#   benches/arch_paired.sh BEFORE_BIN AFTER_BIN [ROUNDS] [WORKDIR]   (default 7 rounds)
#
# N receipts per chain (default 5000). CHURN=1 first creates and deletes 200,000 small files in
# WORKDIR, so the rounds run on a filesystem that has just seen heavy churn. Needs: python3, GNU time; root and fusermount3 for the
# mount row (skipped with a printed reason otherwise). Prints each round, then a markdown table:
# median and spread (min-max) of each side, and the median and spread of the per-round ratios
# after/before (time; < 1 means the after binary is faster).
set -euo pipefail
BEFORE=$(realpath "${1:?BEFORE_BIN}")
AFTER=$(realpath "${2:?AFTER_BIN}")
ROUNDS=${3:-7}
WORK=${4:-$(mktemp -d "${TMPDIR:-/tmp}/msez-arch.XXXXXX")}
N=${N:-5000}
mkdir -p "$WORK"
python3 -c "
for i in range($N): print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d,\"amount\":\"%d.00\"}}' % (i, i))" > "$WORK/batch.jsonl"
"$AFTER" key gen --out "$WORK/k.jwk" >/dev/null 2>&1
printf '{"type":"SmartAssetGenesis","asset_name":"bench","created_at":"2026-01-01T00:00:00Z"}' > "$WORK/genesis.json"
MOUNT=1
if [ "$(id -u)" != 0 ] || ! command -v fusermount3 >/dev/null || [ ! -e /dev/fuse ]; then
  MOUNT=0; echo "mount row skipped: needs root, /dev/fuse and fusermount3" >&2
fi

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); python3 -c "print(f'{$t1 - $t0:.4f}')"; }
umnt() { fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null || true; }

# run SIDE BIN ROUND: one side's six timings, appended to $WORK/times.
run() {
  local side=$1 bin=$2 r=$3 d=$WORK/$1-$3 asset
  mkdir -p "$d/repo" && cd "$d/repo"
  "$bin" -q init >/dev/null
  asset=$("$bin" asset module init --genesis "$WORK/genesis.json" | head -n 1)
  sync
  echo "$side append $(secs "$bin" asset state receipt-init "$asset" --batch "$WORK/batch.jsonl" --key "$WORK/k.jwk")" >> "$WORK/times"
  echo "$side verify $(secs "$bin" asset state verify "$asset")" >> "$WORK/times"
  echo "$side checkpoint $(secs "$bin" asset state checkpoint "$asset" --key "$WORK/k.jwk")" >> "$WORK/times"
  mkdir -p "$d/remote"
  "$bin" -q remote add bench "$d/remote" >/dev/null
  sync
  echo "$side push $(secs "$bin" -q push bench)" >> "$WORK/times"
  echo "$side clone $(secs "$bin" -q clone "$d/remote" "$d/clone")" >> "$WORK/times"
  if [ $MOUNT = 1 ]; then
    mkdir -p "$d/mnt"
    "$bin" mount "$d/repo" "$d/mnt" >/dev/null
    echo "$side mount $(secs sh -c "find '$d/mnt' -type f -exec cat {} + > /dev/null")" >> "$WORK/times"
    umnt "$d/mnt"
  fi
  cd "$WORK"
}

if [ "${CHURN:-0}" = 1 ]; then
  mkdir -p "$WORK/churn"
  python3 -c "
import os
for i in range(200000):
    d = '$WORK/churn/%03d' % (i % 500)
    os.makedirs(d, exist_ok=True)
    open('%s/%d' % (d, i), 'w').write('x' * (i % 700))"
  rm -rf "$WORK/churn"
fi
: > "$WORK/times"
# Round 0 warms the page cache and inode tables and is not counted.
for r in $(seq 0 "$ROUNDS"); do
  if [ $((r % 2)) = 0 ]; then run before "$BEFORE" "$r"; run after "$AFTER" "$r"
  else run after "$AFTER" "$r"; run before "$BEFORE" "$r"; fi
  [ "$r" = 0 ] && : > "$WORK/times"
  echo "round $r done" >&2
done

python3 - "$WORK/times" "$ROUNDS" "$N" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rounds, n = int(sys.argv[2]), sys.argv[3]
ops = ["append", "verify", "checkpoint", "push", "clone", "mount"]
print(f"| operation ({n} receipts, {rounds} paired rounds) | before: median (min-max) s | after: median (min-max) s | after/before: median (min-max) |")
print("|---|---|---|---|")
for op in ops:
    b = [float(t) for s, o, t in rows if s == "before" and o == op]
    a = [float(t) for s, o, t in rows if s == "after" and o == op]
    if not b or not a:
        continue
    ratios = [x / y for x, y in zip(a, b)]
    f = lambda v: f"{statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})"
    print(f"| {op} | {f(b)} | {f(a)} | {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
EOF
rm -rf "$WORK"/before-* "$WORK"/after-*
