#!/usr/bin/env python3
"""msez_oracle: an independent checker for MSEZ artifacts (receipt chains, checkpoints,
inclusion proofs, signatures).

Written only from docs page `msez-wire-format.md` (sections 1, 2, 4, 5, 6, 7, 8, 11). It shares
no code with msez. Python 3.11, standard library + `cryptography`.

Subcommands (run with -h for details): canon, verify-asset-chain, verify-corridor-chain,
write-asset-chain, selftest.  Exit codes: 0 all checks pass, 1 some check failed (the JSON
report lists every failure), 2 usage error.
"""
from __future__ import annotations

import argparse
import base64
import copy
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HEX64 = re.compile(r"^[0-9a-f]{64}$")
CREATED_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
JWS_RE = re.compile(r"^[A-Za-z0-9_-]*$")
PROOF_TYPE = "MsezEd25519Signature2025"
ENVELOPE_TYPE = "MSEZTransitionEnvelope"
MMR_TYPE = "MSEZReceiptMMR"
DEFAULT_EPOCH = 1767225600  # 2026-01-01T00:00:00Z
FIXTURES = Path(__file__).resolve().parents[2] / "vectors" / "msez-fixtures"

# Default genesis: the derived-vectors input (wire-format §11).
DEFAULT_GENESIS = {
    "type": "SmartAssetGenesis",
    "stack_spec_version": "0.4.44",
    "created_at": "2026-01-01T00:00:00Z",
    "asset_name": "Test Asset",
    "asset_class": "contract",
    "description": "Receipt-chain test",
    "creator": "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze",
}
# The reference's docs/examples/state/noop.transition.json (default asset transition, §4.2).
NOOP_TRANSITION_FILE = {
    "kind": "noop",
    "notes": "Example transition payload; replace with corridor-specific operations "
             "(settlement, attestations, etc.)",
}


class UsageError(Exception):
    """Bad command line or unreadable input: exit 2."""


# ------------------------------------------------------------------------------------------
# §1 canonicalization and digests
# ------------------------------------------------------------------------------------------

def _reject_float(text):
    raise ValueError(f"floats are not allowed in JCS canonicalization: {text}")


def parse_json(text: str | bytes):
    """json.loads with the MSEZ rules: floats/NaN/Infinity rejected, last duplicate key wins."""
    return json.loads(text, parse_float=_reject_float, parse_constant=_reject_float)


def load_json(path) -> object:
    return parse_json(Path(path).read_bytes())


def _check_jcs_value(v, where="$"):
    if v is None or isinstance(v, (str, bool, int)):
        return
    if isinstance(v, float):
        raise ValueError(f"floats are not allowed in JCS canonicalization (at {where})")
    if isinstance(v, list):
        for i, x in enumerate(v):
            _check_jcs_value(x, f"{where}[{i}]")
        return
    if isinstance(v, dict):
        for k, x in v.items():
            if not isinstance(k, str):
                raise ValueError(f"non-string object key at {where}")
            _check_jcs_value(x, f"{where}.{k}")
        return
    raise ValueError(f"value of type {type(v).__name__} is not JSON (at {where})")


def jcs(v) -> bytes:
    """MSEZ JCS subset (§1.1): code-point key order, raw UTF-8, compact, exact ints, no floats.
    A lone surrogate fails the UTF-8 encode (UnicodeEncodeError, a ValueError)."""
    _check_jcs_value(v)
    text = json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def sha256_hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def digest(obj) -> str:
    return sha256_hex(jcs(obj))


def without(obj: dict, *keys) -> dict:
    return {k: v for k, v in obj.items() if k not in keys}


def is_hex64(v) -> bool:
    return isinstance(v, str) and HEX64.match(v) is not None


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def normalize_digest_set(values) -> list[str]:
    """Coerce (string or ArtifactRef), strip+lower, validate hex, dedupe, sort."""
    if not isinstance(values, list):
        raise ValueError("digest set must be a list")
    out = set()
    for v in values:
        d = v.get("digest_sha256") if isinstance(v, dict) else v
        if not isinstance(d, str) or not is_hex64(d.strip().lower()):
            raise ValueError(f"invalid digest in digest set: {v!r}")
        out.add(d.strip().lower())
    return sorted(out)


# ------------------------------------------------------------------------------------------
# §7 encodings, did:key, proofs
# ------------------------------------------------------------------------------------------

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + out


def b58decode(s: str) -> bytes:
    n = 0
    for ch in s:
        i = B58.find(ch)
        if i < 0:
            raise ValueError(f"invalid base58 character {ch!r}")
        n = n * 58 + i
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    zeros = len(s) - len(s.lstrip("1"))
    return b"\0" * zeros + body


def b64u_encode(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


def b64u_decode(s: str) -> bytes:
    if not JWS_RE.match(s) or len(s) % 4 == 1:
        raise ValueError("invalid base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def did_key_from_public(pub: bytes) -> str:
    return "did:key:z" + b58encode(b"\xed\x01" + pub)


def public_key_from_did(vm: str) -> bytes:
    did = vm.split("#", 1)[0]
    if not did.startswith("did:key:z"):
        raise ValueError("Only did:key verificationMethod is supported")
    raw = b58decode(did[len("did:key:z"):])
    if raw[:2] == b"\xed\x01":
        key = raw[2:]
    elif raw[:1] == b"\xed":  # compatibility path: single 0xED prefix byte
        key = raw[1:]
    else:
        raise ValueError("did:key is not an Ed25519 multicodec key")
    if len(key) != 32:
        raise ValueError(f"Ed25519 public key must be 32 bytes, got {len(key)}")
    return key


def signing_input(obj: dict) -> bytes:
    return jcs(without(obj, "proof"))


def proof_list(obj: dict) -> list:
    p = obj.get("proof")
    if p is None:
        return []
    return p if isinstance(p, list) else [p]


def check_one_proof(p, body: bytes) -> str | None:
    """Return None if the proof is valid, else an error message (§7 shape, then crypto)."""
    if not isinstance(p, dict):
        return "proof entry is not an object"
    if p.get("type") != PROOF_TYPE:
        return f"Unsupported proof.type: {p.get('type')!r}"
    created = p.get("created")
    if not isinstance(created, str) or not CREATED_RE.match(created):
        return f"invalid proof.created: {created!r}"
    vm = p.get("verificationMethod")
    if not isinstance(vm, str) or not vm.startswith("did:key:"):
        return "Only did:key verificationMethod is supported"
    if p.get("proofPurpose") != "assertionMethod":
        return f"unsupported proofPurpose: {p.get('proofPurpose')!r}"
    jws = p.get("jws")
    if not isinstance(jws, str) or not jws or not JWS_RE.match(jws):
        return "proof.jws must be non-empty base64url"
    try:
        sig = b64u_decode(jws)
    except ValueError as e:
        return f"proof.jws: {e}"
    if len(sig) != 64:
        return f"Ed25519 signature must be 64 bytes, got {len(sig)}"
    try:
        pub = public_key_from_did(vm)
    except ValueError as e:
        return str(e)
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, body)
    except InvalidSignature:
        return "signature does not verify"
    return None


def verify_proofs(obj) -> list[dict]:
    """One {verification_method, ok, error} per proof (a single dict proof counts as one)."""
    if not isinstance(obj, dict):
        return [{"verification_method": None, "ok": False, "error": "object is not a JSON object"}]
    p = obj.get("proof")
    if p is not None and not isinstance(p, (list, dict)):
        return [{"verification_method": None, "ok": False, "error": "proof must be an object or a list"}]
    try:
        body = signing_input(obj)
    except ValueError as e:
        return [{"verification_method": None, "ok": False, "error": f"signing input: {e}"}]
    out = []
    for entry in proof_list(obj):
        err = check_one_proof(entry, body)
        vm = entry.get("verificationMethod") if isinstance(entry, dict) else None
        out.append({"verification_method": vm, "ok": err is None, "error": err})
    return out


class Key:
    def __init__(self, path):
        try:
            j = load_json(path)
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read key {path}: {e}")
        vm = None
        if isinstance(j, dict) and ("private_jwk" in j or "jwk" in j):
            vm = j.get("verificationMethod")
            j = j.get("private_jwk") or j.get("jwk")
        if not (isinstance(j, dict) and j.get("kty") == "OKP" and j.get("crv") == "Ed25519"
                and isinstance(j.get("d"), str)):
            raise UsageError(f"{path}: not an OKP Ed25519 private JWK")
        self.priv = Ed25519PrivateKey.from_private_bytes(b64u_decode(j["d"]))
        self.pub = self.priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        if "x" in j and b64u_decode(j["x"]) != self.pub:
            raise UsageError(f"{path}: x does not match d")
        self.did = did_key_from_public(self.pub)
        self.vm = vm or self.did + "#key-1"

    def add_proof(self, obj: dict, created: str) -> dict:
        """§7 add_ed25519_proof: no proof -> dict; list -> append; dict -> [old, new]."""
        sig = self.priv.sign(signing_input(obj))
        proof = {"type": PROOF_TYPE, "created": created, "verificationMethod": self.vm,
                 "proofPurpose": "assertionMethod", "jws": b64u_encode(sig)}
        old = obj.get("proof")
        if old is None:
            obj["proof"] = proof
        elif isinstance(old, list):
            old.append(proof)
        else:
            obj["proof"] = [old, proof]
        return obj


# ------------------------------------------------------------------------------------------
# §5 Merkle Mountain Range
# ------------------------------------------------------------------------------------------

def leaf_hash(next_root: str) -> str:
    nr = next_root.lower()
    if not is_hex64(nr):
        raise ValueError(f"MMR leaf must be 64 hex: {next_root!r}")
    return sha256_hex(b"\x00" + bytes.fromhex(nr))


def node_hash(left: str, right: str) -> str:
    return sha256_hex(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right))


