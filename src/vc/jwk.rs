//! Ed25519 keys as OKP JWKs (RFC 8037): `{kty:"OKP", crv:"Ed25519", x, d, kid}`, base64url
//! without padding.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{Did, Error};
use crate::canon::Value;

/// An OKP Ed25519 JWK as stored on disk; `d` is present in private keys.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// The private seed, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// The key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

impl std::fmt::Debug for Jwk {
    // Never print the seed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .field("x", &self.x)
            .field("d", &self.d.as_ref().map(|_| "<redacted>"))
            .field("kid", &self.kid)
            .finish()
    }
}

impl Jwk {
    /// Parses a JWK, or the wrapper `{private_jwk | jwk, verificationMethod}`; returns the
    /// wrapper's verificationMethod too. `what` names the source in errors.
    pub fn from_value(value: &Value, what: &str) -> Result<(Jwk, Option<String>), Error> {
        let obj = value.as_object().ok_or_else(|| Error::NotAnObject {
            what: what.to_string(),
            found: super::kind_of(value),
        })?;
        let (inner, vm) = match obj.get("private_jwk").or_else(|| obj.get("jwk")) {
            Some(inner) => {
                let vm = match obj.get("verificationMethod") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => return Err(bad(what, "verificationMethod is not a string")),
                };
                (inner, vm)
            }
            None => (value, None),
        };
        let fields = inner.as_object().ok_or_else(|| Error::NotAnObject {
            what: what.to_string(),
            found: super::kind_of(inner),
        })?;
        // The schema's messages quote the offending value, and for `d` that is the private
        // seed: `d` is checked here, by shape only, and the schema sees the key without it.
        let mut public = fields.clone();
        if let Some(d) = public.remove("d") {
            if !d.as_str().is_some_and(is_b64url_32) {
                return Err(bad(
                    what,
                    "field d (the private key) is not 43 base64url characters without padding \
                     or whitespace (its value is not shown)",
                ));
            }
        }
        crate::schema::validate("jwk.schema.json", &Value::Object(public), what)?;
        // serde's messages quote values too; the schema has already checked every field.
        let jwk: Jwk = serde_json::from_value(inner.clone())
            .map_err(|_| bad(what, "not an OKP Ed25519 JWK"))?;
        jwk.verifying_key(what)?;
        Ok((jwk, vm))
    }

    /// Reads and parses a key file.
    pub fn load(path: &Path) -> Result<(Jwk, Option<String>), Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading key file", path, e))?;
        let value = crate::canon::parse(&bytes)
            .map_err(|e| bad(&path.display().to_string(), e.to_string()))?;
        Jwk::from_value(&value, &path.display().to_string())
    }

    /// The public key.
    pub fn verifying_key(&self, what: &str) -> Result<VerifyingKey, Error> {
        let x = decode32(&self.x).ok_or_else(|| bad(what, "x is not 32 bytes of base64url"))?;
        VerifyingKey::from_bytes(&x).map_err(|_| bad(what, "x is not a point on Ed25519"))
    }

    /// The did:key of the public key.
    pub fn did(&self, what: &str) -> Result<Did, Error> {
        Ok(Did::from_key(&self.verifying_key(what)?))
    }
}

/// A private Ed25519 key and the verificationMethod its proofs name.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
    kid: Option<String>,
    verification_method: String,
}

impl std::fmt::Debug for KeyPair {
    // Never print the seed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("kid", &self.kid)
            .field("verification_method", &self.verification_method)
            .finish()
    }
}

