#!/usr/bin/env bash
# fsck, gc and repack of N packed objects (issue 20, item 3) beside `openssl dgst -sha256`
# over the same bytes (the pack files fsck reads), in paired rounds: each round hashes the
# packs with openssl, then runs `msez fsck` (default mode); then gc and repack are timed once
# each round on their own copy.
#
#   benches/packs_scale.sh [WORKDIR]        N (default 1000000), ROUNDS (default 3)
#
# Prints markdown rows: median seconds and spread (min–max) of each, and the ratio
# openssl/fsck of the medians (the issue's goal: fsck at >= 0.5x openssl, so ratio >= 0.5).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
ROUNDS=${ROUNDS:-3}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-packs-bench.XXXXXX")}
mkdir -p "$WORK"
cargo build --release --quiet
MSEZ=$PWD/target/release/msez
FILLER=$(cargo bench --bench packs --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "packs" and m.get("executable"):
        print(m["executable"])')
REPO=$WORK/repo
if [ ! -d "$REPO/.msez" ]; then
  t0=$(date +%s.%N)
  MSEZ_PACKS_FILL="$REPO $N" "$FILLER"
  echo "filled $N objects in $(echo "$(date +%s.%N) - $t0" | bc) s" >&2
fi
BYTES=$(cat "$REPO"/.msez/packs/*.pack | wc -c)
echo "N=$N objects, $BYTES bytes of packs, $(ls "$REPO"/.msez/packs/*.pack | wc -l) packs" >&2
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f %.2f %.2f\n", m, a[1], a[NR]}'; }
: >"$WORK/openssl" ; : >"$WORK/fsck"
for r in $(seq "$ROUNDS"); do
  secs openssl dgst -sha256 "$REPO"/.msez/packs/*.pack >>"$WORK/openssl"
  secs "$MSEZ" -C "$REPO" -q fsck >>"$WORK/fsck"
done
read -r om olo ohi < <(stats <"$WORK/openssl")
read -r fm flo fhi < <(stats <"$WORK/fsck")
echo "| openssl dgst -sha256 (pack files) | $om s ($olo–$ohi) |"
echo "| msez fsck (default mode) | $fm s ($flo–$fhi) | ratio openssl/fsck $(echo "scale=2; $om / $fm" | bc)x |"
: >"$WORK/gc" ; : >"$WORK/repack"
for r in $(seq "$ROUNDS"); do
  rm -rf "$WORK/copy" && cp -a "$REPO" "$WORK/copy"
  secs "$MSEZ" -C "$WORK/copy" -q gc >>"$WORK/gc"
  secs "$MSEZ" -C "$WORK/copy" -q repack >>"$WORK/repack"
done
rm -rf "$WORK/copy"
read -r gm glo ghi < <(stats <"$WORK/gc")
read -r rm_ rlo rhi < <(stats <"$WORK/repack")
echo "| msez gc (mark: nothing reachable, all young) | $gm s ($glo–$ghi) |"
echo "| msez repack (packs into one) | $rm_ s ($rlo–$rhi) |"