def build_peaks(leaf_hashes: list[str]) -> list[dict]:
    stack: list[tuple[int, str]] = []
    for h in leaf_hashes:
        height, cur = 0, h
        while stack and stack[-1][0] == height:
            _, left = stack.pop()
            cur, height = node_hash(left, cur), height + 1
        stack.append((height, cur))
    return [{"height": h, "hash": x} for h, x in stack]


def bag_peaks(peaks: list[dict]) -> str:
    if not peaks:
        return ""
    bag = peaks[-1]["hash"]
    for p in reversed(peaks[:-1]):
        bag = node_hash(p["hash"], bag)
    return bag


def mmr_from_next_roots(next_roots: list[str]) -> dict:
    peaks = build_peaks([leaf_hash(r) for r in next_roots])
    return {"size": len(next_roots), "root": bag_peaks(peaks), "peaks": peaks}


def peak_plan(size: int) -> list[int]:
    """Heights of the peaks for `size` leaves: binary decomposition, largest first."""
    return [b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]


def locate_leaf(size: int, leaf_index: int) -> tuple[int, int, int]:
    """(peak_index, peak_height, first leaf of that peak)."""
    start = 0
    for i, h in enumerate(peak_plan(size)):
        if leaf_index < start + (1 << h):
            return i, h, start
        start += 1 << h
    raise ValueError("leaf_index out of range")


def build_inclusion_proof(next_roots: list[str], leaf_index: int) -> dict:
    size = len(next_roots)
    mmr = mmr_from_next_roots(next_roots)
    peak_index, peak_height, start = locate_leaf(size, leaf_index)
    level = [leaf_hash(r) for r in next_roots[start:start + (1 << peak_height)]]
    pos, path = leaf_index - start, []
    while len(level) > 1:
        sib = pos ^ 1
        path.append({"side": "left" if sib < pos else "right", "hash": level[sib]})
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        pos //= 2
    return {"size": size, "root": mmr["root"], "leaf_index": leaf_index,
            "receipt_next_root": next_roots[leaf_index].lower(),
            "leaf_hash": leaf_hash(next_roots[leaf_index]), "peak_index": peak_index,
            "peak_height": peak_height, "path": path, "peaks": mmr["peaks"],
            "computed_peak_root": level[0]}


def verify_inclusion_proof(p: dict) -> list[str]:
    """§5 Verify, strict: returns the list of problems (empty = valid). Never raises."""
    size, idx = p.get("size"), p.get("leaf_index")
    if not (is_int(size) and size > 0):
        return ["mmr size must be an integer > 0"]
    if not (is_int(idx) and 0 <= idx < size):
        return [f"leaf_index {idx!r} out of range for size {size}"]
    for f in ("receipt_next_root", "root", "leaf_hash"):
        if not is_hex64(p.get(f)):
            return [f"{f} must be 64 lowercase hex"]
    if p["leaf_hash"] != leaf_hash(p["receipt_next_root"]):
        return ["leaf_hash != SHA256(0x00 || receipt_next_root)"]
    peaks = p.get("peaks")
    if not (isinstance(peaks, list) and peaks and all(
            isinstance(x, dict) and is_int(x.get("height")) and x["height"] >= 0
            and is_hex64(x.get("hash")) for x in peaks)):
        return ["peaks must be a non-empty list of {height >= 0, 64-hex hash}"]
    pi, ph = p.get("peak_index"), p.get("peak_height")
    want_pi, want_ph, _ = locate_leaf(size, idx)
    if (pi, ph) != (want_pi, want_ph) or not is_int(pi) or not is_int(ph):
        return [f"(peak_index, peak_height)=({pi!r}, {ph!r}); peak plan gives ({want_pi}, {want_ph})"]
    if [x["height"] for x in peaks] != peak_plan(size):
        return ["peak heights do not match the peak plan for this size"]
    path = p.get("path")
    if not isinstance(path, list) or len(path) != ph:
        return [f"path length must equal peak_height {ph}"]
    cur = p["leaf_hash"]
    for i, step in enumerate(path):
        if not (isinstance(step, dict) and step.get("side") in ("left", "right") and is_hex64(step.get("hash"))):
            return [f"path[{i}] must be {{side: left|right, hash: 64-hex}}"]
        cur = node_hash(step["hash"], cur) if step["side"] == "left" else node_hash(cur, step["hash"])
    errs = []
    if "computed_peak_root" in p and p["computed_peak_root"] and p["computed_peak_root"] != cur:
        errs.append("computed_peak_root does not equal the peak recomputed from the path")
    bagged = bag_peaks(peaks[:pi] + [{"height": ph, "hash": cur}] + peaks[pi + 1:])
    if bagged != p["root"]:
        errs.append("path does not lead to root (bagged peaks != root)")
    return errs


# ------------------------------------------------------------------------------------------
# §4 receipts, genesis roots, envelopes
# ------------------------------------------------------------------------------------------

def asset_id_of(genesis: dict) -> str:
    return digest(without(genesis, "asset_id"))


def asset_genesis_root(asset_id: str, purpose: str) -> str:
    return digest({"tag": "msez.smart-asset.state.genesis.v1", "asset_id": asset_id,
                   "purpose": purpose or "core"})


def receipt_next_root(receipt: dict) -> str:
    return digest(without(receipt, "proof", "next_root"))


def transition_envelope(t) -> dict:
    """§4.2 _load_transition_envelope."""
    if isinstance(t, dict) and t.get("type") == ENVELOPE_TYPE:
        env = dict(t)
    elif isinstance(t, dict) and "kind" in t and "payload" in t:
        env = {"type": ENVELOPE_TYPE, **t}
    elif isinstance(t, dict) and "kind" in t:
        env = {"type": ENVELOPE_TYPE, "kind": t["kind"], "payload": without(t, "kind")}
    else:
        env = {"type": ENVELOPE_TYPE, "kind": "generic", "payload": t}
    if "payload" in env:
        want = digest(env["payload"])
        if "payload_sha256" in env and env["payload_sha256"] != want:
            raise ValueError("payload_sha256 does not match payload")
        env["payload_sha256"] = want
    return env


def head_commitment(corridor_id, genesis_root, receipt_count, final_state_root, mmr_root) -> str:
    return digest({"corridor_id": corridor_id.strip(), "genesis_root": genesis_root.lower(),
                   "receipt_count": receipt_count, "final_state_root": final_state_root.lower(),
                   "mmr_root": mmr_root.lower()})


