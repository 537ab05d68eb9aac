//! c2sp.org/signed-note with Ed25519 keys, and c2sp.org/tlog-checkpoint note bodies.
//!
//! ```text
//! <origin>\n<size>\n<base64 root>\n[extension lines]\n     the note text (what is signed)
//! \n
//! — <key name> <base64(key id (4 bytes, big endian) || signature)>\n   one line per signature
//! ```
//!
//! The key id is the first four bytes of `SHA-256(name || 0x0A || 0x01 || public key)`; a
//! verifier key is `<name>+<key id, 8 hex>+<base64(0x01 || public key)>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::canon::Digest as Hash;

use super::Error;

/// The signature-type byte of Ed25519 note keys.
pub const ALG_ED25519: u8 = 0x01;
/// The most signature lines a note may carry (signed-note lets readers refuse more).
pub const MAX_SIGNATURES: usize = 100;
const DASH: &str = "\u{2014} ";

/// Checks a key name: non-empty UTF-8 with no Unicode space and no `+`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty key name".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(format!("key name {name:?} contains a space or '+'"));
    }
    Ok(())
}

/// The 32-bit key id of an Ed25519 note key named `name`.
pub fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    key_id_of(name, ALG_ED25519, public)
}

/// The 32-bit key id of a key of signature type `alg` named `name`: the first four bytes of
/// SHA-256(name || "\n" || alg || key), as C2SP signed-note defines it for every type.
pub fn key_id_of(name: &str, alg: u8, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Parses a verifier key `<name>+<id hex8>+<base64(alg || key)>` of signature type `alg`
/// (`what` names it in errors): the name is valid, the key an Ed25519 point and the id the one
/// the name and key give. Returns (name, id, key).
pub(crate) fn parse_vkey(
    vkey: &str,
    alg: u8,
    what: &str,
) -> Result<(String, u32, VerifyingKey), Error> {
    let bad = |why: &str| Error::BadVkey {
        given: vkey.to_string(),
        why: why.to_string(),
    };
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+keyid+base64"));
    };
    check_name(name).map_err(|w| bad(&w))?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("the key id must be 8 hex digits"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| bad("bad key id"))?;
    let raw = B64.decode(b64).map_err(|_| bad("bad base64 key"))?;
    if raw.len() != 33 || raw[0] != alg {
        return Err(bad(&format!("not {what} (0x{alg:02x} || 32 bytes)")));
    }
    let mut public = [0u8; 32];
    public.copy_from_slice(&raw[1..]);
    let key = VerifyingKey::from_bytes(&public).map_err(|_| bad("not an Ed25519 point"))?;
    if key_id_of(name, alg, &public) != id {
        return Err(bad("the key id does not match the name and key"));
    }
    Ok((name.to_string(), id, key))
}

/// The text of a verifier key: `<name>+<id hex8>+<base64(alg || key)>`.
pub(crate) fn vkey_text(name: &str, id: u32, alg: u8, key: &VerifyingKey) -> String {
    let mut raw = vec![alg];
    raw.extend_from_slice(key.as_bytes());
    format!("{name}+{id:08x}+{}", B64.encode(raw))
}

/// A note verifier: a name, its key id and an Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    /// The key name (for a log: its origin).
    pub name: String,
    /// The key id.
    pub id: u32,
    /// The public key.
    pub key: VerifyingKey,
}

impl Verifier {
    /// The verifier of `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Verifier, Error> {
        check_name(name).map_err(|why| Error::BadVkey {
            given: name.to_string(),
            why,
        })?;
        Ok(Verifier {
            name: name.to_string(),
            id: key_id(name, key.as_bytes()),
            key,
        })
    }

    /// Parses `<name>+<id hex8>+<base64(0x01 || key)>`; the id must match the key.
    pub fn parse(vkey: &str) -> Result<Verifier, Error> {
        let (name, id, key) = parse_vkey(vkey, ALG_ED25519, "an Ed25519 note key")?;
        Ok(Verifier { name, id, key })
    }

    /// The verifier key text, `name+id+base64`.
    pub fn vkey(&self) -> String {
        vkey_text(&self.name, self.id, ALG_ED25519, &self.key)
    }
}

