#!/usr/bin/env bash
# The commands of docs/operator-guide.md, end to end: a repository, a key, a smart-asset module,
# receipts (one, then a batch), a checkpoint, an inclusion proof, verification, a witness bundle
# and its attestations, a push to a remote, a clone and fsck of the clone, then an append from
# the clone (checkout, receipt-init, status, push).
#
#   examples/operator-walkthrough.sh WORKDIR
#
# WORKDIR must be new or empty. The remote is a local directory (WORKDIR/remote), or an S3
# prefix when MSEZ_TEST_S3_ENDPOINT is set (scripts/test sets it, with MSEZ_TEST_S3_BUCKET and
# the AWS_* variables, when SeaweedFS is up). What an auditor gets ends up in WORKDIR/handoff:
# asset.zip, auditor.vc.json, zone.vc.json and profile.yaml; examples/auditor-walkthrough.sh
# checks them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
MSEZ=${MSEZ:-msez}
work=${1:?usage: operator-walkthrough.sh WORKDIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ -n "$(ls -A "$work")" ]; then
  echo "operator-walkthrough: $work is not empty" >&2
  exit 64
fi
step() { printf '\n== %s\n' "$*"; }

step "1. a repository and an operator key"
mkdir "$work/operator"
cd "$work/operator"
"$MSEZ" init
"$MSEZ" key gen --out operator.jwk
did=$("$MSEZ" key did operator.jwk)

step "2. a smart-asset module"
cat > genesis.json <<JSON
{
  "type": "SmartAssetGenesis",
  "stack_spec_version": "0.4.44",
  "created_at": "2026-01-01T00:00:00Z",
  "asset_name": "Walkthrough Warehouse Receipt",
  "asset_class": "contract",
  "description": "docs/operator-guide.md",
  "creator": "$did"
}
JSON
"$MSEZ" asset module init --genesis genesis.json | tee module-init.out
asset_id=$(head -n 1 module-init.out)
module=modules/smart-assets/$asset_id

step "3. receipts: one, then a batch"
cat > transfer.json <<'JSON'
{"kind":"warehouse.receipt.v1","payload":{"lot":"LOT-000","quantity_kg":1000,"holder":"did:example:holder-0"}}
JSON
"$MSEZ" asset state receipt-init "$module" --transition transfer.json --key operator.jwk
for i in 1 2 3 4 5 6 7 8 9; do
  printf '{"kind":"warehouse.receipt.v1","payload":{"lot":"LOT-%03d","quantity_kg":%d,"holder":"did:example:holder-%d"}}\n' \
    "$i" $((1000 + 250 * i)) $((i % 3))
done > transitions.jsonl
"$MSEZ" asset state receipt-init "$module" --batch transitions.jsonl --key operator.jwk

step "4. a checkpoint and an inclusion proof"
"$MSEZ" asset state checkpoint "$module" --key operator.jwk
"$MSEZ" asset state inclusion-proof "$module" --sequence 4

step "5. verify"
ck=$module/state/checkpoints/checkpoint.10.json
"$MSEZ" asset state verify "$module" --checkpoint "$ck"
"$MSEZ" asset state verify-inclusion --receipt "$module/state/receipts/receipt.4.json" \
  --proof "$module/state/proofs/inclusion.4.json" --checkpoint "$ck"

step "6. a witness bundle and its attestations"
"$MSEZ" asset module witness-bundle "$module" --out asset.zip
# The template profile lists the committed development keys; a real engagement lists the
# auditor's and the zone operator's own keys.
cp "$root/vectors/msez-fixtures/keys/dev.ed25519.jwk" auditor.jwk
cp "$root/vectors/msez-fixtures/keys/zone-a.ed25519.jwk" zone.jwk
"$MSEZ" artifact bundle attest asset.zip --key auditor.jwk --issuer "$("$MSEZ" key did auditor.jwk)" \
  --out auditor.vc.json --statement "Audited: history of $asset_id to sequence 9"
"$MSEZ" artifact bundle attest asset.zip --key zone.jwk --issuer "$("$MSEZ" key did zone.jwk)" \
  --out zone.vc.json
cp "$root/profiles/asset-history-bundle-attestation/profile.yaml" profile.yaml
"$MSEZ" artifact bundle verify asset.zip --attestation auditor.vc.json --attestation zone.vc.json \
  --profile profile.yaml

step "7. push to a remote, clone, fsck"
if [ -n "${MSEZ_TEST_S3_ENDPOINT:-}" ]; then
  export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-$MSEZ_TEST_S3_ENDPOINT} AWS_ALLOW_HTTP=${AWS_ALLOW_HTTP:-true}
  url=s3://${MSEZ_TEST_S3_BUCKET:-msez-test}/walkthrough-$(date +%s)-$$
else
  url=$work/remote
fi
"$MSEZ" remote add origin "$url"
"$MSEZ" push origin
"$MSEZ" clone "$url" "$work/clone"
(cd "$work/clone" && "$MSEZ" fsck --strict && "$MSEZ" refs > "$work/clone-refs.txt")
"$MSEZ" fsck --strict
"$MSEZ" refs | diff - "$work/clone-refs.txt"
rm "$work/clone-refs.txt"
echo "the clone has the same refs"

step "8. continue the chain from the clone: checkout, append, push"
(
  cd "$work/clone"
  "$MSEZ" status
  "$MSEZ" checkout "$asset_id"
  "$MSEZ" asset state receipt-init "$asset_id" --transition "$work/operator/transfer.json" \
    --timestamp 2026-01-02T00:00:00Z --key "$work/operator/operator.jwk"
  "$MSEZ" status | tee "$work/clone-status.txt"
  grep -q "ahead of origin by 1" "$work/clone-status.txt"
  "$MSEZ" push origin
  "$MSEZ" asset state verify "$asset_id"
)
rm "$work/clone-status.txt"
echo "the clone appended and pushed"

mkdir "$work/handoff"
cp asset.zip auditor.vc.json zone.vc.json profile.yaml "$work/handoff/"
echo "$asset_id" > "$work/handoff/asset_id"
step "handed to the auditor: $work/handoff"
ls "$work/handoff"
