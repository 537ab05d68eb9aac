#!/usr/bin/env bash
# Draws the pictures the guides show, with msez's SVG renderer (layout-rs places, msez draws; no
# graphviz):
#
#   docs/img/chain-10.svg      `msez log --render`: a 10-receipt chain with a checkpoint of 8
#   docs/img/chain-forked.svg  `fork-inspect --render`: a fork at #5 (3 competing receipts),
#                              resolved by a signed fork resolution
#   docs/img/chain-10k.svg     `msez log --render`: 10,000 receipts, two checkpoints, collapsed
#
#   examples/pictures.sh [OUT]      (default: docs/img)
#
# Deterministic: the development keys from vectors/, SOURCE_DATE_EPOCH for every timestamp, so
# the pictures are byte-identical on every run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/docs/img}
out=$(mkdir -p "$out" && cd "$out" && pwd)
msez=${MSEZ:-msez}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}   # 2026-01-01T00:00:00Z

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
keys=$root/vectors/msez-fixtures/keys

# A repository with the example asset module; prints the asset_id.
module_repo() {
  mkdir -p "$1"
  (
    cd "$1"
    "$msez" -q init >/dev/null
    cp "$keys/dev.ed25519.jwk" dev.jwk
    cat > genesis.json <<'JSON'
{
  "type": "SmartAssetGenesis",
  "stack_spec_version": "0.4.44",
  "created_at": "2026-01-01T00:00:00Z",
  "asset_name": "Example Warehouse Receipt",
  "asset_class": "contract",
  "description": "The msez example module",
  "creator": "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze"
}
JSON
    "$msez" asset module init --genesis genesis.json | head -n 1
  )
}

# N transitions, lots FROM.. of warehouse receipts (TAG varies their content).
transitions() {
  awk -v n="$1" -v from="$2" -v tag="$3" 'BEGIN { for (i = from; i < from + n; i++)
    printf "{\"kind\":\"warehouse.receipt.v1\",\"payload\":{\"lot\":\"LOT-%05d\",\"holder\":\"%s\"}}\n", i, tag }'
}

append() { # DIR MODULE N FROM TAG
  transitions "$3" "$4" "$5" > "$1/t.jsonl"
  "$msez" -C "$1" -q asset state receipt-init "$2" --batch t.jsonl --key dev.jwk >/dev/null
}

# A 10-receipt chain with a checkpoint of the first 8.
asset_id=$(module_repo "$work/ten")
module=modules/smart-assets/$asset_id
append "$work/ten" "$module" 8 0 did:example:a
"$msez" -C "$work/ten" -q asset state checkpoint "$module" --key dev.jwk >/dev/null
append "$work/ten" "$module" 2 8 did:example:a
"$msez" -C "$work/ten" -q log "assets/$asset_id/core/head" --render "$out/chain-10.svg"

# A fork: a second operator, from the same 5 receipts, appends 3 others; both sets of files
# meet in one module folder, and a resolution signed by an anchor allowed fork_resolution
# keeps the first operator's 10-receipt branch.
module_repo "$work/forked" >/dev/null
module_repo "$work/other" >/dev/null
append "$work/forked" "$module" 5 0 did:example:a
append "$work/other" "$module" 5 0 did:example:a
append "$work/forked" "$module" 5 5 did:example:a
append "$work/other" "$module" 3 5 did:example:b
for seq in 5 6 7; do
  cp "$work/other/$module/state/receipts/receipt.$seq.json" \
    "$work/forked/$module/state/receipts/receipt.$seq.other.json"
done
dev_did=$("$msez" key did "$keys/dev.ed25519.jwk")
cat > "$work/forked/ta.yaml" <<YAML
version: 1
trust_anchors:
  - anchor_id: dev
    type: did
    identifier: $dev_did
    allowed_attestations: ["smart_asset_receipt", "fork_resolution"]
YAML
prev=$(sed -n 's/.*"prev_root": *"\([0-9a-f]*\)".*/\1/p' "$work/forked/$module/state/receipts/receipt.5.json")
chosen=$(sed -n 's/.*"next_root": *"\([0-9a-f]*\)".*/\1/p' "$work/forked/$module/state/receipts/receipt.5.json")
"$msez" -C "$work/forked" -q asset state fork-resolve "$module" --sequence 5 --prev-root "$prev" \
  --chosen-next-root "$chosen" --key dev.jwk --trust-anchors ta.yaml >/dev/null
"$msez" -C "$work/forked" -q asset state fork-inspect "$module" --trust-anchors ta.yaml \
  --render "$out/chain-forked.svg"

# 10,000 receipts, checkpoints of 4,000 and of all of them.
module_repo "$work/big" >/dev/null
append "$work/big" "$module" 4000 0 did:example:a
"$msez" -C "$work/big" -q asset state checkpoint "$module" --key dev.jwk >/dev/null
append "$work/big" "$module" 6000 4000 did:example:a
"$msez" -C "$work/big" -q asset state checkpoint "$module" --key dev.jwk >/dev/null
"$msez" -C "$work/big" -q log "assets/$asset_id/core/head" --render "$out/chain-10k.svg"
echo "wrote $out/chain-10.svg $out/chain-10k.svg $out/chain-forked.svg"
