#!/usr/bin/env bash
# Witness-bundle benchmarks: a 10k-receipt asset module (1,000 receipts attach one of 100 blobs,
# a checkpoint every 1,000 receipts, 10 inclusion proofs), then
#   1. `msez asset module witness-bundle` vs `zip -r` (level 6) of the same files
#      (the module directory + the artifact files the closure resolves to);
#   2. `msez artifact graph verify --path MODULE --strict` vs `openssl dgst -sha256` over the
#      same files; and `graph verify --from-bundle` of the bundle, for reference.
# Prints the markdown table docs/benchmarks.md records.
#
#   benches/bundle.sh [WORKDIR]     (default: a temp dir; needs ~200 MB)
#
# Needs: zip, openssl, bc, python3, GNU time. Every figure is the median of RUNS runs, warm page
# cache (inputs are read once before timing). Ratios are baseline time / msez time (> 1: msez
# faster). Wall time and CPU time (user + sys, which other processes on a busy machine disturb
# less) are both reported.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-bundle-bench.XXXXXX")}
mkdir -p "$WORK"
cargo build --release --quiet
MSEZ=$PWD/target/release/msez
KEY=$PWD/vectors/msez-fixtures/keys/dev.ed25519.jwk

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
time_cmd() { # time_cmd SETUP CMD: median seconds of CMD, SETUP untimed before each run
  local setup=$1 cmd=$2
  for _ in $(seq "$RUNS"); do
    bash -c "$setup" >/dev/null 2>&1
    local t0 t1
    t0=$(date +%s.%N); bash -c "$cmd" >/dev/null; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median
}
cpu_cmd() { # cpu_cmd SETUP CMD: median user+sys seconds of CMD (and its children)
  local setup=$1 cmd=$2
  for _ in $(seq "$RUNS"); do
    bash -c "$setup" >/dev/null 2>&1
    /usr/bin/time -f '%U %S' -o "$WORK/cpu.txt" bash -c "$cmd" >/dev/null 2>&1
    awk '{print $1 + $2}' "$WORK/cpu.txt"
  done | median
}

C=$WORK/module
rm -rf "$C" && mkdir -p "$C" && cd "$C"
"$MSEZ" -q init >/dev/null
printf '{"type":"SmartAssetGenesis","asset_name":"bundle-bench","created_at":"2026-01-01T00:00:00Z"}' > genesis.json
asset=$("$MSEZ" asset module init --genesis genesis.json | head -n 1)
mod=modules/smart-assets/$asset
blobs=()
for i in $(seq 0 99); do
  printf 'evidence document %d\n%s\n' "$i" "$(head -c 3000 /dev/urandom | base64 -w0)" > "blob$i.txt"
  blobs+=("$("$MSEZ" artifact put "blob$i.txt" --type blob | cut -d: -f2)")
done
printf '%s\n' "${blobs[@]}" > blobs.txt
for start in $(seq 0 1000 9000); do
  python3 - "$start" > batch.jsonl <<'PY'
import sys
start = int(sys.argv[1])
blobs = open("blobs.txt").read().split()
for i in range(start, start + 1000):
    att = ""
    if i % 10 == 0:
        att = ',"attachments":[{"artifact_type":"blob","digest_sha256":"%s"}]' % blobs[(i // 10) % 100]
    print('{"kind":"transfer.v1","payload":{"i":%d,"amount":"%d.00"}%s}' % (i, i, att))
PY
  "$MSEZ" asset state receipt-init "$mod" --batch batch.jsonl --key "$KEY" >/dev/null
  "$MSEZ" asset state checkpoint "$mod" --key "$KEY" >/dev/null
done
for seq in $(seq 0 1000 9000); do "$MSEZ" asset state inclusion-proof "$mod" --sequence "$seq" >/dev/null; done

# The same files zip and openssl get: the module's structured files and the resolved artifacts.
"$MSEZ" --json artifact graph verify --path "$mod" --strict --max-nodes 1000000 > report.json
python3 - > files.txt <<PY
import json, os
r = json.load(open("report.json"))
mod = "$mod"
for dp, dn, fn in os.walk(mod):
    dn.sort()
    for f in sorted(fn):
        if f.endswith((".json", ".yaml", ".yml", ".jsonld")):
            print(os.path.join(dp, f))
for n in r["nodes"]:
    if n["resolved"]:
        print(os.path.relpath(n["path"]))
PY
nfiles=$(wc -l < files.txt)
bytes=$(xargs cat < files.txt | wc -c)
xargs cat < files.txt > /dev/null

t_bundle=$(time_cmd "rm -f '$C/m.zip'" "cd '$C' && '$MSEZ' asset module witness-bundle '$mod' --out m.zip")
t_zip=$(time_cmd "rm -f '$C/z.zip'" "cd '$C' && zip -q -6 z.zip -@ < files.txt")
zip_size=$(stat -c %s "$C/m.zip")
zipr_size=$(stat -c %s "$C/z.zip")
t_verify=$(time_cmd "true" "cd '$C' && '$MSEZ' artifact graph verify --path '$mod' --strict --max-nodes 1000000")
t_ossl=$(time_cmd "true" "cd '$C' && xargs openssl dgst -sha256 < files.txt")
t_from=$(time_cmd "true" "cd '$C' && '$MSEZ' artifact graph verify --from-bundle m.zip")
c_bundle=$(cpu_cmd "rm -f '$C/m.zip'" "cd '$C' && '$MSEZ' asset module witness-bundle '$mod' --out m.zip")
c_zip=$(cpu_cmd "rm -f '$C/z.zip'" "cd '$C' && zip -q -6 z.zip -@ < files.txt")
c_verify=$(cpu_cmd "true" "cd '$C' && '$MSEZ' artifact graph verify --path '$mod' --strict --max-nodes 1000000")
c_ossl=$(cpu_cmd "true" "cd '$C' && xargs openssl dgst -sha256 < files.txt")
c_from=$(cpu_cmd "true" "cd '$C' && '$MSEZ' artifact graph verify --from-bundle m.zip")

echo "Module: $nfiles files, $bytes bytes; bundle $zip_size bytes, zip -r $zipr_size bytes."
echo
echo "| benchmark | msez wall / cpu (s) | baseline | baseline wall / cpu (s) | ratio wall | ratio cpu |"
echo "|---|---|---|---|---|---|"
row() { printf '| %s | %.3f / %.3f | %s | %.3f / %.3f | %.2f | %.2f |\n' "$1" "$2" "$3" "$4" "$5" "$6" \
  "$(echo "$5 / $2" | bc -l)" "$(echo "$6 / $3" | bc -l)"; }
row "\`asset module witness-bundle\`, 10k receipts ($nfiles files, $((bytes / 1000)) kB)" "$t_bundle" "$c_bundle" "\`zip -q -6\` of the same files" "$t_zip" "$c_zip"
row "\`artifact graph verify --path MODULE --strict\`, same closure" "$t_verify" "$c_verify" "\`openssl dgst -sha256\` over the same files" "$t_ossl" "$c_ossl"
row "\`artifact graph verify --from-bundle\` (in place: walk + entry and manifest checks)" "$t_from" "$c_from" "\`openssl dgst -sha256\` over the same files" "$t_ossl" "$c_ossl"
