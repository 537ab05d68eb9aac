//! did:key for Ed25519: `"did:key:z" + base58btc(0xED 0x01 || 32-byte public key)`.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;

use super::Error;

/// The did:key prefix msez resolves (multibase `z` = base58btc).
pub const PREFIX: &str = "did:key:z";
/// The multicodec varint of an Ed25519 public key.
const ED25519_PUB: [u8; 2] = [0xED, 0x01];

/// A did:key naming one Ed25519 public key, without any `#fragment`; valid once built.
#[derive(Clone)]
pub struct Did {
    text: String,
    // Kept decompressed: decompression is a field inversion, a fifth of a verification.
    key: VerifyingKey,
}

// The text determines the key, so identity and order are the text's.
impl PartialEq for Did {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Did {}

impl std::hash::Hash for Did {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for Did {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Did {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl Did {
    /// The did:key of a public key.
    pub fn from_key(key: &VerifyingKey) -> Did {
        let mut bytes = Vec::with_capacity(34);
        bytes.extend_from_slice(&ED25519_PUB);
        bytes.extend_from_slice(key.as_bytes());
        Did {
            text: format!("{PREFIX}{}", bs58::encode(bytes).into_string()),
            key: *key,
        }
    }

    /// Resolves a did:key or a verificationMethod (`did:key:z…#frag`; the fragment is ignored).
    ///
    /// Resolutions are remembered per thread: a chain is signed by a handful of keys, and
    /// decompressing one costs a fifth of a verification.
    pub fn parse(s: &str) -> Result<Did, Error> {
        thread_local! {
            static RECENT: std::cell::RefCell<Vec<Did>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let base = strip_fragment(s);
        if let Some(hit) = RECENT.with(|r| r.borrow().iter().find(|d| d.text == base).cloned()) {
            return Ok(hit);
        }
        let did = Did::resolve(s)?;
        RECENT.with(|r| {
            let mut r = r.borrow_mut();
            if r.len() >= 16 {
                r.remove(0);
            }
            r.push(did.clone());
        });
        Ok(did)
    }

    fn resolve(s: &str) -> Result<Did, Error> {
        let base = strip_fragment(s);
        let bad = |reason| Error::BadDid {
            did: s.to_string(),
            reason,
        };
        let encoded = base
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad("not a did:key:z… identifier"))?;
        let decoded = bs58::decode(encoded)
            .into_vec()
            .map_err(|_| bad("not base58btc"))?;
        // The reference also accepts a bare 0xED prefix (an old, non-varint encoding).
        let key = if let Some(rest) = decoded.strip_prefix(&ED25519_PUB) {
            rest
        } else if let Some(rest) = decoded.strip_prefix(&ED25519_PUB[..1]) {
            rest
        } else {
            return Err(bad("not an Ed25519 multicodec key (0xED 0x01)"));
        };
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| bad("the Ed25519 key is not 32 bytes"))?;
        let key =
            VerifyingKey::from_bytes(&key).map_err(|_| bad("the key is not a point on Ed25519"))?;
        Ok(Did {
            text: base.to_string(),
            key,
        })
    }

    /// The identifier, `did:key:z…`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The raw 32-byte public key.
    pub fn key_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The public key, ready to verify with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key
    }

    /// The default verificationMethod of this key, `<did>#key-1`.
    pub fn default_verification_method(&self) -> String {
        format!("{}#key-1", self.text)
    }
}

/// The part of a DID URL before `#`.
pub fn strip_fragment(s: &str) -> &str {
    s.split_once('#').map_or(s, |(base, _)| base)
}

impl FromStr for Did {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Did::parse(s)
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Did({})", self.text)
    }
}

impl serde::Serialize for Did {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const DEV_X: &str = "Qqo2hIdzkJOivw6dZ2nFfH1JjvQCoxd1E4ihpheJiis";
    const DEV_DID: &str = "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze";

    fn dev_key() -> VerifyingKey {
        let x: [u8; 32] = URL_SAFE_NO_PAD.decode(DEV_X).unwrap().try_into().unwrap();
        VerifyingKey::from_bytes(&x).unwrap()
    }

    #[test]
    fn the_dev_key_has_the_reference_did() {
        assert_eq!(Did::from_key(&dev_key()).as_str(), DEV_DID);
    }

    #[test]
    fn a_verification_method_resolves_to_its_key_ignoring_the_fragment() -> Result<(), Error> {
        let did = Did::parse(&format!("{DEV_DID}#key-1"))?;
        assert_eq!(did.as_str(), DEV_DID);
        assert_eq!(did.verifying_key(), dev_key());
        Ok(())
    }

    #[test]
    fn a_single_ed_prefix_is_accepted_for_compatibility() -> Result<(), Error> {
        let mut bytes = vec![0xED];
        bytes.extend_from_slice(dev_key().as_bytes());
        let did = Did::parse(&format!("did:key:z{}", bs58::encode(bytes).into_string()))?;
        assert_eq!(did.verifying_key(), dev_key());
        Ok(())
    }

    #[test]
    fn other_methods_wrong_codecs_and_short_keys_are_rejected() {
        assert!(Did::parse("did:web:example.com").is_err());
        assert!(Did::parse("did:key:").is_err());
        assert!(Did::parse("did:key:z0OIl").is_err());
        let mut secp = vec![0xE7, 0x01];
        secp.extend_from_slice(&[2; 33]);
        assert!(Did::parse(&format!("did:key:z{}", bs58::encode(secp).into_string())).is_err());
        let mut short = vec![0xED, 0x01];
        short.extend_from_slice(&[1; 31]);
        assert!(Did::parse(&format!("did:key:z{}", bs58::encode(short).into_string())).is_err());
    }
}
