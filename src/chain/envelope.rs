//! Transition envelopes: how a transition file becomes `receipt.transition` (§4.2).

use crate::canon::{self, Digest, Map, Value};

use super::Error;

/// The envelope type constant.
pub const ENVELOPE_TYPE: &str = "MSEZTransitionEnvelope";

/// The reference's default asset transition (`docs/examples/state/noop.transition.json`).
pub fn default_asset_transition() -> Value {
    serde_json::json!({
        "kind": "noop",
        "notes": "Example transition payload; replace with corridor-specific operations (settlement, attestations, etc.)"
    })
}

/// The corridor default: an in-code noop envelope with an empty payload.
pub fn default_corridor_transition() -> Value {
    serde_json::json!({"kind": "noop", "payload": {}})
}

/// Turns a transition document into an envelope, filling or checking `payload_sha256`.
///
/// An envelope stays as it is; `{kind, payload, ...}` gains `type`; `{kind, ...}` takes the other
/// keys as its payload; anything else is `{kind: "generic", payload: <it>}`.
pub fn load(input: &Value) -> Result<Value, Error> {
    let mut env: Map = match input {
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some(ENVELOPE_TYPE) => {
            map.clone()
        }
        Value::Object(map) if map.contains_key("kind") && map.contains_key("payload") => {
            let mut env = map.clone();
            env.insert("type".into(), ENVELOPE_TYPE.into());
            env
        }
        Value::Object(map) if map.contains_key("kind") => {
            let payload: Map = map
                .iter()
                .filter(|(k, _)| k.as_str() != "kind")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut env = Map::new();
            env.insert("type".into(), ENVELOPE_TYPE.into());
            env.insert("kind".into(), map["kind"].clone());
            env.insert("payload".into(), Value::Object(payload));
            env
        }
        other => {
            let mut env = Map::new();
            env.insert("type".into(), ENVELOPE_TYPE.into());
            env.insert("kind".into(), "generic".into());
            env.insert("payload".into(), other.clone());
            env
        }
    };
    match env.get("payload") {
        Some(payload) => {
            let computed = canon::payload_sha256(payload)?;
            if let Some(declared) = env.get("payload_sha256") {
                let declared_str = declared.as_str().unwrap_or_default();
                if Digest::parse_loose(declared_str).ok() != Some(computed) {
                    return Err(Error::PayloadMismatch {
                        declared: declared.to_string(),
                        computed: computed.to_hex(),
                    });
                }
            }
            env.insert("payload_sha256".into(), computed.to_hex().into());
        }
        None => {
            let ok = env
                .get("payload_sha256")
                .and_then(Value::as_str)
                .is_some_and(|s| s.parse::<Digest>().is_ok());
            if !ok {
                return Err(Error::schema(
                    "transition envelope",
                    "has neither payload nor a valid payload_sha256",
                ));
            }
        }
    }
    Ok(Value::Object(env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_noop_file_becomes_the_reference_envelope() {
        let env = load(&default_asset_transition()).unwrap();
        assert_eq!(
            env["payload_sha256"],
            "4d99a1d536e35caa4da38ab2f0883e5dfd27b16b79477def77e1880127e35f34"
        );
        assert_eq!(env["kind"], "noop");
        assert!(env["payload"].get("kind").is_none());
    }

    #[test]
    fn a_lying_payload_digest_is_refused() {
        let bad =
            serde_json::json!({"kind": "x", "payload": {}, "payload_sha256": "00".repeat(32)});
        assert!(matches!(load(&bad), Err(Error::PayloadMismatch { .. })));
    }

    #[test]
    fn anything_else_is_a_generic_payload() {
        let env = load(&serde_json::json!([1, 2])).unwrap();
        assert_eq!(env["kind"], "generic");
        assert_eq!(env["payload"], serde_json::json!([1, 2]));
    }
}
