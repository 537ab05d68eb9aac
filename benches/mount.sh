#!/usr/bin/env bash
# FUSE mount benchmarks (issue 7), each beside its baseline as a ratio:
#   1. sequential read of a 1 GiB stored blob through a repository mount vs reading the same
#      file directly (`cat > /dev/null`), cold cache (drop_caches; needs root) and warm;
#   2. `find -type f` + `stat` over 100k objects through the mount vs the same on the unpacked
#      tree (.msez/objects), with the peak RSS of the mount process;
#   3. time from `msez mount` of a 1 GiB witness bundle to the first `ls` vs `unzip` of it.
# Prints the markdown table docs/benchmarks.md records.
#
#   benches/mount.sh [WORKDIR]     (default: a temp dir; needs ~4 GiB free, root, /dev/fuse)
#
# Needs: fusermount3, unzip, bc, python3, GNU time. Medians of RUNS runs.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
MIB=${MOUNT_BLOB_MIB:-1024}      # size of the blob read through the mount and of the bundle
OBJS=${MOUNT_OBJECTS:-100000}    # receipts in the chain that find + stat walks
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-mount-bench.XXXXXX")}
mkdir -p "$WORK"
cargo build --release --quiet
MSEZ=$PWD/target/release/msez
KEY=$PWD/vectors/msez-fixtures/keys/dev.ed25519.jwk

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
umnt() { fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null || true; }
rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

R=$WORK/repo-$MIB-$OBJS
BIG=$WORK/big-$MIB.bin
[ -f "$BIG" ] || head -c $((MIB << 20)) /dev/urandom > "$BIG"
if [ ! -f "$R/.done" ]; then  # the repository is reused by later runs in the same WORKDIR
  rm -rf "$R" && mkdir -p "$R" && cd "$R"
  "$MSEZ" -q init >/dev/null
  "$MSEZ" artifact put "$BIG" --type blob >/dev/null
  # OBJS objects: an OBJS-receipt chain in one batch.
  printf '{"type":"SmartAssetGenesis","asset_name":"mount-bench","created_at":"2026-01-01T00:00:00Z"}' > genesis.json
  "$MSEZ" asset module init --genesis genesis.json >/dev/null
  python3 -c "
for i in range($OBJS): print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d}}' % i)" > batch.jsonl
  "$MSEZ" asset state receipt-init "$(ls modules/smart-assets)" --batch batch.jsonl --key "$KEY" >/dev/null
  touch "$R/.done"
fi
cd "$R"
digest=$(sha256sum "$BIG" | cut -d' ' -f1)
mkdir -p "$WORK/mnt"
umnt "$WORK/mnt"

echo "| benchmark | msez (s) | baseline | baseline (s) | ratio (baseline / msez) |"
echo "|---|---|---|---|---|"

# 1. 1 GiB sequential read.
direct=$R/.msez/objects/blob/$digest.bin
for cache in cold warm; do
  td=(); tm=()
  for _ in $(seq "$RUNS"); do
    "$MSEZ" mount "$R" "$WORK/mnt" >/dev/null
    through=$WORK/mnt/objects/blob/$digest.bin
    if [ $cache = cold ]; then drop; else cat "$direct" > /dev/null; cat "$through" > /dev/null; fi
    t0=$(now); cat "$direct" > /dev/null; t1=$(now)
    td+=("$(echo "$t1 - $t0" | bc -l)")
    [ $cache = cold ] && drop
    t0=$(now); cat "$through" > /dev/null; t1=$(now)
    tm+=("$(echo "$t1 - $t0" | bc -l)")
    umnt "$WORK/mnt"
  done
  d=$(printf '%s\n' "${td[@]}" | median); m=$(printf '%s\n' "${tm[@]}" | median)
  printf '| read %d MiB blob through the mount (%s cache) | %.3f | `cat` of the file in .msez/objects | %.3f | **%.2f** |\n' \
    "$MIB" "$cache" "$m" "$d" "$(echo "$d / $m" | bc -l)"
done

