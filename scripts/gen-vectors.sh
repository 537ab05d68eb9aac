#!/usr/bin/env bash
# Writes vectors/msez-generated/: deterministic artifacts msez produces, with the verdict msez
# gives on each, for a second implementation to check (vectors/msez-generated/README.md).
#
#   scripts/gen-vectors.sh [OUT]          (default: vectors/msez-generated)
#
# Deterministic: the committed keys of vectors/msez-fixtures/keys, receipt timestamps given
# with --timestamp and SOURCE_DATE_EPOCH for every other time, so every run writes the same
# bytes. tests/it/vectors.rs reruns it, compares with the committed copy, replays expected.json
# with msez and checks what it can with tests/oracle/msez_oracle.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/vectors/msez-generated}
MSEZ=${MSEZ:-msez}
export SOURCE_DATE_EPOCH=1767225600   # 2026-01-01T00:00:00Z
keys=$root/vectors/msez-fixtures/keys
did() { "$MSEZ" key did "$keys/$1.ed25519.jwk"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$MSEZ" -q init >/dev/null
cp "$keys"/*.jwk .

# --- chain: 8 receipts (dev + zone-a), a checkpoint, inclusion proofs --------------------------
cat > genesis.json <<JSON
{
  "type": "SmartAssetGenesis",
  "stack_spec_version": "0.4.44",
  "created_at": "2026-01-01T00:00:00Z",
  "asset_name": "msez generated vectors",
  "asset_class": "contract",
  "description": "scripts/gen-vectors.sh",
  "creator": "$(did dev)"
}
JSON
asset_id=$("$MSEZ" asset module init --genesis genesis.json | head -n 1)
module=modules/smart-assets/$asset_id
append() { # append MODULE SEQ KEY...
  local m=$1 i=$2; shift 2
  local args=()
  for k in "$@"; do args+=(--key "$k.ed25519.jwk"); done
  printf '{"kind":"vector.transfer.v1","payload":{"step":%d,"amount":"%d.00"}}\n' "$i" $((100 * (i + 1))) > t.json
  "$MSEZ" -q asset state receipt-init "$m" --transition t.json "${args[@]}" \
    --timestamp "$(date -u -d "@$((SOURCE_DATE_EPOCH + i))" +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
}
for i in 0 1 2 3 4 5 6 7; do append "$module" "$i" dev zone-a; done
"$MSEZ" -q asset state checkpoint "$module" --key dev.ed25519.jwk >/dev/null
for seq in 0 3 7; do "$MSEZ" -q asset state inclusion-proof "$module" --sequence "$seq" >/dev/null; done

# --- mmr: the leaves, a root, an inclusion proof and RFC 9162 consistency proofs ---------------
mkdir mmr
for f in $(ls "$module"/state/receipts/receipt.*.json | sort -t. -k2 -n); do
  jq -r .next_root "$f"
done > mmr/leaves.txt
"$MSEZ" mmr root --leaves mmr/leaves.txt > mmr/root.8.txt
for old in 1 3 5; do
  head -n "$old" mmr/leaves.txt > mmr/l.txt
  "$MSEZ" mmr root --leaves mmr/l.txt > "mmr/root.$old.txt"
  "$MSEZ" mmr consistency --leaves mmr/leaves.txt --old "$old" --new 8 > "mmr/consistency.$old-8.json"
done
rm mmr/l.txt

# --- fork: a second receipt at sequence 2, a signed resolution, checkpoints of both branches ---
cp genesis.json fork-genesis.json
jq '.asset_name = "msez generated vectors (forked)"' genesis.json > fork-genesis.json
fork_id=$("$MSEZ" asset module init --genesis fork-genesis.json | head -n 1)
fork=modules/smart-assets/$fork_id
for i in 0 1 2; do append "$fork" "$i" dev zone-a; done
r2=$fork/state/receipts/receipt.2.json
# The competing receipt: the same transition at another time, so another next_root.
jq '.timestamp = "2026-01-01T01:00:00Z" | del(.next_root, .proof)' "$r2" > other.body.json
other=$("$MSEZ" canon other.body.json | sha256sum | cut -d' ' -f1)
jq --arg n "$other" '.next_root = $n' other.body.json > other.json
"$MSEZ" -q vc sign other.json --key zone-a.ed25519.jwk --out "$fork/state/receipts/receipt.2.other.json" >/dev/null
rm other.body.json other.json
prev=$(jq -r .prev_root "$r2")
main=$(jq -r .next_root "$r2")
cat > trust-anchors.yaml <<YAML
version: 1
trust_anchors:
  - anchor_id: dev
    type: did
    identifier: $(did dev)
    allowed_attestations: ["smart_asset_receipt", "fork_resolution"]
  - anchor_id: zone-a
    type: did
    identifier: $(did zone-a)
    allowed_attestations: ["smart_asset_receipt"]
YAML
for name in main other; do
  chosen=$main; [ "$name" = main ] || chosen=$other
  mkdir -p "resolutions-$name"
  "$MSEZ" -q asset state fork-resolve "$fork" --sequence 2 --prev-root "$prev" --chosen-next-root "$chosen" \
    --key dev.ed25519.jwk --out "resolutions-$name/resolution.json" >/dev/null
  # fork-resolve gives each resolution a random urn:uuid id; a fixed one, signed again, keeps
  # the vectors byte-stable (Ed25519 signatures are deterministic).
  jq --arg id "urn:uuid:00000000-0000-4000-8000-00000000000$([ "$name" = main ] && echo 1 || echo 2)" \
    'del(.proof) | .id = $id' "resolutions-$name/resolution.json" > r.json
  "$MSEZ" -q vc sign r.json --key dev.ed25519.jwk --out "resolutions-$name/resolution.json" >/dev/null
  rm r.json
  "$MSEZ" -q asset state checkpoint "$fork" --trust-anchors trust-anchors.yaml \
    --fork-resolutions "resolutions-$name" --key dev.ed25519.jwk >/dev/null
  cp "$fork/state/checkpoints/checkpoint.3.json" "checkpoint.$name.json"
  "$MSEZ" -q asset state inclusion-proof "$fork" --trust-anchors trust-anchors.yaml \
    --fork-resolutions "resolutions-$name" --sequence 2 --out "inclusion.2.$name.json" >/dev/null
done
rm -f "$fork"/state/checkpoints/* "$fork"/state/proofs/*
"$MSEZ" -q asset state fork-evidence checkpoint.main.json checkpoint.other.json \
  --proof1 inclusion.2.main.json --proof2 inclusion.2.other.json --out fork-evidence.json >/dev/null

# --- bundle: the chain module's witness bundle and two attestations ----------------------------
# --max-nodes as when these vectors were made (the default is larger since issue 15;
# options.max_nodes is in the manifest the attestations sign).
"$MSEZ" -q asset module witness-bundle "$module" --out bundle.zip --max-nodes 1000000 >/dev/null
for who in dev zone-a; do
  "$MSEZ" -q artifact bundle attest bundle.zip --key "$who.ed25519.jwk" --issuer "$(did "$who")" \
    --out "attestation.$who.vc.json" >/dev/null
done

# --- negative cases: one changed byte each ------------------------------------------------------
mkdir bad
jq '.transition.payload.amount = "999.00"' "$module/state/receipts/receipt.3.json" > bad/receipt.3.edited-payload.json
jq '.mmr.root = ("0" * 64)' "$module/state/checkpoints/checkpoint.8.json" > bad/checkpoint.8.wrong-root.json
jq '.leaf_index = 4' "$module/state/proofs/inclusion.3.json" > bad/inclusion.3.wrong-index.json

# --- write OUT ------------------------------------------------------------------------------------
# README.md is written by hand; everything else is regenerated.
mkdir -p "$out"
find "$out" -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
cp -r "$module" "$out/chain"
cp -r mmr "$out/mmr"
mkdir "$out/fork"
cp -r "$fork" "$out/fork/module"
cp -r resolutions-main resolutions-other trust-anchors.yaml checkpoint.main.json checkpoint.other.json \
  inclusion.2.main.json inclusion.2.other.json fork-evidence.json "$out/fork/"
mkdir "$out/bundle"
cp bundle.zip attestation.dev.vc.json attestation.zone-a.vc.json "$out/bundle/"
cp "$root/profiles/asset-history-bundle-attestation/profile.yaml" "$out/bundle/profile.yaml"
cp -r bad "$out/bad"

# --- expected.json: each case, its command (run in OUT) and msez's exit code -------------------
# The verdicts are written here by hand, then checked: the script fails if msez disagrees.
cd "$out"
: > "$work/cases.jsonl"
case_() { # case_ NAME EXIT WHAT -- ARGS...
  local name=$1 exit=$2 what=$3; shift 4
  local args
  args=$(printf '%s\n' "$@" | jq -R . | jq -cs .)
  jq -cn --arg name "$name" --argjson exit "$exit" --arg what "$what" --argjson args "$args" \
    '{name: $name, exit: $exit, verdict: (if $exit == 0 then "valid" else "invalid" end), what: $what, args: $args}' \
    >> "$work/cases.jsonl"
  local got=0
  "$MSEZ" "$@" >/dev/null 2>&1 || got=$?
  [ "$got" = "$exit" ] || { echo "gen-vectors: case $name: msez exited $got, expected $exit" >&2; exit 1; }
}
ck=chain/state/checkpoints/checkpoint.8.json
case_ chain-verify 0 "the chain, every signature and the checkpoint" -- asset state verify chain --checkpoint "$ck"
for seq in 0 3 7; do
  case_ "inclusion-$seq" 0 "receipt $seq is in the checkpoint's MMR" -- asset state verify-inclusion \
    --receipt "chain/state/receipts/receipt.$seq.json" --proof "chain/state/proofs/inclusion.$seq.json" --checkpoint "$ck"
done
case_ mmr-root 0 "the MMR root of the 8 next_roots (mmr/root.8.txt)" -- mmr root --leaves mmr/leaves.txt
for old in 1 3 5; do
  case_ "consistency-$old-8" 0 "RFC 9162 consistency of size $old with size 8" -- mmr verify-consistency \
    --old "$old" --old-root "$(cat "mmr/root.$old.txt")" --new 8 --new-root "$(cat mmr/root.8.txt)" --proof "mmr/consistency.$old-8.json"
done
case_ consistency-wrong-old-root 66 "a consistency proof against another old root" -- mmr verify-consistency \
  --old 3 --old-root "$(cat mmr/root.5.txt)" --new 8 --new-root "$(cat mmr/root.8.txt)" --proof mmr/consistency.3-8.json
case_ fork-unresolved 69 "two receipts at sequence 2, no resolution" -- asset state verify fork/module
for name in main other; do
  case_ "fork-resolved-$name" 0 "the signed resolution selects the $name branch" -- asset state verify fork/module \
    --trust-anchors fork/trust-anchors.yaml --fork-resolutions "fork/resolutions-$name"
  case_ "fork-resolution-$name-signature" 0 "the resolution's own signature" -- vc verify "fork/resolutions-$name/resolution.json"
done
case_ fork-resolved-untrusted 69 "a resolution without trust anchors does not count" -- asset state verify fork/module \
  --fork-resolutions fork/resolutions-main
case_ fork-evidence 0 "two signed checkpoints of one chain that contradict each other" -- asset state fork-evidence \
  --verify fork/fork-evidence.json --trust-anchors fork/trust-anchors.yaml
case_ bundle-graph 0 "the witness bundle against itself" -- artifact graph verify --from-bundle bundle/bundle.zip
case_ bundle-attested 0 "both attestations, the profile's quorum of 2" -- artifact bundle verify bundle/bundle.zip \
  --attestation bundle/attestation.dev.vc.json --attestation bundle/attestation.zone-a.vc.json --profile bundle/profile.yaml
case_ bundle-quorum-short 67 "one attestation, the profile needs 2" -- artifact bundle verify bundle/bundle.zip \
  --attestation bundle/attestation.dev.vc.json --profile bundle/profile.yaml
case_ bad-receipt-payload 67 "receipt 3 with an edited payload: its signatures fail" -- asset state verify-inclusion \
  --receipt bad/receipt.3.edited-payload.json --proof chain/state/proofs/inclusion.3.json --checkpoint "$ck"
case_ bad-checkpoint-root 67 "checkpoint with another MMR root: its signature fails" -- asset state verify chain \
  --checkpoint bad/checkpoint.8.wrong-root.json
case_ bad-inclusion-index 66 "inclusion proof with another leaf_index" -- asset state verify-inclusion \
  --receipt chain/state/receipts/receipt.3.json --proof bad/inclusion.3.wrong-index.json --checkpoint "$ck"
jq -s --arg asset_id "$asset_id" --arg fork_asset_id "$fork_id" \
  '{generator: "scripts/gen-vectors.sh", source_date_epoch: 1767225600, asset_id: $asset_id,
    fork_asset_id: $fork_asset_id, cases: .}' "$work/cases.jsonl" > expected.json
echo "wrote $out"
