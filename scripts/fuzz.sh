#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for a fixed time, one at a time, under nice, and prints a
# table row per target (runs, execs/s, cov, ft, corpus, crashes) from libFuzzer's final stats.
#
#   scripts/fuzz.sh [--smoke] [SECONDS] [TARGET...]
#
# SECONDS defaults to 600 (10 minutes); --smoke runs each target for 20 s (what CI does).
# Seeds come from vectors/ (written into fuzz/corpus/<target>/, which is not in git). Logs go to
# fuzz/logs/<target>.log; a crash leaves its input in fuzz/artifacts/<target>/ and makes the
# script exit 1. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain
# RUSTC_BOOTSTRAP=1 lets it use the sanitizer flags. FUZZ_TARGET_DIR moves the sanitizer build
# (several GB) elsewhere, e.g. to a tmpfs when the disk is short.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=600
targets=()
for arg in "$@"; do
    case "$arg" in
        --smoke) seconds=20 ;;
        ''|*[!0-9]*) targets+=("$arg") ;;
        *) seconds=$arg ;;
    esac
done
export RUSTC_BOOTSTRAP=1
tdir=${FUZZ_TARGET_DIR:-$root/fuzz/target}
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi

corpus=fuzz/corpus
mkdir -p fuzz/logs
# seed TARGET PREFIX FILE...: one corpus file per input, PREFIX bytes (printf format) first.
seed() {
    local target=$1 prefix=$2
    shift 2
    mkdir -p "$corpus/$target"
    local f
    for f in "$@"; do
        # shellcheck disable=SC2059
        { printf "$prefix"; cat "$f"; } >"$corpus/$target/seed-$(printf '%s' "$prefix$f" | sha256sum | cut -c1-16)"
    done
}
mapfile -t json < <(find vectors -name '*.json' -size -64k | sort)
mapfile -t vcs < <(find vectors -name '*.vc.json' -o -name '*.jwk' | sort)
seed canon '' "${json[@]}"
seed canon_stream '' "${json[@]}"
seed vc '' "${json[@]}" "${vcs[@]}"
seed mmr '\000' "${json[@]}"
for p in '\000' '\001' '\002' '\003' '\006' '\007'; do seed chain "$p" "${json[@]}"; done
# Remote and mount inputs are names and paths; a few real ones start the search.
mkdir -p "$corpus/remote" "$corpus/mount"
d=$(printf 'ab%.0s' {1..32})
i=0
for s in "objects/vc/$d.json" "proofs/vc/$d/$d.json" "refs/assets/$d/core/head" "$d" \
    "vc:$d" "file:///tmp/r" "s3://bucket/prefix" "ipfs://127.0.0.1:5001/name" "../rel/dir" \
    "objects/vc" "refs" "assets/$d/core/receipts/0.json" "corridors/c/checkpoints/latest.json" \
    "graph/vc/$d/edges" "objects/blob/$d.bin" "assets/$d/core/head.json"; do
    printf '%s' "$s" >"$corpus/remote/seed-$i"
    printf '%s' "$s" >"$corpus/mount/seed-$i"
    i=$((i + 1))
done

# The mount target looks at a repository with a chain, a checkpoint and a blob.
repo=$(mktemp -d)
trap 'rm -rf "$repo"' EXIT
msez=${MSEZ_BIN:-$root/target/debug/msez}
[ -x "$msez" ] || cargo build --quiet --bin msez
(
    cd "$repo"
    "$msez" -q init >/dev/null
    cp "$root/vectors/msez-fixtures/keys/dev.ed25519.jwk" dev.jwk
    printf '%s' '{"type":"SmartAssetGenesis","asset_name":"fuzzed","created_at":"2026-01-01T00:00:00Z"}' >genesis.json
    asset=$("$msez" asset module init --genesis genesis.json | head -1)
    for i in 0 1 2 3 4; do printf '{"kind":"transfer.v1","payload":{"i":%d}}\n' "$i"; done >batch.jsonl
    "$msez" -q asset state receipt-init "$asset" --batch batch.jsonl --key dev.jwk >/dev/null
    "$msez" -q asset state checkpoint "$asset" --key dev.jwk >/dev/null
    head -c 5000 /dev/urandom >blob.bin
    "$msez" -q artifact put blob.bin --type blob >/dev/null 2>&1 || true
    printf 'assets/%s/core/receipts/3.json' "$asset" >"$root/$corpus/mount/seed-chain"
    mkdir -p "$root/$corpus/bundle"
    "$msez" -q asset module witness-bundle "$asset" --out "$root/$corpus/bundle/seed-witness.zip" >/dev/null
)
export MSEZ_FUZZ_REPO=$repo

(cd fuzz && for t in "${targets[@]}"; do nice -n 19 cargo fuzz build -O --target-dir "$tdir" "$t"; done)

status=0
printf '| target | seconds | runs | execs/s | cov | ft | corpus | crashes |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
    log=fuzz/logs/$t.log
    mkdir -p "fuzz/artifacts/$t"
    set +e
    (cd fuzz && nice -n 19 cargo fuzz run -O --target-dir "$tdir" "$t" -- -max_total_time="$seconds" \
        -print_final_stats=1 -timeout=10 -rss_limit_mb=2048) >"$log" 2>&1
    rc=$?
    set -e
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    field() { sed -nE "s/.* $1: ([0-9a-zA-Z\/]+).*/\1/p" <<<"$done_line"; }
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1 || true)
    eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1 || true)
    crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$seconds" "${runs:-?}" \
        "${eps:-?}" "$(field cov)" "$(field ft)" "$(field corp)" "$crashes"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        echo "FAIL $t (exit $rc): see $log and fuzz/artifacts/$t" >&2
        status=1
    fi
done
exit $status
