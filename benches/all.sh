#!/usr/bin/env bash
# Every benchmark docs/benchmarks.md records, in one run on this machine, as one markdown
# report: the machine, then each section's table with every figure beside its baseline as a
# ratio (baseline time / msez time, > 1 means msez is faster).
#
#   benches/all.sh [WORKDIR] > report.md     (full sizes: ~2 h, ~6 GiB free, root for the mount)
#   QUICK=1 benches/all.sh > report.md        (small sizes, one run each: checks that every
#                                              script works; its figures are not for the record)
#
# Sections: end-to-end (benches/e2e.sh), core criterion benches (this script reads their
# estimates), witness bundles (benches/bundle.sh), remotes (benches/remote.sh, a real SeaweedFS:
# started by that script unless MSEZ_TEST_S3_ENDPOINT is set), FUSE mount (benches/mount.sh; root
# and /dev/fuse, else the section says why it was skipped). Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/msez-all-bench.XXXXXX")}
mkdir -p "$WORK"
CRITERION_ARGS=()
if [ "${QUICK:-0}" = 1 ]; then
  export RUNS=1 E2E_PUT=0 E2E_MILLION=0 N=300 BIG=3000 CHAIN_BENCH_SIZES=1000,10000 \
    MOUNT_BLOB_MIB=64 MOUNT_OBJECTS=3000 BASELINE_SECS=1
  CRITERION_ARGS=(--warm-up-time 0.2 --measurement-time 0.5)
fi
log() { printf '[benches/all] %s\n' "$*" >&2; }
section() { printf '\n## %s\n\n' "$1"; log "$1"; }

echo "# msez benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- sizes: $([ "${QUICK:-0}" = 1 ] && echo 'QUICK=1 (small; not for the record)' || echo full)"

section "End to end: put, append, verify (benches/e2e.sh)"
benches/e2e.sh "$WORK/e2e"

section "Core (criterion: canon, chain, mmr, odb_put; medians)"
stamp=$WORK/criterion.stamp && touch "$stamp"
for b in canon chain mmr odb_put; do
  cargo bench --quiet --bench "$b" -- "${CRITERION_ARGS[@]}" >/dev/null 2>&1
done
# Reads the estimates criterion wrote in this run (newer than the stamp) and prints each median,
# then the two ratios the issues name: canonical bytes vs serde_json, rebuild vs on-disk MMR.
python3 - "$stamp" <<'PY'
import json, os, pathlib, sys
stamp = os.path.getmtime(sys.argv[1])
root = pathlib.Path("target/criterion")
med = {}
for f in root.glob("**/new/estimates.json"):
    if f.stat().st_mtime < stamp:
        continue
    med[str(f.parent.parent.relative_to(root))] = json.loads(f.read_text())["median"]["point_estimate"]
def fmt(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.2f} {unit}"
    return f"{ns:.0f} ns"
print("| benchmark | median |")
print("|---|---|")
for k in sorted(med):
    print(f"| {k} | {fmt(med[k])} |")
print()
print("| ratio | value |")
print("|---|---|")
canon, base = med.get("canon/msez_canonical_bytes/1000 receipts"), med.get("canon/serde_json_to_vec/1000 receipts")
if canon and base:
    print(f"| canonical bytes vs `serde_json::to_vec` (time ratio) | **{base / canon:.2f}** |")
sizes = sorted({int(k.rsplit('/', 1)[1]) for k in med if k.startswith("chain/checkpoint/")})
for n in sizes:
    ck, rb = med.get(f"chain/checkpoint/{n}"), med.get(f"chain/reference_rebuild_checkpoint/{n}")
    pr, rp = med.get(f"chain/inclusion_proof/{n}"), med.get(f"chain/reference_rebuild_proof/{n}")
    if ck and rb and pr and rp:
        print(f"| at {n:,} receipts: checkpoint / proof vs rebuilding the MMR (reference) | **{rb / ck:,.0f}x / {rp / pr:,.0f}x** |")
PY

section "Witness bundles (benches/bundle.sh)"
benches/bundle.sh "$WORK/bundle"

section "Remotes (benches/remote.sh, SeaweedFS)"
benches/remote.sh "$WORK/remote"

section "FUSE mount (benches/mount.sh)"
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
  benches/mount.sh "$WORK/mount"
else
  echo "Skipped: the mount benchmarks need root (drop_caches), /dev/fuse and fusermount3."
fi
[ -n "${1:-}" ] || rm -rf "$WORK"
