#!/usr/bin/env bash
# Crash-consistency harness: kills msez with SIGKILL at random points of append
# (receipt-init --batch), of the append's commit window (MSEZ_TEST_CRASH_AT: after the journal,
# after publishing, after the ref moved), checkpoint, push to a local-directory remote, fetch
# and pull into a clone, and gc of the repository and of the remote (`--prune-expire now`) when
# msez has it, then checks that nothing acknowledged was lost and nothing is torn.
#
#   scripts/crash-harness.sh [N] [--report FILE]
#
# N runs (default 500). After every kill: a journal an append left names receipts signed at
# their positions; the next write to the chain (a one-receipt append, or `msez recover --all`,
# chosen at random) must complete exactly those; then `msez fsck` is clean in the repository and
# the clone, every ref names an object that exists, every receipt an append printed before the
# kill (its acknowledgement) or journaled is still in the chain at its sequence, no position
# holds a second receipt (no `receipt.N.<hex>.json` file, `asset state verify` valid). Prints a
# one-line report per operation and a total; exits 1 on any failure, leaving the work
# directory for inspection.
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
acked=$work/acked # "sequence next_root" of every acknowledged or journaled receipt
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

ops=(append append append append-window checkpoint push fetch pull)
[ "$has_gc" = 1 ] && ops+=(gc gc-remote)
declare -A killed=() finished=() failures=() took=()
journals=0 completed_by_append=0 completed_by_recover=0 completed_by_checkpoint=0
journal=$repo/.msez/journal/refs/$head_ref
# A checkpoint commits through the same transaction, journaled under its own ref.
ck_journal=$repo/.msez/journal/refs/assets/$asset/core/checkpoint
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
        append-window)
            points=(append-journaled append-published append-ref-moved)
            n=$((1 + RANDOM % 100))
            for j in $(seq 1 "$n"); do printf '{"kind":"transfer.v1","payload":{"run":%d,"j":%d}}\n' "$i" "$j"; done >"$work/batch.jsonl"
            cmd=(env MSEZ_TEST_CRASH_AT="${points[RANDOM % 3]}" "$msez" -C "$repo" asset state receipt-init "$asset" --batch "$work/batch.jsonl" --key dev.jwk) ;;
        checkpoint) cmd=("$msez" -C "$repo" asset state checkpoint "$asset" --key dev.jwk) ;;
        push) cmd=("$msez" -C "$repo" push origin) ;;
        fetch)
            if [ ! -d "$clone/.msez" ]; then
                "$msez" -q clone "$remote" "$clone" >/dev/null 2>&1 || true
            fi
            cmd=("$msez" -C "$clone" fetch origin) ;;
        pull)
            if [ ! -d "$clone/.msez" ]; then
                "$msez" -q clone "$remote" "$clone" >/dev/null 2>&1 || true
            fi
            cmd=("$msez" -C "$clone" pull origin) ;;
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
    # append-window kills itself at its point of the commit window: no outside kill.
    [ "$op" = append-window ] || sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    if [ "$op" != append-window ] && kill -9 "$pid" 2>/dev/null; then
        killed[$op]=$((${killed[$op]:-0} + 1))
        wait "$pid" 2>/dev/null || true
        # Never finished yet: the window was too short to tell, widen it (up to 10 s).
        if [ -z "${finished[$op]:-}" ]; then
            took[$op]=$((window * 2 > 10000 ? 10000 : window * 2))
        fi
    else
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        if [ "$rc" = 137 ]; then
            # Killed itself at its MSEZ_TEST_CRASH_AT point.
            killed[$op]=$((${killed[$op]:-0} + 1))
        else
            finished[$op]=$((${finished[$op]:-0} + 1))
            took[$op]=$((($(date +%s%N) - start) / 1000000))
        fi
    fi
    # What the append printed before the kill was acknowledged: "SEQ NEXT_ROOT PATH".
    case "$op" in
        append*) awk 'NF == 3 && $1 ~ /^[0-9]+$/ && length($2) == 64 { print $1, $2 }' "$out" >>"$acked" ;;
    esac
    # A journal: receipts signed at their positions. The next write must complete exactly them.
    if [ -f "$journal" ]; then
        journals=$((journals + 1))
        grep '^object ' "$journal" | while read -r _ _ root body; do
            seq=$(sed -n 's/.*"sequence":\([0-9]*\).*/\1/p' <<<"$body")
            echo "$seq $root"
        done >>"$acked"
        if [ $((RANDOM % 2)) = 0 ]; then
            "$msez" -C "$repo" -q recover --all >/dev/null 2>"$work/err" ||
                fail "$i" "$op" "recover: $(head -c 400 "$work/err")"
            completed_by_recover=$((completed_by_recover + 1))
        else
            printf '{"kind":"transfer.v1","payload":{"run":%d,"next":1}}\n' "$i" >"$work/next.jsonl"
            "$msez" -C "$repo" asset state receipt-init "$asset" --batch "$work/next.jsonl" --key dev.jwk >"$out" 2>"$work/err" ||
                fail "$i" "$op" "the next append: $(head -c 400 "$work/err")"
            awk 'NF == 3 && $1 ~ /^[0-9]+$/ && length($2) == 64 { print $1, $2 }' "$out" >>"$acked"
            completed_by_append=$((completed_by_append + 1))
        fi
        [ -f "$journal" ] && fail "$i" "$op" "the next write left the journal"
    fi
    # A checkpoint's journal: `msez recover` or the next checkpoint completes exactly it.
    if [ -f "$ck_journal" ]; then
        journals=$((journals + 1))
        if [ $((RANDOM % 2)) = 0 ]; then
            "$msez" -C "$repo" -q recover --all >/dev/null 2>"$work/err" ||
                fail "$i" "$op" "recover: $(head -c 400 "$work/err")"
            completed_by_recover=$((completed_by_recover + 1))
        else
            "$msez" -C "$repo" -q asset state checkpoint "$asset" --key dev.jwk >/dev/null 2>"$work/err" ||
                fail "$i" "$op" "the next checkpoint: $(head -c 400 "$work/err")"
            completed_by_checkpoint=$((completed_by_checkpoint + 1))
        fi
        [ -f "$ck_journal" ] && fail "$i" "$op" "the next write left the checkpoint journal"
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
    # No second receipt at a signed position: no fork-named file, and the module verifies.
    if ls "$repo/modules/smart-assets/$asset/state/receipts" | grep -Eq '^receipt\.[0-9]+\.[0-9a-f]{16}\.json$'; then
        fail "$i" "$op" "a second receipt file at a position: $(ls "$repo/modules/smart-assets/$asset/state/receipts" | grep -E '[0-9a-f]{16}' | head -3)"
    fi
    if [ $((i % 10)) = 0 ] || [ "$i" = "$runs" ]; then
        "$msez" -C "$repo" -q asset state verify "$asset" >"$work/verify" 2>&1 ||
            fail "$i" "$op" "verify: $(head -c 400 "$work/verify")"
    fi
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
    for op in append append-window checkpoint push fetch pull gc gc-remote; do
        [ "${op%-remote}" = gc ] && [ "$has_gc" = 0 ] && { printf '| %s | (no gc command) | | |\n' "$op"; continue; }
        printf '| %s | %d | %d | %d |\n' "$op" "${killed[$op]:-0}" "${finished[$op]:-0}" "${failures[$op]:-0}"
    done
    printf 'journals left by kills: %d (completed by the next append: %d, by the next checkpoint: %d, by msez recover: %d)\n' \
        "$journals" "$completed_by_append" "$completed_by_checkpoint" "$completed_by_recover"
    printf 'acknowledged receipts: %d; chain length at the end: %d; failures: %d\n' \
        "$total_acked" "$size" "$nfail"
} | tee ${report:+"$report"}
if [ "$status" = 0 ]; then
    rm -rf "$work"
else
    echo "work directory kept: $work" >&2
fi
exit $status
