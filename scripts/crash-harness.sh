#!/usr/bin/env bash
# Crash-consistency harness: kills msez with SIGKILL at random points of append
# (receipt-init --batch), checkpoint, push to a local-directory remote, fetch into a clone, and
# gc of the repository and of the remote (`--prune-expire now`) when msez has it, then checks
# that nothing acknowledged was lost and nothing is torn.
#
#   scripts/crash-harness.sh [N] [--report FILE]
#
# N runs (default 500). After every kill: `msez fsck` is clean in the repository and the clone,
# every ref names an object that exists, and every receipt an append printed before the kill
# (its acknowledgement) is still in the chain at its sequence. Prints a one-line report per
# operation and a total; exits 1 on any failure, leaving the work directory for inspection.
# MSEZ_BIN picks the binary (default target/debug/msez, built if missing).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=500
report=
while [ $# -gt 0 ]; do
    case "$1" in
        --report) report=$2; shift ;;
        *) runs=$1 ;;
    esac
    shift
done
msez=${MSEZ_BIN:-$root/target/debug/msez}
[ -x "$msez" ] || (cd "$root" && cargo build --quiet --bin msez)

work=$(mktemp -d "${TMPDIR:-/tmp}/msez-crash.XXXXXX")
repo=$work/repo clone=$work/clone remote=$work/remote
acked=$work/acked # "sequence next_root" of every acknowledged receipt
: >"$acked"
mkdir -p "$repo" "$remote"
cd "$repo"
"$msez" -q init >/dev/null
cp "$root/vectors/msez-fixtures/keys/dev.ed25519.jwk" dev.jwk
printf '%s' '{"type":"SmartAssetGenesis","asset_name":"crash","created_at":"2026-01-01T00:00:00Z"}' >genesis.json
asset=$("$msez" asset module init --genesis genesis.json | head -1)
head_ref=assets/$asset/core/head
"$msez" -q remote add origin "$remote" >/dev/null
has_gc=0
"$msez" gc --help >/dev/null 2>&1 && has_gc=1

ops=(append append append checkpoint push fetch)
[ "$has_gc" = 1 ] && ops+=(gc gc-remote)
declare -A killed=() finished=() failures=() took=()
fail() {
    echo "FAIL run $1 ($2): $3" >&2
    failures[$2]=$((${failures[$2]:-0} + 1))
    nfail=$((nfail + 1))
    status=1
}

# Every ref of the repository in $1 names an object it has.
refs_resolve() {
    local dir=$1 digest name t
    while read -r digest name; do
        [ -n "$name" ] || continue
        case "$name" in
            */checkpoint) t=smart-asset-receipt-checkpoint ;;
            *) t=smart-asset-receipt ;;
        esac
        "$msez" -C "$dir" -q show "$t:$digest" >/dev/null 2>&1 || return 1
    done < <("$msez" -C "$dir" refs)
}

status=0 nfail=0
for i in $(seq 1 "$runs"); do
    op=${ops[RANDOM % ${#ops[@]}]}
    out=$work/out
    case "$op" in
        append)
            n=$((1 + RANDOM % 200))
            for j in $(seq 1 "$n"); do printf '{"kind":"transfer.v1","payload":{"run":%d,"j":%d}}\n' "$i" "$j"; done >"$work/batch.jsonl"
            cmd=("$msez" -C "$repo" asset state receipt-init "$asset" --batch "$work/batch.jsonl" --key dev.jwk) ;;
        checkpoint) cmd=("$msez" -C "$repo" asset state checkpoint "$asset" --key dev.jwk) ;;
        push) cmd=("$msez" -C "$repo" push origin) ;;
        fetch)
            if [ ! -d "$clone/.msez" ]; then
                "$msez" -q clone "$remote" "$clone" >/dev/null 2>&1 || true
            fi
            cmd=("$msez" -C "$clone" fetch origin) ;;
        # No grace period, so objects orphaned by killed appends are really swept.
        gc) cmd=("$msez" -C "$repo" gc --prune-expire now) ;;
        gc-remote) cmd=("$msez" -C "$repo" gc --remote origin --prune-expire now) ;;
    esac
    # Kill at a uniform point of the operation's last measured duration (plus 20 %), so most
    # runs die inside it and some finish first.
    window=${took[$op]:-20}
    delay=$((RANDOM * (window * 6 / 5 + 1) / 32768))
    # Truncated here, not by the child's redirection: a child killed before it opens the file
    # must not leave the previous run's acknowledgements in it.
    : >"$out"
    start=$(date +%s%N)
    "${cmd[@]}" >>"$out" 2>"$work/err" &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then
        killed[$op]=$((${killed[$op]:-0} + 1))
        wait "$pid" 2>/dev/null || true
    else
        wait "$pid" 2>/dev/null || true
        finished[$op]=$((${finished[$op]:-0} + 1))
        took[$op]=$((($(date +%s%N) - start) / 1000000))
    fi
    # What the append printed before the kill was acknowledged: "SEQ NEXT_ROOT PATH".
    if [ "$op" = append ]; then
        awk 'NF == 3 && $1 ~ /^[0-9]+$/ && length($2) == 64 { print $1, $2 }' "$out" >>"$acked"
    fi
    for dir in "$repo" "$clone"; do
        [ -d "$dir/.msez" ] || continue
        if ! "$msez" -C "$dir" -q fsck >"$work/fsck" 2>&1; then
            fail "$i" "$op" "fsck of $dir: $(head -c 400 "$work/fsck")"
        fi
        if ! refs_resolve "$dir"; then
            fail "$i" "$op" "a ref of $dir names a missing object"
        fi
    done
    # Every acknowledged receipt is in the chain at its sequence.
    if [ -s "$acked" ]; then
        "$msez" -C "$repo" log "$head_ref" | awk '{ print $1, $2 }' | sort >"$work/chain"
        if missing=$(sort -u "$acked" | comm -23 - "$work/chain") && [ -n "$missing" ]; then
            fail "$i" "$op" "acknowledged receipts lost: $(head -3 <<<"$missing")"
        fi
    fi
    [ "$status" = 0 ] || break
done

total_acked=$(sort -u "$acked" | wc -l)
size=$("$msez" -C "$repo" log "$head_ref" 2>/dev/null | wc -l || true)
{
    printf 'crash harness: %d runs, msez %s\n' "$i" "$("$msez" --version)"
    printf '| operation | killed | finished before the kill | failures |\n|---|---|---|---|\n'
    for op in append checkpoint push fetch gc gc-remote; do
        [ "${op%-remote}" = gc ] && [ "$has_gc" = 0 ] && { printf '| %s | (no gc command) | | |\n' "$op"; continue; }
        printf '| %s | %d | %d | %d |\n' "$op" "${killed[$op]:-0}" "${finished[$op]:-0}" "${failures[$op]:-0}"
    done
    printf 'acknowledged receipts: %d; chain length at the end: %d; failures: %d\n' \
        "$total_acked" "$size" "$nfail"
} | tee ${report:+"$report"}
if [ "$status" = 0 ]; then
    rm -rf "$work"
else
    echo "work directory kept: $work" >&2
fi
exit $status