/// A note signer: a name and an Ed25519 private key.
pub struct Signer<'k> {
    verifier: Verifier,
    key: &'k SigningKey,
}

impl<'k> Signer<'k> {
    /// A signer of `key` under `name`.
    pub fn new(name: &str, key: &'k SigningKey) -> Result<Signer<'k>, Error> {
        Ok(Signer {
            verifier: Verifier::new(name, key.verifying_key())?,
            key,
        })
    }

    /// Its verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The signature line of `text` (without its trailing newline).
    pub fn sign(&self, text: &str) -> Signature {
        let sig = self.key.sign(text.as_bytes());
        Signature {
            name: self.verifier.name.clone(),
            id: self.verifier.id,
            sig: sig.to_bytes().to_vec(),
        }
    }
}

/// One signature line: a key name, a key id and the signature bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub id: u32,
    /// The signature (64 bytes for Ed25519; other types are kept as they are).
    pub sig: Vec<u8>,
}

impl Signature {
    /// The line, with its newline.
    pub fn line(&self) -> String {
        let mut raw = self.id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.sig);
        format!("{DASH}{} {}\n", self.name, B64.encode(raw))
    }
}

/// A signed note: its text (ending in a newline) and its signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<Signature>,
}

impl Note {
    /// Parses a signed note (structure only; see [`Note::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<Note, Error> {
        let bad = |why: &str| Error::bad_note("signed note", why);
        let s = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err(bad("control characters other than newline"));
        }
        let split = s
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line before the signatures"))?;
        let text = &s[..split + 1];
        let sigs = &s[split + 2..];
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(bad("the signature block must be lines ending in newline"));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            let rest = line
                .strip_prefix(DASH)
                .ok_or_else(|| bad("a signature line must start with an em dash and a space"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| bad("a signature line is '— name base64'"))?;
            check_name(name).map_err(|w| bad(&w))?;
            let raw = B64
                .decode(b64)
                .map_err(|_| bad("a signature is not base64"))?;
            if raw.len() < 5 {
                return Err(bad("a signature is shorter than its key id"));
            }
            signatures.push(Signature {
                name: name.to_string(),
                id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                sig: raw[4..].to_vec(),
            });
        }
        if signatures.len() > MAX_SIGNATURES {
            return Err(bad("more than 100 signatures"));
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// The note's bytes: text, a blank line, the signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out.into_bytes()
    }

    /// Checks the signatures of the given verifiers; returns those that verified.
    ///
    /// A line naming no given key is ignored (anyone may append one); a line naming a given
    /// key (name and id) that does not verify is an error.
    pub fn verify<'v>(&self, verifiers: &'v [Verifier]) -> Result<Vec<&'v Verifier>, Error> {
        let mut ok = Vec::new();
        for s in &self.signatures {
            let Some(v) = verifiers.iter().find(|v| v.name == s.name && v.id == s.id) else {
                continue;
            };
            let sig = <[u8; 64]>::try_from(s.sig.as_slice())
                .map(|b| ed25519_dalek::Signature::from_bytes(&b))
                .map_err(|_| Error::BadSignature {
                    name: s.name.clone(),
                })?;
            v.key
                .verify_strict(self.text.as_bytes(), &sig)
                .map_err(|_| Error::BadSignature {
                    name: s.name.clone(),
                })?;
            if !ok.contains(&v) {
                ok.push(v);
            }
        }
        Ok(ok)
    }
}