impl KeyPair {
    /// A fresh key from the operating system's random number generator.
    pub fn generate(kid: Option<String>) -> Result<KeyPair, Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
        Ok(KeyPair::from_seed(&seed, kid))
    }

    /// The key with this 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32], kid: Option<String>) -> KeyPair {
        let signing = SigningKey::from_bytes(seed);
        let verification_method =
            Did::from_key(&signing.verifying_key()).default_verification_method();
        KeyPair {
            signing,
            kid,
            verification_method,
        }
    }

    /// The private key of a JWK; `x`, when present, must match `d`.
    pub fn from_jwk(jwk: &Jwk, what: &str) -> Result<KeyPair, Error> {
        let d = jwk
            .d
            .as_deref()
            .ok_or_else(|| bad(what, "no private key (d); a public JWK cannot sign"))?;
        let seed = decode32(d).ok_or_else(|| bad(what, "d is not 32 bytes of base64url"))?;
        let pair = KeyPair::from_seed(&seed, jwk.kid.clone());
        if jwk.verifying_key(what)? != pair.signing.verifying_key() {
            return Err(bad(what, "x is not the public key of d"));
        }
        Ok(pair)
    }

    /// Loads a private key file (a JWK or the `{private_jwk|jwk, verificationMethod}` wrapper).
    pub fn load(path: &Path) -> Result<KeyPair, Error> {
        let what = path.display().to_string();
        let (jwk, vm) = Jwk::load(path)?;
        let pair = KeyPair::from_jwk(&jwk, &what)?;
        Ok(match vm {
            Some(vm) => pair.with_verification_method(vm),
            None => pair,
        })
    }

    /// The same key naming another verificationMethod in its proofs.
    pub fn with_verification_method(mut self, verification_method: impl Into<String>) -> KeyPair {
        self.verification_method = verification_method.into();
        self
    }

    /// The verificationMethod proofs made with this key carry (default `<did>#key-1`).
    pub fn verification_method(&self) -> &str {
        &self.verification_method
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The did:key of the public key.
    pub fn did(&self) -> Did {
        Did::from_key(&self.signing.verifying_key())
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The private JWK of this key.
    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes()),
            d: Some(URL_SAFE_NO_PAD.encode(self.signing.to_bytes())),
            kid: self.kid.clone(),
        }
    }

    /// Writes the private JWK to a new file, mode 0600, atomically; an existing file is an error.
    pub fn write_new(&self, path: &Path) -> Result<(), Error> {
        if path.exists() {
            return Err(Error::Exists {
                path: path.to_path_buf(),
            });
        }
        let mut text =
            serde_json::to_string_pretty(&self.to_jwk()).expect("a Jwk always serializes");
        text.push('\n');
        // Staged next to the target and created 0600, so the seed is never readable by others,
        // not even briefly; the no-replace publish refuses a file that appeared meanwhile.
        if !crate::fs::create_new(path, text.as_bytes(), crate::fs::PRIVATE)
            .map_err(|e| e.lift(Error::io))?
        {
            return Err(Error::Exists {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }
}

/// Whether `s` has the shape of 32 bytes in unpadded base64url (43 characters of the alphabet).
fn is_b64url_32(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn decode32(s: &str) -> Option<[u8; 32]> {
    URL_SAFE_NO_PAD.decode(s).ok()?.try_into().ok()
}

fn bad(what: &str, reason: impl Into<String>) -> Error {
    Error::BadKey {
        what: what.to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"Qqo2hIdzkJOivw6dZ2nFfH1JjvQCoxd1E4ihpheJiis","d":"oaMkOt1bv_JCzB8gaNw14FY82E0KDv_oSHA3V-FtGNE","kid":"dev-example-ed25519"}"#;

    #[test]
    fn a_generated_key_round_trips_through_its_jwk() -> Result<(), Error> {
        let pair = KeyPair::generate(Some("k".into()))?;
        let value = serde_json::to_value(pair.to_jwk()).expect("serializes");
        let (jwk, vm) = Jwk::from_value(&value, "generated")?;
        assert_eq!(vm, None);
        assert_eq!(KeyPair::from_jwk(&jwk, "generated")?.did(), pair.did());
        Ok(())
    }

    #[test]
    fn the_wrapper_form_carries_its_verification_method() -> Result<(), Error> {
        let wrapper = format!(r#"{{"private_jwk":{DEV},"verificationMethod":"did:key:zX#zone"}}"#);
        let (jwk, vm) = Jwk::from_value(&serde_json::from_str(&wrapper).expect("json"), "w")?;
        assert_eq!(vm.as_deref(), Some("did:key:zX#zone"));
        assert_eq!(jwk.kid.as_deref(), Some("dev-example-ed25519"));
        Ok(())
    }

    #[test]
    fn a_key_whose_x_does_not_match_d_is_rejected() {
        let other = DEV.replace(
            "Qqo2hIdzkJOivw6dZ2nFfH1JjvQCoxd1E4ihpheJiis",
            "luwAvB1bV6N0B1k5v26jOAz_FLlOdvbtzctaNHdh_Jw",
        );
        let (jwk, _) = Jwk::from_value(&serde_json::from_str(&other).expect("json"), "k")
            .expect("shape is fine");
        assert!(matches!(
            KeyPair::from_jwk(&jwk, "k"),
            Err(Error::BadKey { .. })
        ));
    }

    #[test]
    fn a_malformed_d_is_named_but_never_shown() {
        let seed = "oaMkOt1bv_JCzB8gaNw14FY82E0KDv_oSHA3V-FtGNE";
        for d in [format!("{seed}="), format!("{seed} "), format!(" {seed}")] {
            let text = DEV.replace(seed, &d);
            let e = Jwk::from_value(&serde_json::from_str(&text).expect("json"), "k.jwk")
                .expect_err("malformed d");
            let shown = format!("{e} {e:?} {:?}", crate::Classify::detail(&e));
            assert!(shown.contains("field d"), "{shown}");
            assert!(!shown.contains(&seed[..20]), "{shown}");
        }
        let (jwk, _) = Jwk::from_value(&serde_json::from_str(DEV).expect("json"), "k").unwrap();
        assert!(!format!("{jwk:?}").contains(&seed[..20]));
    }

    #[test]
    fn a_key_with_the_wrong_curve_fails_the_schema() {
        let bad = DEV.replace("Ed25519", "X25519");
        assert!(matches!(
            Jwk::from_value(&serde_json::from_str(&bad).expect("json"), "k"),
            Err(Error::Schema(_))
        ));
    }
}
