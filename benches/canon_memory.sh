#!/usr/bin/env bash
# Peak RSS of canonicalizing and hashing a ~40 MB JSON document (issue 20: under 4x its size),
# before and after, in paired rounds: each round runs the before binary and then this tree's
# release binary on the same file, `msez canon FILE` (canonical bytes to a file) and
# `msez digest --type smart-asset-receipt FILE` (SHA-256 of the canonical form minus `proof`
# and `next_root`), each under GNU time (`%M` max RSS, `%e` wall).
#
#   [SHAPE=receipts|small|wide] benches/canon_memory.sh [ROUNDS] [BEFORE_BINARY] [WORKDIR]
#       (default 5 rounds, /work/msez-before, a temp dir; MSEZ_AFTER=path skips the build)
#
# SHAPE=receipts (default): pretty-printed receipt-like objects (nested payload, digests, proof,
# non-ASCII and escaped strings, big integers) in an array in one object, as a module export
# is. SHAPE=small: compact small objects in one array in one object (`{"id":1,"k":"v1","tags":["a","b"],"n":{...}}`), many
# values per byte, the worst case for a value tree. SHAPE=wide: one object of ~3M members, the
# worst case for the streaming path (it holds every member of an object on the current path).
# Prints one line per round and per side, then medians and spreads. Both sides' outputs are
# compared byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
BEFORE=${2:-/work/msez-before}
WORK=${3:-$(mktemp -d "${TMPDIR:-/tmp}/msez-canon-mem.XXXXXX")}
mkdir -p "$WORK"
if [ -z "${MSEZ_AFTER:-}" ]; then
  cargo build --release --quiet --bin msez
  MSEZ_AFTER=$PWD/target/release/msez
fi
DOC=$WORK/doc.json
python3 - "$DOC" "${SHAPE:-receipts}" <<'PY'
import json, sys
if sys.argv[2] in ("small", "wide"):
    parts, size, i = [], 0, 0
    while size < 40_900_000:
        if sys.argv[2] == "small":
            t = json.dumps({"id": i, "k": "v%d" % (i % 100), "tags": ["a", "b"],
                            "n": {"x": i % 7, "y": -i}}, separators=(",", ":"))
        else:
            t = '"k%08d":%d' % ((i * 7919) % 10**8, i)
        parts.append(t)
        size += len(t) + 1
        i += 1
    with open(sys.argv[1], "w") as f:
        f.write('{"items":[' + ",".join(parts) + "]}" if sys.argv[2] == "small" else "{" + ",".join(parts) + "}")
    sys.exit(0)
def receipt(i):
    return {
        "type": "SmartAssetReceipt",
        "asset_id": "37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5",
        "sequence": i,
        "timestamp": "2026-01-01T00:00:%02dZ" % (i % 60),
        "prev_root": "%064x" % (i * 2654435761 % (1 << 256)),
        "lawpack_digest_set": ["1" * 64],
        "ruleset_digest_set": ["2" * 64],
        "transition": {
            "type": "MSEZTransitionEnvelope",
            "kind": "transfer",
            "payload": {"from": "Zo\u00eb", "to": "\u6771\u4eac Ltd. \U0001f600", "amount": "%d.00" % i,
                        "memo": "line\nbreak \"quoted\"", "n": 123456789012345678901234567890 + i},
            "payload_sha256": "4d99a1d536e35caa4da38ab2f0883e5dfd27b16b79477def77e1880127e35f34",
        },
        "proof": [{"type": "MsezEd25519Signature2025", "created": "2026-01-01T00:00:00Z",
                   "verificationMethod": "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze#key-1",
                   "proofPurpose": "assertionMethod",
                   "jws": "xXVNN-AhebdBzqeLAsf_eKuiMRy_u5dKXADS9HKTE1AJKjgR_08B8fm8mnovbMJgXR4yak_SVF5qg4-XwcwlCQ"}],
        "next_root": "%064x" % (i * 40503 % (1 << 256)),
    }
n = 0
items = []
size = 0
while size < 40_900_000:
    text = json.dumps(receipt(n), indent=2, ensure_ascii=False)
    items.append(text)
    size += len(text.encode()) + 4
    n += 1
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write('{\n  "type": "ModuleExport",\n  "receipts": [\n' + ",\n".join(items) + "\n  ]\n}\n")
PY
SIZE=$(stat -c %s "$DOC")
echo "document: $SIZE bytes ($(python3 -c "print(round($SIZE/1e6, 1))") MB), before: $BEFORE, after: $MSEZ_AFTER"
# One unmeasured run each warms the page cache.
"$BEFORE" canon "$DOC" >/dev/null
"$MSEZ_AFTER" canon "$DOC" >/dev/null
measure() { # side command...: prints "rss_kib wall_s"
  local out=$WORK/out.$1; shift
  /usr/bin/time -o "$WORK/time" -f '%M %e' "$@" >"$out"
  cat "$WORK/time"
}
: >"$WORK/results"
for i in $(seq 1 "$ROUNDS"); do
  for cmd in canon digest; do
    args=(canon "$DOC"); [ "$cmd" = digest ] && args=(digest --type smart-asset-receipt "$DOC")
    read -r b_rss b_t < <(measure before "$BEFORE" "${args[@]}")
    read -r a_rss a_t < <(measure after "$MSEZ_AFTER" "${args[@]}")
    cmp -s "$WORK/out.before" "$WORK/out.after" || { echo "round $i $cmd: outputs differ" >&2; exit 1; }
    echo "$cmd $b_rss $b_t $a_rss $a_t" >>"$WORK/results"
    echo "round $i $cmd: before $((b_rss / 1024)) MiB ${b_t} s, after $((a_rss / 1024)) MiB ${a_t} s"
  done
done
python3 - "$WORK/results" "$SIZE" <<'PY'
import statistics, sys
size = int(sys.argv[2])
rows = [l.split() for l in open(sys.argv[1])]
for cmd in ("canon", "digest"):
    r = [[float(x) for x in row[1:]] for row in rows if row[0] == cmd]
    def show(col, unit):
        v = [x[col] for x in r]
        return statistics.median(v), min(v), max(v)
    for side, c in (("before", 0), ("after", 2)):
        rss = [x[c] * 1024 for x in r]
        t = [x[c + 1] for x in r]
        print(f"{cmd} {side}: peak RSS median {statistics.median(rss)/2**20:.0f} MiB "
              f"({min(rss)/2**20:.0f}-{max(rss)/2**20:.0f}), {statistics.median(rss)/size:.2f}x the document; "
              f"wall median {statistics.median(t):.2f} s ({min(t):.2f}-{max(t):.2f})")
    ratios = [x[3] / x[1] for x in r]
    print(f"{cmd} time after/before: median {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
PY
rm -f "$WORK"/out.* "$WORK/time"