/// A tlog-checkpoint body: origin, tree size, root hash, extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log origin.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The RFC 6962 root hash.
    pub root: Hash,
    /// Extension lines (msez writes none).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text of this checkpoint.
    pub fn text(&self) -> String {
        let mut t = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        for e in &self.extensions {
            t.push_str(e);
            t.push('\n');
        }
        t
    }

    /// Parses a checkpoint note text.
    pub fn parse(text: &str) -> Result<Checkpoint, Error> {
        let bad = |why: &str| Error::bad_note("checkpoint", why);
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("must end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("empty origin line"));
        }
        let size = lines.next().ok_or_else(|| bad("no tree size line"))?;
        let canonical = size == "0" || (!size.starts_with('0') && !size.is_empty());
        if !canonical || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the tree size must be a decimal without leading zeros"));
        }
        let size: u64 = size.parse().map_err(|_| bad("the tree size overflows"))?;
        let root = lines.next().ok_or_else(|| bad("no root hash line"))?;
        let root = B64
            .decode(root)
            .ok()
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or_else(|| bad("the root hash must be 32 bytes in base64"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root: Hash(root),
            extensions,
        })
    }

    /// This checkpoint as a note signed by `signer`.
    pub fn sign(&self, signer: &Signer) -> Note {
        let text = self.text();
        let sig = signer.sign(&text);
        Note {
            text,
            signatures: vec![sig],
        }
    }
}

/// Opens a checkpoint note: parses it, requires a verified signature by a given verifier
/// named like its origin (a cosigner's key does not make a log's checkpoint), and parses the
/// body.
pub fn open_checkpoint(bytes: &[u8], verifiers: &[Verifier]) -> Result<(Note, Checkpoint), Error> {
    let note = Note::parse(bytes)?;
    let ck = Checkpoint::parse(&note.text)?;
    let ok = note.verify(verifiers)?;
    if !ok.iter().any(|v| v.name == ck.origin) {
        return Err(Error::Unsigned { origin: ck.origin });
    }
    Ok((note, ck))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_go_example_key_id_and_vkey_round_trip() {
        // golang.org/x/mod/sumdb/note's documented example verifier key.
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let v = Verifier::parse(vkey).unwrap();
        assert_eq!(v.id, 0xc74f20a3);
        assert_eq!(v.vkey(), vkey);
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let n = Note::parse(note.as_bytes()).unwrap();
        assert_eq!(n.verify(std::slice::from_ref(&v)).unwrap().len(), 1);
        assert_eq!(n.to_bytes(), note.as_bytes());
        let mut tampered = n.clone();
        tampered.text = tampered.text.replace("cryptography", "Cryptography");
        assert!(matches!(
            tampered.verify(&[v]),
            Err(Error::BadSignature { .. })
        ));
    }

    #[test]
    fn vkeys_whose_base64_holds_a_plus_parse() {
        let v = (0u8..=255)
            .map(|i| Verifier::new("n", SigningKey::from_bytes(&[i; 32]).verifying_key()).unwrap())
            .find(|v| v.vkey().matches('+').count() > 2)
            .unwrap();
        assert_eq!(Verifier::parse(&v.vkey()).unwrap(), v);
    }

    #[test]
    fn checkpoints_sign_parse_and_refuse_bad_bodies() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let signer = Signer::new("example.org/log", &key).unwrap();
        let ck = Checkpoint {
            origin: "example.org/log".into(),
            size: 13,
            root: Hash([9u8; 32]),
            extensions: vec![],
        };
        let bytes = ck.sign(&signer).to_bytes();
        let (_, back) = open_checkpoint(&bytes, std::slice::from_ref(signer.verifier())).unwrap();
        assert_eq!(back, ck);
        let other = Verifier::new("witness", key.verifying_key()).unwrap();
        assert!(matches!(
            open_checkpoint(&bytes, &[other]),
            Err(Error::Unsigned { .. })
        ));
        for bad in ["o\n013\nAA==\n", "o\n1\n", "\n1\nAA==\n", "o\n1\nAAAA\n"] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