def rfc3339(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_date_epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    try:
        return int(raw) if raw.strip() else DEFAULT_EPOCH
    except ValueError:
        raise UsageError(f"SOURCE_DATE_EPOCH must be integer seconds, got {raw!r}")


# ------------------------------------------------------------------------------------------
# Chain verification (shared by asset and corridor)
# ------------------------------------------------------------------------------------------

ASSET = {
    "name": "asset", "receipt_type": "SmartAssetReceipt", "id_field": "asset_id",
    "checkpoint_type": "SmartAssetReceiptChainCheckpoint",
    "inclusion_type": "SmartAssetReceiptInclusionProof", "final_field": "final_chain_root",
    "ck_ref_type": "smart-asset-receipt-checkpoint", "ck_final_field": "checkpoint_final_chain_root",
    "lower": True,
}
CORRIDOR = {
    "name": "corridor", "receipt_type": "MSEZCorridorStateReceipt", "id_field": "corridor_id",
    "checkpoint_type": "MSEZCorridorStateCheckpoint",
    "inclusion_type": "MSEZCorridorReceiptInclusionProof", "final_field": "final_state_root",
    "ck_ref_type": "checkpoint", "ck_final_field": "checkpoint_final_state_root",
    "lower": False,
}
RECEIPT_REQUIRED = ("type", "sequence", "timestamp", "prev_root", "next_root",
                    "lawpack_digest_set", "ruleset_digest_set", "proof")


class Report:
    def __init__(self, command: str):
        self.data = {"command": command, "ok": True}
        self.failures: list[dict] = []
        self.warnings: list[str] = []

    def fail(self, check: str, message: str, file=None):
        f = {"check": check, "message": message}
        if file is not None:
            f["file"] = str(file)
        self.failures.append(f)

    def finish(self) -> dict:
        self.data["ok"] = not self.failures
        self.data["failures"] = self.failures
        self.data["warnings"] = self.warnings
        return self.data


def receipt_files(path: Path) -> list[Path]:
    """Every *.json directly inside the directory (not recursive), sorted; or the single file."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"receipts path not found: {path}")
    return sorted(p for p in path.glob("*.json") if p.is_file())


def check_receipt(kind, path: Path, chain_id: str, rep: Report, expected_sets: dict):
    """Per-file checks. Returns a linkage entry (or None if the shape is unusable) and the
    per-receipt summary. Every problem is recorded as a failure."""
    info = {"file": str(path), "ok": True}
    nfail = len(rep.failures)
    try:
        r = load_json(path)
    except (OSError, ValueError) as e:
        rep.fail("parse", f"cannot parse receipt: {e}", path)
        info["ok"] = False
        return None, info
    if not isinstance(r, dict):
        rep.fail("shape", "receipt is not a JSON object", path)
        info["ok"] = False
        return None, info
    missing = [k for k in RECEIPT_REQUIRED + (kind["id_field"],) if k not in r]
    if missing:
        rep.fail("shape", f"receipt misses required fields {missing}", path)
    if r.get("type") != kind["receipt_type"]:
        rep.fail("shape", f"type is {r.get('type')!r}, expected {kind['receipt_type']!r}", path)
    seq, prev, nxt = r.get("sequence"), r.get("prev_root"), r.get("next_root")
    info["sequence"], info["next_root"] = seq, nxt
    usable = is_int(seq) and seq >= 0 and isinstance(prev, str) and isinstance(nxt, str)
    if not (is_int(seq) and seq >= 0):
        rep.fail("shape", f"sequence must be an integer >= 0, got {seq!r}", path)
    for f, v in (("prev_root", prev), ("next_root", nxt)):
        vv = v.lower() if (kind["lower"] and isinstance(v, str)) else v
        if not is_hex64(vv):
            rep.fail("shape", f"{f} must be 64 hex, got {v!r}", path)
            usable = False
    rid = r.get(kind["id_field"])
    rid_cmp = rid.lower() if (kind["lower"] and isinstance(rid, str)) else rid
    if rid_cmp != chain_id:
        rep.fail(kind["id_field"], f"receipt {kind['id_field']} mismatch: {rid!r} != {chain_id!r}", path)
    # next_root = SHA256(JCS(receipt - proof - next_root))
    try:
        computed = receipt_next_root(r)
        if isinstance(nxt, str) and (nxt.lower() if kind["lower"] else nxt) != computed:
            rep.fail("next_root", f"next_root mismatch: declared {nxt} computed {computed}", path)
    except ValueError as e:
        rep.fail("next_root", f"cannot canonicalize receipt: {e}", path)
    # digest sets
    for fld in ("lawpack_digest_set", "ruleset_digest_set"):
        try:
            got = normalize_digest_set(r.get(fld, []))
        except ValueError as e:
            rep.fail("shape", f"{fld}: {e}", path)
            continue
        want = expected_sets.get(fld)
        if want is not None and set(got) != set(want):
            rep.fail("digest_set", f"{fld} mismatch: {got} != expected {sorted(want)}", path)
    # transition envelope payload digest
    t = r.get("transition")
    if isinstance(t, dict) and t.get("type") == ENVELOPE_TYPE and "payload" in t:
        try:
            if t.get("payload_sha256") != digest(t["payload"]):
                rep.fail("transition", "transition.payload_sha256 != SHA256(JCS(payload))", path)
        except ValueError as e:
            rep.fail("transition", f"cannot canonicalize payload: {e}", path)
    # signatures: >= 1 valid, and every present proof valid
    results = verify_proofs(r)
    info["proofs_total"] = len(results)
    info["proofs_valid"] = sum(1 for x in results if x["ok"])
    info["signers"] = sorted({x["verification_method"].split("#")[0] for x in results if x["ok"]})
    if info["proofs_valid"] == 0:
        rep.fail("signature", "receipt signature verification failed (no valid proofs)", path)
    for i, x in enumerate(results):
        if not x["ok"]:
            rep.fail("signature", f"proof[{i}] ({x['verification_method']}) invalid: {x['error']}", path)
    info["ok"] = len(rep.failures) == nfail
    if not usable:
        return None, info
    entry = {"file": str(path), "receipt": r, "sequence": seq,
             "prev_root": prev.lower() if kind["lower"] else prev,
             "next_root": nxt.lower() if kind["lower"] else nxt}
    return entry, info


def build_chain(entries: list[dict], genesis_root: str, rep: Report) -> list[dict]:
    """Group identical receipts, detect forks, walk from (0, genesis_root), flag unreachable."""
    cands: dict[tuple, dict[str, list[dict]]] = {}
    for e in entries:
        cands.setdefault((e["sequence"], e["prev_root"]), {}).setdefault(e["next_root"], []).append(e)
    forks = []
    for (seq, prev), by_next in sorted(cands.items()):
        if len(by_next) > 1:
            forks.append({"sequence": seq, "prev_root": prev, "candidates": [
                {"next_root": n, "files": [e["file"] for e in es]} for n, es in sorted(by_next.items())]})
            rep.fail("fork", f"fork detected at sequence {seq} prev_root={prev} "
                             f"(candidates={len(by_next)}): " + ", ".join(sorted(by_next)))
        for n, es in by_next.items():
            if len(es) > 1:
                rep.warnings.append(f"identical receipts merged (sequence {seq}, next_root {n}): "
                                    + ", ".join(e["file"] for e in es))
    rep.data["forks"] = forks
    chain, seq, prev = [], 0, genesis_root
    while (seq, prev) in cands and len(cands[(seq, prev)]) == 1:
        (nxt, es), = cands[(seq, prev)].items()
        chain.append(es[0])
        seq, prev = seq + 1, nxt
    if not chain:
        if any(k[0] == 0 for k in cands):
            rep.fail("linkage", f"no chain starts at (sequence=0, prev_root=genesis_root={genesis_root})")
        else:
            rep.fail("linkage", "receipt set does not include an initial receipt (sequence=0)")
    on_chain = {(e["sequence"], e["prev_root"], e["next_root"]) for e in chain}
    unreachable = [e for e in entries if (e["sequence"], e["prev_root"], e["next_root"]) not in on_chain]
    for e in unreachable:
        rep.fail("linkage", f"receipt sequence {e['sequence']} prev_root={e['prev_root']} "
                            f"is not linked into the chain from genesis", e["file"])
    rep.data["unreachable"] = [e["file"] for e in unreachable]
    return chain


def verify_chain(kind, receipts_dir: Path, chain_id: str, genesis_root: str, rep: Report,
                 expected_sets: dict) -> list[dict]:
    files = receipt_files(receipts_dir)
    rep.data["files_scanned"] = len(files)
    entries, infos = [], []
    for f in files:
        entry, info = check_receipt(kind, f, chain_id, rep, expected_sets)
        infos.append(info)
        if entry:
            entries.append(entry)
    rep.data["receipts"] = infos
    rep.data["signatures"] = {
        "proofs_total": sum(i.get("proofs_total", 0) for i in infos),
        "proofs_valid": sum(i.get("proofs_valid", 0) for i in infos),
        "receipts_with_valid_proof": sum(1 for i in infos if i.get("proofs_valid", 0) > 0),
        "receipts_with_all_proofs_valid": sum(
            1 for i in infos if i.get("proofs_total", 0) and i["proofs_total"] == i["proofs_valid"]),
    }
    if not files:
        rep.fail("linkage", f"no *.json receipts in {receipts_dir}")
    chain = build_chain(entries, genesis_root, rep)
    rep.data["receipt_count"] = len(chain)
    rep.data[kind["final_field"]] = chain[-1]["next_root"] if chain else None
    mmr = mmr_from_next_roots([e["next_root"] for e in chain]) if chain else {"size": 0, "root": "", "peaks": []}
    rep.data["mmr"] = {"type": MMR_TYPE, "algorithm": "sha256", **mmr}
    return chain


def verify_checkpoint(kind, path: Path, chain: list[dict], rep: Report, expect: dict):
    """Checkpoint fields vs the verified chain, plus its proofs (>= 1, all valid)."""
    info = {"file": str(path)}
    rep.data["checkpoint"] = info
    try:
        ck = load_json(path)
        if not isinstance(ck, dict):
            raise ValueError("checkpoint is not a JSON object")
        info["digest_sha256"] = digest(without(ck, "proof"))
    except (OSError, ValueError) as e:
        rep.fail("checkpoint", f"cannot read checkpoint: {e}", path)
        info["ok"] = False
        return None
    n = len(rep.failures)

    def bad(msg):
        rep.fail("checkpoint", msg, path)

    if ck.get("type") != kind["checkpoint_type"]:
        bad(f"checkpoint type {ck.get('type')!r} != {kind['checkpoint_type']!r}")
    for fld, want in expect.items():
        if ck.get(fld) != want:
            bad(f"checkpoint {fld} mismatch: {ck.get(fld)!r} != {want!r}")
    final = chain[-1]["next_root"] if chain else None
    if ck.get(kind["final_field"]) != final:
        bad(f"checkpoint {kind['final_field']} mismatch: {ck.get(kind['final_field'])!r} != {final!r}")
    if ck.get("receipt_count") != len(chain):
        bad(f"checkpoint receipt_count mismatch: {ck.get('receipt_count')!r} != {len(chain)}")
    mmr = ck.get("mmr") if isinstance(ck.get("mmr"), dict) else {}
    want_mmr = rep.data["mmr"]
    for fld in ("type", "algorithm", "size", "root", "peaks"):
        if mmr.get(fld) != want_mmr[fld]:
            bad(f"checkpoint mmr.{fld} mismatch: {mmr.get(fld)!r} != {want_mmr[fld]!r}")
    # digest sets: asset = sorted union over chain receipts; corridor = normalize(receipts[0])
    for fld in ("lawpack_digest_set", "ruleset_digest_set"):
        try:
            if kind is ASSET:
                want = sorted({d for e in chain for d in normalize_digest_set(e["receipt"].get(fld, []))})
            else:
                want = normalize_digest_set(chain[0]["receipt"].get(fld, [])) if chain else []
        except ValueError:
            continue  # already reported per receipt
        if ck.get(fld) != want:
            bad(f"checkpoint {fld} mismatch: {ck.get(fld)!r} != {want!r}")
    results = verify_proofs(ck)
    info["proofs_total"] = len(results)
    info["proofs_valid"] = sum(1 for x in results if x["ok"])
    if not results:
        rep.fail("checkpoint_signature", "checkpoint has no proofs", path)
    for i, x in enumerate(results):
        if not x["ok"]:
            rep.fail("checkpoint_signature",
                     f"checkpoint proof[{i}] ({x['verification_method']}) invalid: {x['error']}", path)
    info["ok"] = len(rep.failures) == n
    return ck


def verify_inclusion(kind, path: Path, chain: list[dict], chain_id: str, ck: dict | None,
                     ck_given: bool, rep: Report):
    """§5 Verify + §6.5 verify-inclusion, against the verified chain and checkpoint."""
    info = {"file": str(path)}
    rep.data["inclusion_proofs"].append(info)
    errs: list[str] = []
    try:
        p = load_json(path)
        if not isinstance(p, dict):
            raise ValueError("proof is not a JSON object")
    except (OSError, ValueError) as e:
        rep.fail("inclusion_proof", f"cannot read proof: {e}", path)
        info["ok"] = False
        return
    if p.get("type") != kind["inclusion_type"]:
        errs.append(f"type {p.get('type')!r} != {kind['inclusion_type']!r}")
    pid = p.get(kind["id_field"])
    if kind["id_field"] in p and (pid.lower() if kind["lower"] and isinstance(pid, str) else pid) != chain_id:
        errs.append(f"{kind['id_field']} mismatch: {pid!r} != {chain_id!r}")
    mmr = p.get("mmr") if isinstance(p.get("mmr"), dict) else {}
    for fld, want in (("type", MMR_TYPE), ("algorithm", "sha256")):
        if fld in mmr and mmr[fld] != want:
            errs.append(f"mmr.{fld} {mmr[fld]!r} != {want!r}")
    flat = dict(p, size=mmr.get("size"), root=mmr.get("root"))
    errs += verify_inclusion_proof(flat)
    size, idx, rnr = mmr.get("size"), p.get("leaf_index"), p.get("receipt_next_root")
    info.update(leaf_index=idx, receipt_next_root=rnr, mmr_size=size)
    # the named receipt must be in the chain at leaf_index == sequence
    pos = next((i for i, e in enumerate(chain) if e["next_root"] == rnr), None)
    if pos is None:
        errs.append(f"receipt_next_root {rnr!r} is not a receipt of the verified chain")
    else:
        e = chain[pos]
        if idx != e["sequence"] or idx != pos:
            errs.append(f"leaf_index {idx!r} != receipt sequence {e['sequence']}")
        ri = next(i for i in rep.data["receipts"] if i["file"] == e["file"])
        if not (ri.get("proofs_total") and ri["proofs_total"] == ri["proofs_valid"]):
            errs.append("receipt proofs: need >= 1 and every proof valid")
    if is_int(size) and 0 < size <= len(chain):
        prefix = mmr_from_next_roots([e["next_root"] for e in chain[:size]])
        if mmr.get("root") != prefix["root"]:
            errs.append(f"mmr.root {mmr.get('root')!r} != chain MMR root at size {size} {prefix['root']}")
        chain_final, chain_count = chain[size - 1]["next_root"], size
    else:
        errs.append(f"mmr.size {size!r} exceeds the verified chain length {len(chain)}")
        chain_final = chain_count = None
    # checkpoint binding
    ck_fields = [k for k in p if k.startswith("checkpoint_")]
    if ck is not None:
        ckd = digest(without(ck, "proof"))
        ckm = ck.get("mmr") if isinstance(ck.get("mmr"), dict) else {}
        if mmr.get("root") != ckm.get("root") or mmr.get("size") != ckm.get("size"):
            errs.append("proof mmr.root/mmr.size differ from the checkpoint's")
        if is_int(ck.get("receipt_count")) and ck["receipt_count"] and ck["receipt_count"] != size:
            errs.append(f"checkpoint receipt_count {ck['receipt_count']} != mmr.size {size!r}")
        ref = p.get("checkpoint_ref")
        if "checkpoint_digest_sha256" in p and p["checkpoint_digest_sha256"] != ckd:
            errs.append(f"checkpoint_digest_sha256 {p['checkpoint_digest_sha256']!r} != SHA256(JCS(ck - proof)) {ckd}")
        if "checkpoint_ref" in p:
            if not isinstance(ref, dict) or ref.get("digest_sha256") != ckd:
                errs.append(f"checkpoint_ref.digest_sha256 != SHA256(JCS(ck - proof)) {ckd}")
            elif ref.get("artifact_type") != kind["ck_ref_type"]:
                errs.append(f"checkpoint_ref.artifact_type {ref.get('artifact_type')!r} != {kind['ck_ref_type']!r}")
        if "checkpoint_digest_sha256" not in p and "checkpoint_ref" not in p:
            rep.warnings.append(f"{path}: proof names no checkpoint digest; bound to --checkpoint by mmr only")
        pairs = [(kind["ck_final_field"], ck.get(kind["final_field"])),
                 ("checkpoint_receipt_count", ck.get("receipt_count")),
                 ("checkpoint_genesis_root", ck.get("genesis_root")),
                 ("checkpoint_mmr_root", ckm.get("root"))]
        if kind is ASSET and pos == 0 and chain[0]["prev_root"] != ck.get("genesis_root"):
            errs.append("sequence-0 receipt prev_root != checkpoint genesis_root")
    else:
        if ck_given:
            errs.append("the given checkpoint could not be read")
        elif ck_fields:
            rep.warnings.append(f"{path}: checkpoint fields present but no --checkpoint given; "
                                "digest not checked, fields compared with the chain")
        pairs = [(kind["ck_final_field"], chain_final), ("checkpoint_receipt_count", chain_count),
                 ("checkpoint_genesis_root", rep.data["genesis_root"]),
                 ("checkpoint_mmr_root", mmr.get("root"))]
    for fld, want in pairs:
        if fld in p and p[fld] != want:
            errs.append(f"{fld} {p[fld]!r} != {want!r}")
    for m in errs:
        rep.fail("inclusion_proof", m, path)
    info["ok"] = not errs


def parse_hex_arg(v: str, name: str) -> str:
    if not is_hex64(v.strip().lower()):
        raise UsageError(f"{name} must be 64 hex characters")
    return v.strip().lower()


def existing(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} not found: {path}")
    return p


def cmd_verify_asset_chain(a) -> dict:
    asset_id = parse_hex_arg(a.asset_id, "--asset-id")
    purpose = a.purpose
    genesis_root = asset_genesis_root(asset_id, purpose)
    rep = Report("verify-asset-chain")
    rep.data.update(asset_id=asset_id, purpose=purpose, genesis_root=genesis_root,
                    receipts_dir=str(a.receipts))
    ck_path = existing(a.checkpoint, "checkpoint") if a.checkpoint else None
    proofs = [existing(p, "proof") for p in a.proof or []]
    chain = verify_chain(ASSET, existing(a.receipts, "receipts"), asset_id, genesis_root, rep, {})
    _checkpoint_and_proofs(ASSET, chain, asset_id, ck_path, proofs, rep,
                           {"asset_id": asset_id, "purpose": purpose, "genesis_root": genesis_root})
    return rep.finish()


def cmd_verify_corridor_chain(a) -> dict:
    cid = a.corridor_id.strip()
    genesis_root = parse_hex_arg(a.genesis_root, "--genesis-root")
    expected_sets = {}
    if a.ruleset_digest:
        expected_sets["ruleset_digest_set"] = [parse_hex_arg(d, "--ruleset-digest") for d in a.ruleset_digest]
    if a.lawpack_digest:
        expected_sets["lawpack_digest_set"] = [parse_hex_arg(d, "--lawpack-digest") for d in a.lawpack_digest]
    rep = Report("verify-corridor-chain")
    rep.data.update(corridor_id=cid, genesis_root=genesis_root, receipts_dir=str(a.receipts))
    ck_path = existing(a.checkpoint, "checkpoint") if a.checkpoint else None
    proofs = [existing(p, "proof") for p in a.proof or []]
    chain = verify_chain(CORRIDOR, existing(a.receipts, "receipts"), cid, genesis_root, rep, expected_sets)
    expect = {"corridor_id": cid, "genesis_root": genesis_root}
    expect.update({k: sorted(set(v)) for k, v in expected_sets.items()})
    _checkpoint_and_proofs(CORRIDOR, chain, cid, ck_path, proofs, rep, expect)
    rep.data["anchors"] = [check_anchor(existing(f, "asset checkpoint"), chain, rep)
                           for f in a.anchored_asset_checkpoint or []]
    return rep.finish()


def check_anchor(path: Path, chain: list[dict], rep: Report) -> dict:
    """§10.1 anchor: a signed SmartAssetReceiptChainCheckpoint whose payload digest a receipt of
    the verified corridor chain names in transition.attachments (smart-asset-receipt-checkpoint,
    or the legacy type checkpoint)."""
    ck = load_json(path)
    info = {"file": str(path), "sequence": None}
    if not isinstance(ck, dict) or ck.get("type") != "SmartAssetReceiptChainCheckpoint":
        rep.fail("anchor", "not a SmartAssetReceiptChainCheckpoint", path)
        return info
    results = verify_proofs(ck)
    if not results or not all(x["ok"] for x in results):
        rep.fail("anchor", "asset checkpoint: need >= 1 proof and every proof valid", path)
    d = digest(without(ck, "proof"))
    info["digest"] = d
    for e in chain:
        r = load_json(Path(e["file"]))
        t = r.get("transition") if isinstance(r, dict) else None
        atts = t.get("attachments") if isinstance(t, dict) else None
        for att in atts if isinstance(atts, list) else []:
            if (isinstance(att, dict)
                    and str(att.get("artifact_type", "")).strip().lower()
                    in ("smart-asset-receipt-checkpoint", "checkpoint")
                    and str(att.get("digest_sha256", "")).strip().lower() == d):
                info["sequence"] = e["sequence"]
                return info
    rep.fail("anchor", f"no receipt of the chain attaches asset checkpoint {d}", path)
    return info


def cmd_transition_types_snapshot(a) -> dict:
    """§10.2: the snapshot of a registry given as JSON (digests given directly, no paths)."""
    reg = load_json(existing(a.registry, "registry"))
    rep = Report("transition-types-snapshot")
    items, seen = [], set()
    for t in reg.get("transition_types", []):
        kind = str(t.get("kind", "")).strip()
        if kind in seen:
            rep.fail("registry", f"duplicate kind {kind!r}")
        seen.add(kind)
        item = {"kind": kind}
        for f in ("schema_digest_sha256", "ruleset_digest_sha256", "zk_circuit_digest_sha256"):
            v = str(t.get(f) or "").strip().lower()
            if v:
                item[f] = v
        items.append(item)
    snap = {"tag": "msez.transition-types.registry.snapshot.v1",
            "registry_version": int(reg.get("version") or 1),
            "transition_types": sorted(items, key=lambda i: i["kind"])}
    rep.data["snapshot"] = snap
    rep.data["snapshot_digest_sha256"] = digest(snap)
    return rep.finish()


def _checkpoint_and_proofs(kind, chain, chain_id, ck_path, proofs, rep, expect):
    ck = verify_checkpoint(kind, ck_path, chain, rep, expect) if ck_path else None
    if not ck_path:
        rep.data["checkpoint"] = None
    rep.data["inclusion_proofs"] = []
    for p in proofs:
        verify_inclusion(kind, p, chain, chain_id, ck, ck_path is not None, rep)


# ------------------------------------------------------------------------------------------
# Writers
# ------------------------------------------------------------------------------------------

def write_pretty(path: Path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_canonical(path: Path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jcs(obj) + b"\n")


def make_chain(kind, keys, count, chain_id, genesis_root, epoch, transition, sets=None):
    """Signed receipts 0..count-1 the way the reference producers build them (§4.2)."""
    sets = sets or {}
    created = rfc3339(epoch)
    receipts, prev = [], genesis_root
    for seq in range(count):
        r = {"type": kind["receipt_type"], kind["id_field"]: chain_id, "sequence": seq,
             "timestamp": rfc3339(epoch + seq), "prev_root": prev,
             "lawpack_digest_set": list(sets.get("lawpack_digest_set", [])),
             "ruleset_digest_set": list(sets.get("ruleset_digest_set", [])),
             "transition": copy.deepcopy(transition)}
        if kind is ASSET:
            r["proof"] = []  # asset receipts always carry a proof list
        r["next_root"] = receipt_next_root(r)
        for k in keys:
            k.add_proof(r, created)
        receipts.append(r)
        prev = r["next_root"]
    return receipts


def make_checkpoint(kind, keys, receipts, chain_id, genesis_root, epoch, purpose=None):
    """Timestamp epoch+len(receipts) (just after the last receipt); proofs created at epoch."""
    roots = [r["next_root"] for r in receipts]
    mmr = mmr_from_next_roots(roots)
    ck = {"type": kind["checkpoint_type"], kind["id_field"]: chain_id}
    if kind is ASSET:
        ck["purpose"] = purpose
    ck.update({"timestamp": rfc3339(epoch + len(receipts)), "genesis_root": genesis_root,
               kind["final_field"]: roots[-1], "receipt_count": len(receipts)})
    for fld in ("lawpack_digest_set", "ruleset_digest_set"):
        src = receipts if kind is ASSET else receipts[:1]
        ck[fld] = sorted({d for r in src for d in normalize_digest_set(r[fld])})
    ck["mmr"] = {"type": MMR_TYPE, "algorithm": "sha256", **mmr}
    if kind is ASSET:
        ck["proof"] = []
    for k in keys:
        k.add_proof(ck, rfc3339(epoch))
    return ck


def make_inclusion(kind, receipts, seq, chain_id, ck, ck_uri, epoch):
    ip = build_inclusion_proof([r["next_root"] for r in receipts], seq)
    p = {"type": kind["inclusion_type"], kind["id_field"]: chain_id}
    if kind is CORRIDOR:
        p["generated_at"] = rfc3339(epoch)
    p["mmr"] = {"type": MMR_TYPE, "algorithm": "sha256", "size": ip["size"], "root": ip["root"]}
    for f in ("leaf_index", "receipt_next_root", "leaf_hash", "peak_index", "peak_height", "path", "peaks"):
        p[f] = ip[f]
    if ip["computed_peak_root"]:
        p["computed_peak_root"] = ip["computed_peak_root"]
    ckd = digest(without(ck, "proof"))
    p["checkpoint_digest_sha256"] = ckd
    if kind is ASSET:
        p["checkpoint_ref"] = {"artifact_type": kind["ck_ref_type"], "digest_sha256": ckd, "uri": ck_uri}
        p["checkpoint_final_chain_root"] = ck["final_chain_root"]
        p["checkpoint_genesis_root"] = ck["genesis_root"]
        p["checkpoint_receipt_count"] = ck["receipt_count"]
    else:
        p.update(checkpoint_path=ck_uri, checkpoint_mmr_root=ck["mmr"]["root"],
                 checkpoint_receipt_count=ck["receipt_count"],
                 checkpoint_final_state_root=ck["final_state_root"],
                 checkpoint_ref={"artifact_type": "checkpoint", "digest_sha256": ckd, "uri": ck_uri,
                                 "media_type": "application/json"})
    return p


def proof_sequences(count: int) -> list[int]:
    return sorted({0, count // 2, count - 1})


def cmd_write_asset_chain(a) -> dict:
    if a.count < 1:
        raise UsageError("--count must be >= 1")
    keys = [Key(k) for k in a.key]
    epoch = source_date_epoch()
    out = Path(a.out)
    if any((out / "state" / "receipts").glob("*.json")):
        raise UsageError(f"{out}/state/receipts already holds receipts; use an empty --out")
    if a.genesis:
        try:
            genesis = load_json(existing(a.genesis, "genesis"))
        except ValueError as e:
            raise UsageError(f"cannot parse genesis: {e}")
        if not isinstance(genesis, dict):
            raise UsageError("genesis must be a JSON object")
    else:
        genesis = dict(DEFAULT_GENESIS)
    asset_id = asset_id_of(genesis)
    if "asset_id" in genesis and genesis["asset_id"] != asset_id:
        raise UsageError(f"genesis asset_id {genesis['asset_id']!r} != SHA256(JCS(genesis - asset_id)) {asset_id}")
    genesis = {**without(genesis, "asset_id"), "asset_id": asset_id}
    purpose = a.purpose
    groot = asset_genesis_root(asset_id, purpose)
    files = []
    write_pretty(out / "genesis.json", genesis)
    (out / "asset.yaml").write_text(f'asset_id: "{asset_id}"\npurposes:\n  - "{purpose}"\n', encoding="utf-8")
    files += ["genesis.json", "asset.yaml"]
    receipts = make_chain(ASSET, keys, a.count, asset_id, groot, epoch, transition_envelope(NOOP_TRANSITION_FILE))
    for r in receipts:
        rel = f"state/receipts/receipt.{r['sequence']}.json"
        write_pretty(out / rel, r)
        files.append(rel)
    ck_rel = "state/checkpoints/checkpoint.json"
    ck = make_checkpoint(ASSET, keys, receipts, asset_id, groot, epoch, purpose)
    write_pretty(out / ck_rel, ck)
    files.append(ck_rel)
    for seq in proof_sequences(a.count):
        rel = f"state/proofs/inclusion.{seq}.json"
        write_pretty(out / rel, make_inclusion(ASSET, receipts, seq, asset_id, ck, ck_rel, epoch))
        files.append(rel)
    return {"command": "write-asset-chain", "ok": True, "out": str(out), "asset_id": asset_id,
            "purpose": purpose, "genesis_root": groot, "receipt_count": a.count,
            "final_chain_root": receipts[-1]["next_root"], "mmr_root": ck["mmr"]["root"],
            "checkpoint_digest_sha256": digest(without(ck, "proof")),
            "signers": [k.vm for k in keys], "files": files}


# ------------------------------------------------------------------------------------------
# RFC 9162 §2.1.4 consistency proofs over the §5 MMR root (the RFC 6962 tree head)
# ------------------------------------------------------------------------------------------

def verify_consistency(first: int, second: int, first_hash: str, second_hash: str,
                       path: list[str]) -> str | None:
    """None when `path` proves the tree of `first` leaves is a prefix of the one of `second`."""
    if not (0 < first <= second):
        return f"sizes must satisfy 0 < old <= new (old {first}, new {second})"
    if not all(is_hex64(c) and c == c.lower() for c in path):
        return "every proof node must be 64 lowercase hex"
    if first == second:
        return None if not path and first_hash == second_hash else "equal sizes need an empty path and equal roots"
    if first & (first - 1) == 0:
        path = [first_hash] + path
    if not path:
        return "empty proof"
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return "proof longer than the trees allow"
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        return "proof shorter than the trees need"
    if fr != first_hash:
        return f"old root mismatch: computed {fr}"
    if sr != second_hash:
        return f"new root mismatch: computed {sr}"
    return None


def cmd_verify_consistency(a) -> dict:
    rep = Report("verify-consistency")
    leaves = [ln.strip().lower() for ln in existing(a.leaves, "leaves").read_text().splitlines() if ln.strip()]
    path = load_json(existing(a.proof, "proof"))
    if not (0 < a.old <= a.new <= len(leaves)):
        raise UsageError(f"need 0 < old <= new <= {len(leaves)} leaves")
    old_root = mmr_from_next_roots(leaves[:a.old])["root"]
    new_root = mmr_from_next_roots(leaves[:a.new])["root"]
    rep.data.update({"old": a.old, "new": a.new, "old_root": old_root, "new_root": new_root})
    if not isinstance(path, list):
        rep.fail("consistency_proof", "the proof must be a JSON array of hex node hashes", a.proof)
    else:
        err = verify_consistency(a.old, a.new, old_root, new_root, path)
        if err:
            rep.fail("consistency_proof", err, a.proof)
    return rep.finish()


# ------------------------------------------------------------------------------------------
# Witness bundles: manifest entry digests and attestations over the manifest digest
# ------------------------------------------------------------------------------------------

def cmd_verify_bundle_manifest(a) -> dict:
    import zipfile
    rep = Report("verify-bundle-manifest")
    with zipfile.ZipFile(existing(a.bundle, "bundle")) as z:
        names = z.namelist()
        if len(set(names)) != len(names):
            rep.fail("bundle", "duplicate entry names")
        manifest = parse_json(z.read("manifest.json"))
        entries = manifest.get("bundle", {}).get("entries", [])
        listed = set()
        for e in entries:
            listed.add(e["path"])
            if e["path"] not in names:
                rep.fail("bundle_entry", f"listed entry missing: {e['path']}")
                continue
            data = z.read(e["path"])
            if sha256_hex(data) != e["sha256"] or len(data) != e["bytes"]:
                rep.fail("bundle_entry", f"{e['path']}: sha256 {sha256_hex(data)}, {len(data)} bytes; "
                         f"manifest says {e['sha256']}, {e['bytes']} bytes")
        for n in names:
            if n != "manifest.json" and n not in listed:
                rep.fail("bundle_entry", f"entry not in the manifest: {n}")
    manifest_digest = digest(manifest)
    rep.data.update({"entries": len(entries), "manifest_digest_sha256": manifest_digest, "attestations": []})
    for f in a.attestation or []:
        vc = load_json(existing(f, "attestation"))
        subject = vc.get("credentialSubject", {}) if isinstance(vc, dict) else {}
        proofs = verify_proofs(vc)
        ok = bool(proofs) and all(p["ok"] for p in proofs)
        rep.data["attestations"].append({"file": f, "issuer": vc.get("issuer"), "proofs_valid": ok})
        if subject.get("manifest_digest_sha256") != manifest_digest:
            rep.fail("attestation", f"attests manifest {subject.get('manifest_digest_sha256')}, "
                     f"not {manifest_digest}", f)
        if not ok:
            rep.fail("attestation_signature", "; ".join(str(p["error"]) for p in proofs) or "no proof", f)
    return rep.finish()


def cmd_canon(a) -> bytes:
    src = sys.stdin.buffer.read() if a.file == "-" else existing(a.file, "input").read_bytes()
    return jcs(parse_json(src))


# ------------------------------------------------------------------------------------------
# Selftest
# ------------------------------------------------------------------------------------------

class SelfTest:
    def __init__(self):
        self.results: list[dict] = []

    def check(self, name, cond, detail=""):
        self.results.append({"name": name, "ok": bool(cond), **({} if cond else {"detail": str(detail)})})

    def run(self, name, fn):
        try:
            fn()
        except Exception as e:  # a crash is a failed check, never a crashed selftest
            self.check(name, False, f"{type(e).__name__}: {e}")


def _fail_checks(report) -> set:
    return {f["check"] for f in report["failures"]}


def _cli(argv) -> tuple[dict, int]:
    """Run a verify command in-process through the real argument parser."""
    a = build_parser().parse_args(argv)
    rep = a.func(a)
    return rep, 0 if rep["ok"] else 1


def selftest_canonical(t: SelfTest):
    cases = json.loads((FIXTURES / "canonical_bytes.json").read_text("utf-8"))["test_cases"]
    t.check("canonical_bytes.json has 15 cases", len(cases) == 15, len(cases))
    for c in cases:
        b = jcs(c["input"])
        t.check(f"canonical {c['name']}", b.decode() == c["canonical_utf8"] and b.hex() == c["canonical_hex"]
                and sha256_hex(b) == c["sha256_digest"], b)
    own = [
        ('{"b":2,"a":1}', b'{"a":1,"b":2}'),
        ('{"s":"\\u00e9\\u20ac\\ud83d\\ude00"}', '{"s":"é€😀"}'.encode()),
        ('"\\u0001\\u001f\\b\\f\\n\\r\\t\\"\\\\\\u007f\\u2028"',
         b'"\\u0001\\u001f\\b\\f\\n\\r\\t\\"\\\\\x7f\xe2\x80\xa8"'),
        ('{"\\ud83d\\ude00":2,"\\ue000":1}', '{"\ue000":1,"😀":2}'.encode()),
        ('[18446744073709551617,-9007199254740993]', b"[18446744073709551617,-9007199254740993]"),
        ('{"a":1,"a":2}', b'{"a":2}'),
        ('{"t":"2024-01-15T10:30:00+05:00"}', b'{"t":"2024-01-15T10:30:00+05:00"}'),
    ]
    for i, (src, want) in enumerate(own):
        t.check(f"canonical own case {i}", jcs(parse_json(src)) == want, jcs(parse_json(src)))
    for bad in ('{"x":1.0}', '{"x":1e2}', '[NaN]', '[Infinity]', '"\\ud800"'):
        try:
            jcs(parse_json(bad))
            t.check(f"canonical rejects {bad}", False, "accepted")
        except ValueError:
            t.check(f"canonical rejects {bad}", True)


def selftest_mmr(t: SelfTest):
    m = json.loads((FIXTURES / "mmr_roots.json").read_text("utf-8"))
    roots = m["next_roots"]
    t.check("mmr next_roots = SHA256('receipt-i')",
            roots == [sha256_hex(f"receipt-{i}".encode()) for i in range(1, 18)])
    t.check("mmr leaf hashes", [leaf_hash(r) for r in roots] == m["leaf_hashes"])
    nv = m["node_hash_vector"]
    t.check("mmr node vector", node_hash(nv["left"], nv["right"]) == nv["result"])
    for inc in m["incremental_roots"]:
        got = mmr_from_next_roots(roots[:inc["size"]])
        t.check(f"mmr size {inc['size']} root+peaks",
                got["root"] == inc["root"] and got["peaks"] == inc["peaks"], got)
    ok = all(not verify_inclusion_proof(build_inclusion_proof(roots[:n], i))
             for n in range(1, 18) for i in range(n))
    t.check("mmr inclusion round trip, every index of sizes 1..17", ok)
    for i in (0, 1, 2, 7, 8, 16):
        t.check(f"mmr proof 17 leaves index {i}", not verify_inclusion_proof(build_inclusion_proof(roots, i)))
    p = build_inclusion_proof(roots[:9], 3)
    p["path"][0]["hash"] = ("0" if p["path"][0]["hash"][0] != "0" else "1") + p["path"][0]["hash"][1:]
    t.check("mmr tampered path[0] (9 leaves, index 3) fails", verify_inclusion_proof(p))


def selftest_derived(t: SelfTest):
    d = json.loads((FIXTURES / "derived_vectors.json").read_text("utf-8"))
    g = d["smart_asset_genesis"]
    aid = asset_id_of(g["input"])
    t.check("derived asset_id", aid == g["asset_id"], aid)
    t.check("derived genesis_root core", asset_genesis_root(aid, "core") == g["genesis_root_core"])
    env = transition_envelope(d["noop_transition_file"]["input"])
    t.check("derived noop envelope + payload_sha256", env == d["noop_transition_file"]["envelope"]
            and env["payload_sha256"] == d["noop_transition_file"]["payload_sha256"], env)
    r0 = d["asset_receipt_0"]["receipt"]
    t.check("derived receipt #0 next_root", receipt_next_root(r0) == r0["next_root"])
    mc = d["minimal_corridor_receipt"]
    t.check("derived minimal corridor receipt next_root", receipt_next_root(mc["input"]) == mc["next_root"])
    s = d["transition_types_snapshot"]
    t.check("derived snapshot digest", digest(s["input"]) == s["digest"])
    h = d["corridor_head_commitment"]
    t.check("derived head commitment", head_commitment(**h["input"]) == h["digest"])
    sig = d["dev_key_signature"]
    k = Key(FIXTURES / sig["key"])
    jws = b64u_encode(k.priv.sign(jcs(sig["signed_object"])))
    t.check("derived dev-key signature jws", jws == sig["jws"], jws)


def selftest_vcs_and_keys(t: SelfTest):
    base = FIXTURES / "corridor_agreement_2of2"
    vc, ag = load_json(base / "corridor.vc.json"), load_json(base / "corridor.agreement.vc.json")
    res = verify_proofs(vc) + verify_proofs(ag)
    t.check("corridor_agreement_2of2: all 3 signatures verify", len(res) == 3 and all(r["ok"] for r in res), res)
    t.check("corridor.vc signing-input digest",
            sha256_hex(signing_input(vc)) == "58cba8e47a792561985dd5bc5a04322ca9166c20ef0c0ddad8a40df7053450eb")
    t.check("agreement payload digest",
            sha256_hex(signing_input(ag)) == "df55e8a5948adb96e009a965f50ef91da3f7bae131461c734b7d35ca00013e04")
    aset = {"corridor_id": ag["credentialSubject"]["corridor_id"],
            "definition_payload_sha256": sha256_hex(signing_input(vc)),
            "agreement_payload_sha256": sorted([sha256_hex(signing_input(ag))])}
    t.check("agreement_set_sha256 (ensure_ascii json.dumps)", sha256_hex(json.dumps(
        aset, sort_keys=True, separators=(",", ":")).encode()) ==
        "60978273aee7ace9b151685cb7f86b2297fe3904deee7731d10060b81c7945ed")
    keys = {p.stem.split(".")[0]: Key(p) for p in sorted((FIXTURES / "keys").glob("*.jwk"))}
    t.check("keys/*.jwk load (x matches d)", set(keys) == {"dev", "zone-a", "zone-b"}, sorted(keys))
    t.check("dev key did:key", keys["dev"].did == "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze")
    signers = {p["verificationMethod"].split("#")[0] for p in proof_list(ag)}
    t.check("zone-a/zone-b keys are the agreement signers", signers == {keys["zone-a"].did, keys["zone-b"].did})
    t.check("did:key round trip", public_key_from_did(keys["dev"].vm) == keys["dev"].pub)
    bad = dict(vc, proof=dict(vc["proof"][0], jws=vc["proof"][0]["jws"][:-4]))
    t.check("truncated signature rejected", "64 bytes" in (verify_proofs(bad)[0]["error"] or ""))
    bad = dict(vc, proof=dict(vc["proof"][0], verificationMethod="did:web:example.com#k"))
    t.check("did:web rejected", verify_proofs(bad)[0]["error"] == "Only did:key verificationMethod is supported")
    bad = dict(vc, proof=dict(vc["proof"][0], type="Ed25519Signature2020"))
    t.check("foreign proof type rejected", "Unsupported proof.type" in (verify_proofs(bad)[0]["error"] or ""))


def _flip_jws(p: dict):
    sig = bytearray(b64u_decode(p["jws"]))
    sig[10] ^= 0x01
    p["jws"] = b64u_encode(bytes(sig))


def _flip_hex(h: str) -> str:
    return ("0" if h[0] != "0" else "1") + h[1:]


def selftest_asset_roundtrip(t: SelfTest, tmp: Path):
    keys = [str(FIXTURES / "keys" / "dev.ed25519.jwk"), str(FIXTURES / "keys" / "zone-a.ed25519.jwk")]
    mod = tmp / "asset"
    wa = build_parser().parse_args(["write-asset-chain", "--out", str(mod), "--key", keys[0],
                                    "--key", keys[1], "--count", "5"])
    old = os.environ.pop("SOURCE_DATE_EPOCH", None)
    try:
        summary = wa.func(wa)
    finally:
        if old is not None:
            os.environ["SOURCE_DATE_EPOCH"] = old
    aid = summary["asset_id"]
    d = json.loads((FIXTURES / "derived_vectors.json").read_text("utf-8"))
    t.check("write: asset_id = derived vector", aid == d["smart_asset_genesis"]["asset_id"])
    r0 = load_json(mod / "state/receipts/receipt.0.json")
    t.check("write: receipt #0 next_root = derived vector", r0["next_root"] == d["asset_receipt_0"]["receipt"]["next_root"])
    t.check("write: files", {"genesis.json", "asset.yaml", "state/checkpoints/checkpoint.json",
                             "state/proofs/inclusion.0.json", "state/proofs/inclusion.2.json",
                             "state/proofs/inclusion.4.json"} <= set(summary["files"]), summary["files"])

    def verify(rdir, ck=mod / "state/checkpoints/checkpoint.json", proofs=None, asset=aid):
        argv = ["verify-asset-chain", "--receipts", str(rdir), "--asset-id", asset, "--checkpoint", str(ck)]
        for p in proofs if proofs is not None else sorted((mod / "state/proofs").glob("*.json")):
            argv += ["--proof", str(p)]
        return _cli(argv)

    rep, code = verify(mod / "state/receipts")
    t.check("round trip: verify-asset-chain ok", code == 0 and rep["ok"], rep["failures"])
    t.check("round trip: report matches writer", rep["final_chain_root"] == summary["final_chain_root"]
            and rep["mmr"]["root"] == summary["mmr_root"] and rep["receipt_count"] == 5
            and rep["signatures"] == {"proofs_total": 10, "proofs_valid": 10, "receipts_with_valid_proof": 5,
                                      "receipts_with_all_proofs_valid": 5}, rep)
    t.check("round trip: 3 inclusion proofs ok", [p["ok"] for p in rep["inclusion_proofs"]] == [True] * 3)

    def tampered(name, edit, want_check, **kw):
        dst = tmp / name
        shutil.copytree(mod, dst)
        edit(dst)
        kw.setdefault("ck", dst / "state/checkpoints/checkpoint.json")
        kw.setdefault("proofs", sorted((dst / "state/proofs").glob("*.json")))
        rep, code = verify(dst / "state/receipts", **kw)
        t.check(f"tamper {name}: {want_check} failure", code == 1 and want_check in _fail_checks(rep),
                rep["failures"])

    def edit_json(rel, fn):
        def go(dst):
            o = load_json(dst / rel)
            fn(o)
            write_pretty(dst / rel, o)
        return go

    tampered("edit-field", edit_json("state/receipts/receipt.2.json",
                                     lambda r: r.__setitem__("timestamp", "2026-01-01T00:00:09Z")), "next_root")
    tampered("flip-signature", edit_json("state/receipts/receipt.1.json",
                                         lambda r: _flip_jws(r["proof"][1])), "signature")
    tampered("remove-middle", lambda dst: (dst / "state/receipts/receipt.2.json").unlink(), "linkage")
    tampered("proof-path", edit_json("state/proofs/inclusion.0.json",
                                     lambda p: p["path"][0].__setitem__("hash", _flip_hex(p["path"][0]["hash"]))),
             "inclusion_proof")
    tampered("checkpoint-mmr-root", edit_json("state/checkpoints/checkpoint.json",
                                              lambda c: c["mmr"].__setitem__("root", _flip_hex(c["mmr"]["root"]))),
             "checkpoint", proofs=[])
    tampered("checkpoint-signature", edit_json("state/checkpoints/checkpoint.json",
                                               lambda c: _flip_jws(c["proof"][0])), "checkpoint_signature", proofs=[])
    tampered("proof-checkpoint-digest", edit_json("state/proofs/inclusion.2.json", lambda p: p.__setitem__(
        "checkpoint_digest_sha256", _flip_hex(p["checkpoint_digest_sha256"]))), "inclusion_proof")
    tampered("proof-leaf-index", edit_json("state/proofs/inclusion.4.json",
                                           lambda p: p.__setitem__("leaf_index", 3)), "inclusion_proof")

    def fork(dst):
        r = load_json(dst / "state/receipts/receipt.3.json")
        r["timestamp"], r["proof"] = "2026-01-01T00:01:00Z", []
        r["next_root"] = receipt_next_root(r)
        Key(keys[0]).add_proof(r, "2026-01-01T00:00:00Z")
        write_pretty(dst / "state/receipts/zz-fork.json", r)
    tampered("fork", fork, "fork", proofs=[])
    tampered("extra-invalid-proof", edit_json("state/receipts/receipt.0.json", lambda r: r["proof"].append(
        dict(r["proof"][0], verificationMethod=Key(keys[1]).vm))), "signature", proofs=[])
    rep, code = _cli(["verify-asset-chain", "--receipts", str(mod / "state/receipts"), "--asset-id", "ab" * 32])
    t.check("wrong --asset-id: asset_id + linkage failures", code == 1 and {"asset_id", "linkage"} <= _fail_checks(rep))
    rep, code = _cli(["verify-asset-chain", "--receipts", str(mod / "state/receipts"), "--asset-id", aid,
                      "--purpose", "other"])
    t.check("wrong --purpose: linkage failure", code == 1 and "linkage" in _fail_checks(rep))


def selftest_corridor(t: SelfTest, tmp: Path):
    keys = [Key(FIXTURES / "keys" / f"{n}.ed25519.jwk") for n in ("zone-a", "zone-b")]
    cid, groot, rs = "org.momentum.msez.corridor.oracle", sha256_hex(b"oracle-genesis"), "aa" * 32
    noop = {"type": ENVELOPE_TYPE, "kind": "noop", "payload": {}, "payload_sha256": sha256_hex(b"{}")}
    receipts = make_chain(CORRIDOR, keys, 4, cid, groot, DEFAULT_EPOCH, noop, {"ruleset_digest_set": [rs]})
    d = tmp / "corridor"
    for r in receipts:
        write_canonical(d / "receipts" / f"corridor-receipt.{r['sequence']}.json", r)
    ck = make_checkpoint(CORRIDOR, keys, receipts, cid, groot, DEFAULT_EPOCH)
    write_canonical(d / "corridor.checkpoint.json", ck)
    write_pretty(d / "corridor.inclusion-proof.1.json",
                 make_inclusion(CORRIDOR, receipts, 1, cid, ck, "corridor.checkpoint.json", DEFAULT_EPOCH))
    one = make_chain(CORRIDOR, keys[:1], 1, cid, groot, DEFAULT_EPOCH, noop)[0]
    t.check("corridor: one signer gives a proof dict, two give a list",
            isinstance(one["proof"], dict) and isinstance(receipts[0]["proof"], list)
            and len(receipts[0]["proof"]) == 2 and all(x["ok"] for x in verify_proofs(one)))
    def argv(corridor=cid, genesis=groot, extra=()):
        return ["verify-corridor-chain", "--receipts", str(d / "receipts"), "--corridor-id", corridor,
                "--genesis-root", genesis, "--checkpoint", str(d / "corridor.checkpoint.json"),
                "--proof", str(d / "corridor.inclusion-proof.1.json"), *extra]
    rep, code = _cli(argv(extra=["--ruleset-digest", rs, "--lawpack-digest", "cc" * 32]))
    t.check("corridor wrong --lawpack-digest fails", code == 1 and "digest_set" in _fail_checks(rep))
    rep, code = _cli(argv(extra=["--ruleset-digest", rs]))
    t.check("corridor round trip ok", code == 0 and rep["final_state_root"] == receipts[-1]["next_root"],
            rep["failures"])
    rep, code = _cli(argv(extra=["--ruleset-digest", "bb" * 32]))
    t.check("corridor wrong --ruleset-digest fails", code == 1 and "digest_set" in _fail_checks(rep))
    rep, code = _cli(argv(genesis="00" * 32))
    t.check("corridor wrong genesis root fails linkage", code == 1 and "linkage" in _fail_checks(rep))
    rep, code = _cli(argv(corridor="other-corridor"))
    t.check("corridor wrong corridor_id fails", code == 1 and "corridor_id" in _fail_checks(rep))


def selftest_cli(t: SelfTest, tmp: Path):
    src = tmp / "in.json"
    src.write_text('{"z":1,"a":"é"}', encoding="utf-8")
    me = [sys.executable, str(Path(__file__).resolve())]
    r = subprocess.run(me + ["canon", str(src)], capture_output=True)
    t.check("cli canon bytes", r.returncode == 0 and r.stdout == '{"a":"é","z":1}'.encode(), r)
    src.write_text('{"x":1.5}', encoding="utf-8")
    r = subprocess.run(me + ["canon", str(src)], capture_output=True)
    t.check("cli canon float -> exit 1", r.returncode == 1 and not json.loads(r.stdout)["ok"], r)
    r = subprocess.run(me + ["verify-asset-chain", "--receipts", str(tmp)], capture_output=True)
    t.check("cli usage error -> exit 2", r.returncode == 2, r)
    r = subprocess.run(me + ["verify-asset-chain", "--receipts", str(tmp / "nope"), "--asset-id", "00" * 32],
                       capture_output=True)
    t.check("cli missing dir -> exit 2", r.returncode == 2, r)


def cmd_selftest(a) -> dict:
    t = SelfTest()
    t.run("canonical", lambda: selftest_canonical(t))
    t.run("mmr", lambda: selftest_mmr(t))
    t.run("derived", lambda: selftest_derived(t))
    t.run("vcs and keys", lambda: selftest_vcs_and_keys(t))
    with tempfile.TemporaryDirectory(prefix="msez-oracle-") as tmp:
        t.run("asset round trip", lambda: selftest_asset_roundtrip(t, Path(tmp)))
        t.run("corridor round trip", lambda: selftest_corridor(t, Path(tmp)))
        t.run("cli", lambda: selftest_cli(t, Path(tmp)))
    passed = sum(r["ok"] for r in t.results)
    failed = len(t.results) - passed
    summary = f"oracle selftest: {passed} passed, {failed} failed"
    return {"command": "selftest", "ok": failed == 0, "summary": summary, "passed": passed, "failed": failed,
            "failures": [r for r in t.results if not r["ok"]],
            "checks": [r["name"] for r in t.results], "warnings": []}


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog="msez_oracle.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True, parser_class=Parser)
    p = sub.add_parser("canon", help="print the MSEZ canonical bytes of a JSON file ('-' = stdin)")
    p.add_argument("file")
    p.set_defaults(func=cmd_canon)
    p = sub.add_parser("verify-asset-chain", help="verify a SmartAssetReceipt chain (+checkpoint, proofs)")
    p.add_argument("--receipts", required=True, help="directory: every *.json directly inside (not recursive)")
    p.add_argument("--asset-id", required=True)
    p.add_argument("--purpose", default="core")
    p.add_argument("--checkpoint")
    p.add_argument("--proof", action="append", help="SmartAssetReceiptInclusionProof file (repeatable)")
    p.set_defaults(func=cmd_verify_asset_chain)
    p = sub.add_parser("verify-corridor-chain", help="verify an MSEZCorridorStateReceipt chain")
    p.add_argument("--receipts", required=True, help="directory: every *.json directly inside (not recursive)")
    p.add_argument("--corridor-id", required=True)
    p.add_argument("--genesis-root", required=True)
    p.add_argument("--checkpoint")
    p.add_argument("--proof", action="append", help="MSEZCorridorReceiptInclusionProof file (repeatable)")
    p.add_argument("--ruleset-digest", action="append", help="expected ruleset_digest_set entry (repeatable)")
    p.add_argument("--lawpack-digest", action="append", help="expected lawpack_digest_set entry (repeatable)")
    p.add_argument("--anchored-asset-checkpoint", action="append",
                   help="SmartAssetReceiptChainCheckpoint a receipt must attach (repeatable)")
    p.set_defaults(func=cmd_verify_corridor_chain)
    p = sub.add_parser("transition-types-snapshot", help="snapshot digest of a JSON registry (§10.2)")
    p.add_argument("--registry", required=True)
    p.set_defaults(func=cmd_transition_types_snapshot)
    p = sub.add_parser("write-asset-chain", help="write a signed smart-asset module directory")
    p.add_argument("--out", required=True)
    p.add_argument("--key", action="append", required=True, help="OKP Ed25519 private JWK (repeatable)")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--purpose", default="core")
    p.add_argument("--genesis")
    p.set_defaults(func=cmd_write_asset_chain)
    p = sub.add_parser("verify-consistency", help="RFC 9162 consistency proof between two MMR sizes")
    p.add_argument("--leaves", required=True, help="file: one 64-hex next_root per line")
    p.add_argument("--old", type=int, required=True)
    p.add_argument("--new", type=int, required=True)
    p.add_argument("--proof", required=True, help="JSON array of 64-hex node hashes")
    p.set_defaults(func=cmd_verify_consistency)
    p = sub.add_parser("verify-bundle-manifest", help="witness bundle entry digests and attestations")
    p.add_argument("--bundle", required=True)
    p.add_argument("--attestation", action="append", help="MSEZArtifactWitnessBundleCredential (repeatable)")
    p.set_defaults(func=cmd_verify_bundle_manifest)
    p = sub.add_parser("selftest", help="check the oracle against the public fixtures")
    p.set_defaults(func=cmd_selftest)
    return ap


def main(argv=None) -> int:
    try:
        a = build_parser().parse_args(argv)
        if a.command == "canon":
            try:
                out = cmd_canon(a)
            except ValueError as e:
                print(json.dumps({"command": "canon", "ok": False,
                                  "failures": [{"check": "canonicalize", "message": str(e)}]}))
                return 1
            sys.stdout.buffer.write(out)
            return 0
        rep = a.func(a)
    except UsageError as e:
        print(json.dumps({"ok": False, "usage_error": str(e)}))
        print(f"usage error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # an oracle bug, never a verdict: still a JSON report, exit 1
        print(json.dumps({"ok": False, "failures": [{"check": "internal_error",
                                                      "message": f"{type(e).__name__}: {e}"}]}))
        return 1
    print(json.dumps(rep, indent=2, ensure_ascii=False))
    if a.command == "selftest":
        print(rep["summary"], file=sys.stderr)
    return 0 if rep["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
