#!/usr/bin/env bash
# Makes the files docs/auditor-guide.md checks, in OUT (new or empty), the same bytes on every
# run (development keys from vectors/, SOURCE_DATE_EPOCH for every timestamp):
#
#   asset.zip         witness bundle of a 100-receipt module (the example asset of
#                     examples/smart-asset-module.sh); receipt 42 attaches a valuation report;
#                     a checkpoint of all 100 and an inclusion proof of receipt 42
#   auditor-a.vc.json, zone-a.vc.json   attestations of asset.zip by the two attesters of
#   profile.yaml      the template profile (profiles/asset-history-bundle-attestation)
#   broken.zip        the same module without receipt.57.json, bundled with --allow-partial
#   tampered.zip      asset.zip with the valuation report's bytes swapped after the fact
#   slip.zip          a zip whose one entry is named ../../etc/cron.d/x
#
#   examples/auditor-files.sh OUT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
msez=${MSEZ:-msez}
out=${1:?usage: auditor-files.sh OUT}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}   # 2026-01-01T00:00:00Z
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -n "$(ls -A "$out")" ]; then
  echo "auditor-files: $out is not empty" >&2
  exit 64
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$msez" -q init >/dev/null
cp "$root/vectors/msez-fixtures/keys/dev.ed25519.jwk" dev.jwk
cp "$root/vectors/msez-fixtures/keys/zone-a.ed25519.jwk" zone-a.jwk
# The example asset's genesis (examples/smart-asset-module.sh writes the committed copy).
cp "$here/smart-asset-module/genesis.json" genesis.json
asset_id=$("$msez" asset module init --genesis genesis.json | head -n 1)
module=modules/smart-assets/$asset_id
printf 'Valuation report: crane 7, 2026-03-01, EUR 4.2M\n' > valuation.txt
report=$("$msez" artifact put valuation.txt --type blob)
report=${report#blob:}
for i in $(seq 0 99); do
  attach=""
  [ "$i" = 42 ] && attach=",\"attachments\":[{\"artifact_type\":\"blob\",\"digest_sha256\":\"$report\"}]"
  printf '{"kind":"warehouse.receipt.v1","payload":{"lot":"LOT-%03d","quantity_kg":%d,"holder":"did:example:holder-%d"}%s}\n' \
    "$i" $((1000 + 250 * i)) $((i % 3)) "$attach"
done > transitions.jsonl
"$msez" asset state receipt-init "$module" --batch transitions.jsonl --key dev.jwk --key zone-a.jwk >/dev/null
"$msez" asset state checkpoint "$module" --key dev.jwk >/dev/null
"$msez" asset state inclusion-proof "$module" --sequence 42 >/dev/null

"$msez" -q asset module witness-bundle "$module" --out "$out/asset.zip" >/dev/null
"$msez" -q artifact bundle attest "$out/asset.zip" --key dev.jwk --issuer "$("$msez" key did dev.jwk)" \
  --out "$out/auditor-a.vc.json" --statement "Audited: history of $asset_id to sequence 99" >/dev/null
"$msez" -q artifact bundle attest "$out/asset.zip" --key zone-a.jwk --issuer "$("$msez" key did zone-a.jwk)" \
  --out "$out/zone-a.vc.json" >/dev/null
cp "$root/profiles/asset-history-bundle-attestation/profile.yaml" "$out/profile.yaml"

# tampered.zip: the same entries, the report's bytes swapped (zip rewritten by Python's zipfile).
python3 - "$out/asset.zip" "$out/tampered.zip" "$report" <<'PY'
import sys, zipfile
src, dst, digest = sys.argv[1:]
with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as b:
    for info in a.infolist():
        data = a.read(info)
        if digest in info.filename:
            data = b"Valuation report: crane 7, 2026-03-01, EUR 9.9M\n"
        b.writestr(info, data)
PY
# slip.zip: one entry named to land outside the directory it is unpacked into.
python3 - "$out/slip.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr(zipfile.ZipInfo("../../etc/cron.d/x", (2026, 1, 1, 0, 0, 0)), b"* * * * * root id\n")
PY

rm "$module/state/receipts/receipt.57.json"
"$msez" -q asset module witness-bundle "$module" --out "$out/broken.zip" --allow-partial >/dev/null 2>&1 || true
[ -f "$out/broken.zip" ] || { echo "auditor-files: broken.zip was not written" >&2; exit 1; }
ls "$out"