# 2. find + stat over 100k objects (warm: each side walked once before timing).
"$MSEZ" mount "$R" "$WORK/mnt" >/dev/null
pid=$(pgrep -f "mount --foreground $R $WORK/mnt" | head -n 1)
walk() { find "$1" -type f -print0 | xargs -0 stat -c '%s %i' > /dev/null; }
walk "$R/.msez/objects"; walk "$WORK/mnt/objects"
tu=(); tmo=()
for _ in $(seq "$RUNS"); do
  t0=$(now); walk "$R/.msez/objects"; t1=$(now); tu+=("$(echo "$t1 - $t0" | bc -l)")
  t0=$(now); walk "$WORK/mnt/objects"; t1=$(now); tmo+=("$(echo "$t1 - $t0" | bc -l)")
done
u=$(printf '%s\n' "${tu[@]}" | median); mo=$(printf '%s\n' "${tmo[@]}" | median)
n=$(find "$WORK/mnt/objects" -type f | wc -l)
printf '| `find` + `stat` over %d objects through the mount (warm) | %.3f | the same on .msez/objects | %.3f | **%.2f** |\n' \
  "$n" "$mo" "$u" "$(echo "$u / $mo" | bc -l)"
# Cold: a fresh mount, dentries dropped.
umnt "$WORK/mnt"; "$MSEZ" mount "$R" "$WORK/mnt" >/dev/null
pid=$(pgrep -f "mount --foreground $R $WORK/mnt" | head -n 1)
drop; t0=$(now); walk "$WORK/mnt/objects"; t1=$(now); mc=$(echo "$t1 - $t0" | bc -l)
drop; t0=$(now); walk "$R/.msez/objects"; t1=$(now); uc=$(echo "$t1 - $t0" | bc -l)
printf '| `find` + `stat` over %d objects through a fresh mount (cold) | %.3f | the same on .msez/objects (cold) | %.3f | **%.2f** |\n' \
  "$n" "$mc" "$uc" "$(echo "$uc / $mc" | bc -l)"
echo "| peak RSS of the mount process after walking $n objects | $(( $(rss_kb "$pid") / 1024 )) MB | | | |"
umnt "$WORK/mnt"

# 3. A 1 GiB bundle: mount → first ls vs unzip.
# A one-receipt module whose receipt attaches the 1 GiB blob.
printf '{"kind":"evidence.v1","payload":{"file":"big"},"attachments":[{"artifact_type":"blob","digest_sha256":"%s"}]}\n' "$digest" > "$WORK/one.jsonl"
S=$WORK/small && rm -rf "$S" && mkdir -p "$S" && cd "$S"
"$MSEZ" -q init >/dev/null
"$MSEZ" artifact put "$BIG" --type blob >/dev/null
printf '{"type":"SmartAssetGenesis","asset_name":"big-bundle","created_at":"2026-01-01T00:00:00Z"}' > genesis.json
a2=$("$MSEZ" asset module init --genesis genesis.json | head -n 1)
"$MSEZ" asset state receipt-init "$a2" --batch "$WORK/one.jsonl" --key "$KEY" >/dev/null
"$MSEZ" asset module witness-bundle "$a2" --out "$WORK/big.zip" >/dev/null
cat "$WORK/big.zip" > /dev/null
tm=(); tz=()
for _ in $(seq "$RUNS"); do
  t0=$(now); "$MSEZ" mount "$WORK/big.zip" "$WORK/mnt" >/dev/null; ls "$WORK/mnt/objects/blob" > /dev/null; t1=$(now)
  tm+=("$(echo "$t1 - $t0" | bc -l)"); umnt "$WORK/mnt"
  rm -rf "$WORK/unz"; mkdir -p "$WORK/unz"
  t0=$(now); unzip -q "$WORK/big.zip" -d "$WORK/unz"; t1=$(now)
  tz+=("$(echo "$t1 - $t0" | bc -l)")
done
rm -rf "$WORK/unz"
m=$(printf '%s\n' "${tm[@]}" | median); z=$(printf '%s\n' "${tz[@]}" | median)
printf '| `msez mount` of a %d MiB bundle to the first `ls` | %.3f | `unzip` of it | %.3f | **%.1f** |\n' \
  "$(( $(stat -c %s "$WORK/big.zip") >> 20 ))" "$m" "$z" "$(echo "$z / $m" | bc -l)"
