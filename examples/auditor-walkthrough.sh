#!/usr/bin/env bash
# The commands of docs/auditor-guide.md, end to end and offline: `msez audit` of the bundle (the
# whole checklist, with its HTML report), then each check alone: check a witness bundle against
# itself, check its attestations against a profile, unpack it, verify the chain and an inclusion
# proof, and (when FUSE is usable) mount it and look with ls, jq and sha256sum.
#
#   examples/auditor-walkthrough.sh WORKDIR [HANDOFF]
#
# HANDOFF (default WORKDIR/handoff, where examples/operator-walkthrough.sh leaves it) holds
# asset.zip, profile.yaml and one or more *.vc.json attestations. The auditor works in
# WORKDIR/auditor, with no repository and nothing of the operator's but those files.
set -euo pipefail
MSEZ=${MSEZ:-msez}
work=${1:?usage: auditor-walkthrough.sh WORKDIR [HANDOFF]}
handoff=${2:-$work/handoff}
mkdir -p "$work/auditor"
work=$(cd "$work" && pwd)
handoff=$(cd "$handoff" && pwd)
cd "$work/auditor"
cp "$handoff/asset.zip" "$handoff/profile.yaml" "$handoff"/*.vc.json .
step() { printf '\n== %s\n' "$*"; }

step "0. the whole checklist in one command"
"$MSEZ" audit asset.zip --html report.html
grep -q "VALID" report.html && echo "report.html written"

step "1. the bundle against itself"
"$MSEZ" artifact graph verify --from-bundle asset.zip

step "2. who vouches for it"
atts=()
for f in *.vc.json; do atts+=(--attestation "$f"); done
"$MSEZ" artifact bundle verify asset.zip "${atts[@]}" --profile profile.yaml
for f in *.vc.json; do "$MSEZ" vc verify "$f"; done

step "3. the history itself"
"$MSEZ" artifact bundle extract asset.zip audit
module=$(ls -d audit/root/*/)
module=${module%/}
ck=$(ls "$module"/state/checkpoints/checkpoint.*.json | sort -t. -k2 -n | tail -n 1)
"$MSEZ" asset state verify "$module" --checkpoint "$ck"
for proof in "$module"/state/proofs/inclusion.*.json; do
  seq=${proof##*/inclusion.}
  seq=${seq%.json}
  "$MSEZ" asset state verify-inclusion --receipt "$module/state/receipts/receipt.$seq.json" \
    --proof "$proof" --checkpoint "$ck"
done

step "4. without msez: every entry against the manifest"
jq -r '.bundle.entries[] | "\(.sha256)  \(.path)"' audit/manifest.json | (cd audit && sha256sum -c --quiet)
echo "all entries match"
"$MSEZ" canon audit/manifest.json | sha256sum

step "5. mounted"
fuse_usable() {
  [ -c /dev/fuse ] || { echo "no /dev/fuse"; return 1; }
  command -v fusermount3 >/dev/null || { echo "fusermount3 missing (Debian package fuse3)"; return 1; }
  { : <>/dev/fuse; } 2>/dev/null || { echo "/dev/fuse cannot be opened by $(id -un)"; return 1; }
}
if why=$(fuse_usable); then
  mkdir mnt
  "$MSEZ" mount asset.zip mnt
  trap 'fusermount3 -u "$work/auditor/mnt" 2>/dev/null || true' EXIT
  ls mnt
  verdict=$(jq -r .verdict mnt/verify-report.json)
  echo "verify-report.json verdict: $verdict"
  [ "$verdict" = valid ]
  ls mnt/objects
  # raw/ is the zip's entries as stored: the manifest's digests check out on the mounted tree.
  jq -r '.bundle.entries[] | "\(.sha256)  \(.path)"' mnt/manifest.json | (cd mnt/raw && sha256sum -c --quiet)
  echo "mounted entries match the manifest"
  jq -c .stats mnt/manifest.json
  fusermount3 -u mnt
  trap - EXIT
  echo "unmounted"
else
  echo "SKIPPED: msez mount: FUSE unavailable: $why"
fi

step "all checks passed"
