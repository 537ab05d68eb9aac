//! Genesis: the asset_id of a smart asset and the genesis root every chain starts from (§4.1).

use crate::canon::{self, Digest, Value};

use super::Error;

/// The purpose used when none is given.
pub const DEFAULT_PURPOSE: &str = "core";

/// `asset_id = SHA256(JCS(genesis − asset_id))`.
pub fn asset_id(genesis: &Value) -> Result<Digest, Error> {
    if !genesis.is_object() {
        return Err(Error::schema(
            "smart-asset genesis",
            "must be a JSON object",
        ));
    }
    Ok(canon::rule_for("smart-asset-genesis").digest_json(genesis)?)
}

/// The genesis root of an asset's chain for one purpose.
pub fn asset_genesis_root(asset_id: &Digest, purpose: &str) -> Result<Digest, Error> {
    Ok(canon::digest_of(&serde_json::json!({
        "tag": "msez.smart-asset.state.genesis.v1",
        "asset_id": asset_id.to_hex(),
        "purpose": purpose,
    }))?)
}

/// What a corridor's genesis root commits to.
#[derive(Clone, Debug)]
pub struct CorridorGenesis {
    /// The corridor id from corridor.yaml, trimmed.
    pub corridor_id: String,
    /// `SHA256(JCS(definition VC − proof))`.
    pub definition_payload_sha256: Digest,
    /// The agreement-set digest, or None when no agreement VC is configured (hashed as "").
    pub agreement_set_sha256: Option<Digest>,
    /// Sorted, unique lawpack digests pinned by party-specific agreements.
    pub lawpack_digest_set: Vec<Digest>,
    /// Sorted, unique ruleset digests (verification ruleset, state-transition ruleset).
    pub ruleset_digest_set: Vec<Digest>,
}

impl CorridorGenesis {
    /// The corridor genesis root.
    pub fn root(&self) -> Result<Digest, Error> {
        let hexes = |v: &[Digest]| {
            v.iter()
                .map(|d| Value::String(d.to_hex()))
                .collect::<Vec<_>>()
        };
        Ok(canon::digest_of(&serde_json::json!({
            "tag": "msez.corridor.state.genesis.v1",
            "corridor_id": self.corridor_id.trim(),
            "definition_payload_sha256": self.definition_payload_sha256.to_hex(),
            "agreement_set_sha256": self.agreement_set_sha256.map(|d| d.to_hex()).unwrap_or_default(),
            "lawpack_digest_set": hexes(&self.lawpack_digest_set),
            "ruleset_digest_set": hexes(&self.ruleset_digest_set),
        }))?)
    }
}

/// The agreement-set digest: Python `json.dumps(sort_keys=True, separators=(',',':'))` with
/// the default `ensure_ascii=True` (non-ASCII as `\uXXXX`), which is not the canonical form.
pub fn agreement_set_sha256(
    corridor_id: &str,
    definition: &Digest,
    agreements: &[Digest],
) -> Digest {
    let mut payloads: Vec<String> = agreements.iter().map(Digest::to_hex).collect();
    payloads.sort();
    let mut text = String::from("{\"agreement_payload_sha256\":[");
    text.push_str(
        &payloads
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(","),
    );
    text.push_str("],\"corridor_id\":");
    text.push_str(&ascii_json_string(corridor_id));
    text.push_str(",\"definition_payload_sha256\":\"");
    text.push_str(&definition.to_hex());
    text.push_str("\"}");
    canon::sha256(text.as_bytes())
}

/// A JSON string as Python's `json.dumps(ensure_ascii=True)` writes it.
fn ascii_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_strings_escape_non_ascii_like_python() {
        assert_eq!(
            ascii_json_string("a\"é😀\u{7f}"),
            "\"a\\\"\\u00e9\\ud83d\\ude00\\u007f\""
        );
    }
}
