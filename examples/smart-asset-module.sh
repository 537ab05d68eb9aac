#!/usr/bin/env bash
# Builds examples/smart-asset-module/: a complete smart-asset module (genesis, asset.yaml, signed
# receipts, a checkpoint, inclusion proofs), then verifies every piece of it.
#
#   examples/smart-asset-module.sh [OUT]      (default: examples/smart-asset-module)
#
# Deterministic: the development keys from vectors/, SOURCE_DATE_EPOCH for every timestamp, so
# the files are byte-identical on every run. CI reruns it and compares with the committed copy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$here/smart-asset-module}
msez=${MSEZ:-msez}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}   # 2026-01-01T00:00:00Z

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$msez" -q init >/dev/null
cp "$root/vectors/msez-fixtures/keys/dev.ed25519.jwk" dev.jwk
cp "$root/vectors/msez-fixtures/keys/zone-a.ed25519.jwk" zone-a.jwk
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
asset_id=$("$msez" asset module init --genesis genesis.json | head -n 1)
module=modules/smart-assets/$asset_id
for i in 0 1 2 3 4 5 6 7; do
  printf '{"kind":"warehouse.receipt.v1","payload":{"lot":"LOT-%03d","quantity_kg":%d,"holder":"did:example:holder-%d"}}\n' "$i" $((1000 + 250 * i)) $((i % 3))
done > transitions.jsonl
"$msez" asset state receipt-init "$module" --batch transitions.jsonl --key dev.jwk --key zone-a.jwk >/dev/null
"$msez" asset state checkpoint "$module" --key dev.jwk >/dev/null
for seq in 0 3 7; do
  "$msez" asset state inclusion-proof "$module" --sequence "$seq" >/dev/null
done

# Verify everything the module holds, as an auditor would.
"$msez" asset state verify "$module" --checkpoint "$module/state/checkpoints/checkpoint.8.json"
for seq in 0 3 7; do
  "$msez" asset state verify-inclusion --receipt "$module/state/receipts/receipt.$seq.json" \
    --proof "$module/state/proofs/inclusion.$seq.json" --checkpoint "$module/state/checkpoints/checkpoint.8.json"
done
"$msez" fsck --strict

rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$module" "$out"
cp transitions.jsonl "$out/transitions.jsonl"
echo "wrote $out"
