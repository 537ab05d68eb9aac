#!/usr/bin/env bash
# A 1M-receipt asset module bundles completely and verifies valid (issue 15, "Must show"):
#   1. the chain: N receipts by batch appends of 50,000 (as e2e.sh builds it), one checkpoint;
#   2. `msez asset module witness-bundle` (refuses a cut-short closure or a chain that does not
#      verify, so success means complete);
#   3. `msez audit` of the bundle (zip checks, closure, manifest, the chain from genesis with
#      every signature, the checkpoint): must say VALID;
#   4. one receipt removed from the module: the build must refuse it (nothing written), and the
#      good bundle with that receipt's entry deleted (`zip -d`) must not verify.
# Prints wall time and peak RSS (GNU time) of each step, one run each (the whole script takes
# minutes at 1M), and exits non-zero when any of these does not hold.
#
#   benches/bundle_1m.sh [WORKDIR]        RECEIPTS=100000 benches/bundle_1m.sh   a smaller run
#   REUSE=1 benches/bundle_1m.sh WORKDIR  reuses WORKDIR's module (and bundle) of an earlier run
set -euo pipefail
cd "$(dirname "$0")/.."
N=${RECEIPTS:-1000000}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-bundle-1m.XXXXXX")}
mkdir -p "$WORK"
if [ -z "${MSEZ:-}" ]; then
  cargo build --release --quiet
  MSEZ=$PWD/target/release/msez
fi
KEY=$PWD/vectors/msez-fixtures/keys/dev.ed25519.jwk

timed() { # timed LABEL CMD...: runs CMD, prints "| LABEL | wall s | peak RSS MB | exit |"
  local label=$1; shift
  local t0 t1 code=0
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$WORK/rss.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || code=$?
  echo "$code" >"$WORK/code.txt"
  t1=$(date +%s.%N)
  printf '| %s | %.1f | %d | %d |\n' "$label" "$(echo "$t1 - $t0" | bc -l)" \
    "$(( $(tail -n 1 "$WORK/rss.txt") / 1024 ))" "$code"
  return 0
}

C=$WORK/module
if [ -n "${REUSE:-}" ] && [ -d "$C/.msez" ]; then
  # REUSE=1: the module of an earlier run (and its bundle, when there is one) is kept.
  cd "$C"
  mod=$(ls -d modules/smart-assets/* | head -n 1)
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MB"}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "chain of $N receipts reused from an earlier run"
else
  rm -rf "$C" && mkdir -p "$C" && cd "$C"
  "$MSEZ" -q init >/dev/null
  printf '{"type":"SmartAssetGenesis","asset_name":"bundle-1m","created_at":"2026-01-01T00:00:00Z"}' > genesis.json
  asset=$("$MSEZ" asset module init --genesis genesis.json | head -n 1)
  mod=modules/smart-assets/$asset
  step=$(( N < 50000 ? N : 50000 ))
  t0=$(date +%s.%N)
  for start in $(seq 0 "$step" $(( N - 1 ))); do
    python3 -c "
for i in range($start, min($start + $step, $N)):
    print('{\"kind\":\"transfer.v1\",\"payload\":{\"i\":%d}}' % i)" > batch.jsonl
    "$MSEZ" -q asset state receipt-init "$mod" --batch batch.jsonl --key "$KEY" >/dev/null
  done
  "$MSEZ" -q asset state checkpoint "$mod" --key "$KEY" >/dev/null
  t1=$(date +%s.%N)
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MB"}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'chain of %d receipts built in %.1f s (batch appends of %d, one checkpoint)\n\n' "$N" "$(echo "$t1 - $t0" | bc -l)" "$step"
fi
echo "| step | wall (s) | peak RSS (MB) | exit |"
echo "|---|---|---|---|"
if [ -n "${REUSE:-}" ] && [ -e "$WORK/asset.zip" ]; then
  echo "| witness-bundle of $N receipts | (reused) | | |"
else
  timed "witness-bundle of $N receipts" "$MSEZ" -q asset module witness-bundle "$mod" --out "$WORK/asset.zip"
fi
size=$(stat -c %s "$WORK/asset.zip")
timed "msez audit of the bundle ($((size / 1024 / 1024)) MB)" "$MSEZ" audit "$WORK/asset.zip"
verdict=$(head -n 1 "$WORK/out.txt")
timed "artifact graph verify --from-bundle" "$MSEZ" -q artifact graph verify --from-bundle "$WORK/asset.zip"
mid=$(( N / 2 ))
mv "$mod/state/receipts/receipt.$mid.json" "$WORK/held-out.json"
timed "witness-bundle with receipt $mid removed (must refuse)" "$MSEZ" -q asset module witness-bundle "$mod" --out "$WORK/broken.zip"
refused=$(test -e "$WORK/broken.zip" && echo "WRITTEN (wrong)" || echo "refused, nothing written")
mv "$WORK/held-out.json" "$mod/state/receipts/receipt.$mid.json"
cp "$WORK/asset.zip" "$WORK/broken.zip"
entry=$(unzip -Z1 "$WORK/broken.zip" | grep "/state/receipts/receipt.$mid.json\$")
zip -q -d "$WORK/broken.zip" "$entry"
timed "msez audit of the bundle without $entry (must fail)" "$MSEZ" audit "$WORK/broken.zip"
broken=$(head -n 1 "$WORK/out.txt")
broken_code=$(tail -n 1 "$WORK/code.txt")
rm -f "$WORK/broken.zip"
echo
echo "audit: $verdict"
echo "broken build: $refused"
echo "broken bundle audit: $broken (exit $broken_code)"
case "$verdict" in *VALID*) case "$verdict" in *INVALID*) exit 1;; esac;; *) exit 1;; esac
[ "$refused" = "refused, nothing written" ] || exit 1
[ "$broken_code" != 0 ] || exit 1
