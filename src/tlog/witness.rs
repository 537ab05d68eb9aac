//! A tlog-witness (c2sp.org/tlog-witness) and its client, with tlog-cosignature/v1 signatures.
//!
//! The witness cosigns a log's checkpoint only after checking the log's signature and a
//! consistency proof from the last size it cosigned for that origin. Its state (per origin:
//! size, root, note) is written durably (temp file, fsync, rename, fsync of the directory)
//! before it replies, and requests are served one at a time, so it never cosigns two roots for
//! one size, even across a kill -9.
//!
//! ```text
//! POST /add-checkpoint
//! old <size>\n                  the size the client thinks the witness has (0: none)
//! <base64 proof hash>\n …       the RFC 9162 consistency proof from old to the new size
//! \n
//! <signed checkpoint note>
//! ```
//!
//! 200: the cosignature lines; 409: the witness's size (`<size>\n`); 403: a bad log signature;
//! 404: an unknown origin; 422: a proof that does not verify; 400: anything malformed.
//!
//! A cosignature (signature type 0x04) is the line `— <witness> base64(key id || timestamp
//! (uint64 big endian) || Ed25519 signature)` over `cosignature/v1\ntime <timestamp>\n` followed
//! by the checkpoint text.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::canon::Digest as Hash;
use crate::mmr;

use super::Error;
use super::note::{Checkpoint, Note, Signature, Verifier, check_name, open_checkpoint};

/// The signature type of tlog-cosignature/v1 keys.
pub const ALG_COSIGNATURE: u8 = 0x04;
/// The largest request body the witness reads.
pub const MAX_BODY: usize = 1 << 20;

/// The key id of a cosignature key.
pub fn cosigner_key_id(name: &str, public: &[u8; 32]) -> u32 {
    super::note::key_id_of(name, ALG_COSIGNATURE, public)
}

/// A witness's cosignature verifier key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigner {
    /// The witness name.
    pub name: String,
    /// The key id.
    pub id: u32,
    /// The public key.
    pub key: VerifyingKey,
}

impl Cosigner {
    /// The cosigner of `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Cosigner, Error> {
        check_name(name).map_err(|why| Error::BadVkey {
            given: name.to_string(),
            why,
        })?;
        Ok(Cosigner {
            name: name.to_string(),
            id: cosigner_key_id(name, key.as_bytes()),
            key,
        })
    }

    /// Parses `<name>+<id hex8>+<base64(0x04 || key)>`; the id must match the key.
    pub fn parse(vkey: &str) -> Result<Cosigner, Error> {
        let (name, id, key) =
            super::note::parse_vkey(vkey, ALG_COSIGNATURE, "a cosignature/v1 key")?;
        Ok(Cosigner { name, id, key })
    }

    /// The verifier key text.
    pub fn vkey(&self) -> String {
        super::note::vkey_text(&self.name, self.id, ALG_COSIGNATURE, &self.key)
    }

    /// Whether `sig` is this witness's valid cosignature of the checkpoint `text`; returns its
    /// timestamp.
    pub fn verify(&self, text: &str, sig: &Signature) -> Option<u64> {
        if sig.name != self.name || sig.id != self.id || sig.sig.len() != 72 {
            return None;
        }
        let time = u64::from_be_bytes(sig.sig[..8].try_into().ok()?);
        let s = ed25519_dalek::Signature::from_bytes(&sig.sig[8..].try_into().ok()?);
        self.key
            .verify_strict(signed_message(time, text).as_bytes(), &s)
            .ok()
            .map(|()| time)
    }
}

fn signed_message(time: u64, text: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

/// The cosignature line of `key` named `name` over the checkpoint `text` at `time`.
pub fn cosign(name: &str, key: &SigningKey, text: &str, time: u64) -> Signature {
    let sig = key.sign(signed_message(time, text).as_bytes());
    let mut raw = time.to_be_bytes().to_vec();
    raw.extend_from_slice(&sig.to_bytes());
    Signature {
        name: name.to_string(),
        id: cosigner_key_id(name, key.verifying_key().as_bytes()),
        sig: raw,
    }
}

/// The body of an add-checkpoint request.
pub fn request_body(old: u64, proof: &[Hash], note: &[u8]) -> Vec<u8> {
    let mut out = format!("old {old}\n");
    for h in proof {
        out.push_str(&B64.encode(h.0));
        out.push('\n');
    }
    out.push('\n');
    let mut out = out.into_bytes();
    out.extend_from_slice(note);
    out
}

/// A parsed add-checkpoint request.
struct Request {
    old: u64,
    proof: Vec<Hash>,
    note: Vec<u8>,
}

fn parse_request(body: &[u8]) -> Option<Request> {
    let split = body.windows(2).position(|w| w == b"\n\n")?;
    let head = std::str::from_utf8(&body[..split]).ok()?;
    let mut lines = head.split('\n');
    let old = lines.next()?.strip_prefix("old ")?;
    if old != "0" && old.starts_with('0') {
        return None;
    }
    let old = old.parse().ok()?;
    let proof = lines
        .map(|l| {
            let raw = B64.decode(l).ok()?;
            Some(Hash(<[u8; 32]>::try_from(raw).ok()?))
        })
        .collect::<Option<Vec<_>>>()?;
    if proof.len() > 63 {
        return None;
    }
    Some(Request {
        old,
        proof,
        note: body[split + 2..].to_vec(),
    })
}

/// What the witness knows of one log.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct LogState {
    origin: String,
    size: u64,
    root: String,
    note: String,
}

/// A witness: its key and name, the logs it witnesses, and where its state lives.
pub struct Witness {
    name: String,
    key: SigningKey,
    logs: Vec<Verifier>,
    dir: PathBuf,
}

/// An HTTP answer: status, content type, body.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into().into_bytes(),
        }
    }
}

impl Witness {
    /// A witness named `name` signing with `key`, for logs whose note keys are `logs`, keeping
    /// its state in `dir` (created).
    pub fn new(
        name: &str,
        key: SigningKey,
        logs: Vec<Verifier>,
        dir: PathBuf,
    ) -> Result<Witness, Error> {
        check_name(name).map_err(|why| Error::BadVkey {
            given: name.to_string(),
            why,
        })?;
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        Ok(Witness {
            name: name.to_string(),
            key,
            logs,
            dir,
        })
    }

    /// The witness's cosigner key.
    pub fn cosigner(&self) -> Cosigner {
        Cosigner {
            name: self.name.clone(),
            id: cosigner_key_id(&self.name, self.key.verifying_key().as_bytes()),
            key: self.key.verifying_key(),
        }
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        self.dir.join(format!(
            "{}.json",
            hex::encode(Sha256::digest(origin.as_bytes()))
        ))
    }

    fn load(&self, origin: &str) -> Result<Option<LogState>, Error> {
        let p = self.state_path(origin);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::BadNote {
                    what: format!("witness state {}", p.display()),
                    why: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", p, e)),
        }
    }

    fn store(&self, st: &LogState) -> Result<(), Error> {
        let p = self.state_path(&st.origin);
        let bytes = serde_json::to_vec(st).unwrap_or_default();
        crate::fs::write(&p, &bytes, crate::fs::PUBLIC)
            .map_err(|e| Error::io("writing", &p, e.source))
    }

    /// Handles one add-checkpoint request body.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<Reply, Error> {
        let Some(req) = parse_request(body) else {
            return Ok(Reply::text(400, "malformed add-checkpoint request\n"));
        };
        let Ok(note) = Note::parse(&req.note) else {
            return Ok(Reply::text(400, "malformed note\n"));
        };
        let Ok(ck) = Checkpoint::parse(&note.text) else {
            return Ok(Reply::text(400, "malformed checkpoint\n"));
        };
        if !self.logs.iter().any(|v| v.name == ck.origin) {
            return Ok(Reply::text(404, "unknown log\n"));
        }
        if open_checkpoint(&req.note, &self.logs).is_err() {
            return Ok(Reply::text(403, "the log's signature does not verify\n"));
        }
        if req.old > ck.size {
            return Ok(Reply::text(400, "old size is past the checkpoint\n"));
        }
        let known = self.load(&ck.origin)?;
        let (size, root) = match &known {
            Some(st) => (st.size, Hash::parse_loose(&st.root).unwrap_or_default()),
            None => (0, Hash::default()),
        };
        if req.old != size {
            return Ok(Reply::text(409, format!("{size}\n")));
        }
        let consistent = if size == 0 {
            req.proof.is_empty()
        } else if size == ck.size {
            req.proof.is_empty() && root == ck.root
        } else {
            mmr::verify_consistency(size, ck.size, &root, &ck.root, &req.proof).is_ok()
        };
        if !consistent {
            return Ok(Reply::text(422, "the consistency proof does not verify\n"));
        }
        // Durable before the reply: a restarted witness never cosigns another root for a size
        // it has cosigned, nor forgets the size it has reached.
        self.store(&LogState {
            origin: ck.origin.clone(),
            size: ck.size,
            root: ck.root.to_hex(),
            note: String::from_utf8_lossy(&req.note).into_owned(),
        })?;
        let sig = cosign(&self.name, &self.key, &note.text, now);
        Ok(Reply {
            status: 200,
            body: sig.line().into_bytes(),
        })
    }

    /// Serves add-checkpoint requests on `listener`, one at a time, until the process ends.
    pub fn serve(&self, listener: TcpListener) -> Result<(), Error> {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            // A broken client must not stop the witness; its error is its own.
            let _ = self.serve_one(stream);
        }
        Ok(())
    }

    fn serve_one(&self, mut stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(usize::MAX);
                }
            }
        }
        let reply = if method != "POST" || !path.ends_with("/add-checkpoint") {
            Reply::text(404, "not found\n")
        } else if length > MAX_BODY {
            Reply::text(400, "body too large\n")
        } else {
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            match self.add_checkpoint(&body, now) {
                Ok(r) => r,
                // The state could not be read or made durable: no cosignature.
                Err(e) => Reply::text(500, format!("{e}\n")),
            }
        };
        let reason = match reply.status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            422 => "Unprocessable Entity",
            _ => "Internal Server Error",
        };
        let ctype = if reply.status == 409 {
            "text/x.tlog.size"
        } else {
            "text/plain; charset=utf-8"
        };
        write!(
            stream,
            "HTTP/1.1 {} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            reply.status,
            reply.body.len()
        )?;
        stream.write_all(&reply.body)?;
        stream.flush()
    }
}

/// What a witness said to a submitted checkpoint.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Cosigned {
    /// The witness URL.
    pub url: String,
    /// Its cosignature line.
    pub line: String,
}

/// Submits `note` (of the checkpoint `ck`, over `tree`) to the witness at `url` and returns its
/// verified cosignature. A 409 gives the witness's size: the request is sent again once with
/// the consistency proof from that size. A witness whose size is past ours, or that refuses
/// the proof from its size, saw another history: fork evidence, written to `evidence`.
pub fn submit(
    url: &str,
    cosigner: &Cosigner,
    note: &Note,
    ck: &Checkpoint,
    tree: &super::tiles::Tree,
    evidence_dir: &Path,
) -> Result<Signature, Error> {
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let http = |reason: String| Error::Http {
        url: endpoint.clone(),
        reason,
    };
    // Roots are loaded only for https: a plain-http witness needs no trust store.
    let tls = if url.starts_with("https://") {
        crate::http::Tls::Roots(crate::http::trust_roots().map_err(|e| http(e.to_string()))?)
    } else {
        crate::http::Tls::None
    };
    let agent = crate::http::agent(Duration::from_secs(30), tls);
    let bytes = note.to_bytes();
    let mut old = 0u64;
    for _ in 0..2 {
        let proof = if old == 0 || old == ck.size {
            Vec::new()
        } else {
            mmr::consistency_proof(tree, old, ck.size)?
        };
        let mut resp = agent
            .post(&endpoint)
            .send(&request_body(old, &proof, &bytes)[..])
            .map_err(|e| http(crate::http::describe(&e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 16)
            .read_to_vec()
            .map_err(|e| http(crate::http::describe(&e)))?;
        let text = String::from_utf8_lossy(&body).to_string();
        match status {
            200 => {
                let line = text.lines().find_map(|l| {
                    let n = Note::parse(format!("x\n\n{l}\n").as_bytes()).ok()?;
                    let s = n.signatures.into_iter().next()?;
                    cosigner.verify(&note.text, &s).map(|_| s)
                });
                return line.ok_or_else(|| Error::BadSignature {
                    name: cosigner.name.clone(),
                });
            }
            409 => {
                let theirs: u64 = text
                    .trim()
                    .parse()
                    .map_err(|_| http(format!("409 with a body that is not a size: {text:?}")))?;
                if theirs > ck.size {
                    return Err(split(url, ck, theirs, evidence_dir, note)?);
                }
                old = theirs;
            }
            422 if old > 0 => return Err(split(url, ck, old, evidence_dir, note)?),
            s => return Err(http(format!("HTTP {s}: {}", text.trim()))),
        }
    }
    Err(http("the witness kept changing its size".into()))
}

fn split(url: &str, ck: &Checkpoint, theirs: u64, dir: &Path, note: &Note) -> Result<Error, Error> {
    let doc = serde_json::json!({
        "type": "MsezTlogWitnessConflict",
        "origin": ck.origin,
        "witness": url,
        "witness_size": theirs,
        "checkpoint": String::from_utf8_lossy(&note.to_bytes()),
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    bytes.push(b'\n');
    let p = dir.join(format!(
        "{}.witness.{}.json",
        hex::encode(&Sha256::digest(ck.origin.as_bytes())[..8]),
        hex::encode(&Sha256::digest(&bytes)[..8])
    ));
    crate::chain::module::write_file(&p, &bytes).map_err(|e| Error::Io {
        what: "writing",
        path: p.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(Error::SplitView(Box::new(super::SplitView {
        origin: ck.origin.clone(),
        seen_size: theirs,
        size: ck.size,
        seen_root: format!("(the root {url} cosigned at size {theirs})"),
        root: ck.root.to_hex(),
        evidence: p,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosigner_key_parses_back_and_a_wrong_id_or_type_is_refused() {
        let key = SigningKey::from_bytes(&[2u8; 32]).verifying_key();
        let c = Cosigner::new("w.example", key).unwrap();
        assert_eq!(Cosigner::parse(&c.vkey()).unwrap(), c);
        let vkey = c.vkey();
        let (name, rest) = vkey.split_once('+').unwrap();
        let b64 = rest.split_once('+').unwrap().1;
        let wrong = format!("{name}+{:08x}+{b64}", c.id ^ 1);
        assert!(
            Cosigner::parse(&wrong)
                .unwrap_err()
                .to_string()
                .contains("does not match")
        );
        // A note (0x01) key is not a cosignature key, under its own valid id too.
        let note = super::super::note::Verifier::new("w.example", key)
            .unwrap()
            .vkey();
        assert!(
            Cosigner::parse(&note)
                .unwrap_err()
                .to_string()
                .contains("0x04")
        );
    }

    #[test]
    fn a_witness_cosigns_consistent_checkpoints_only_and_remembers() {
        let dir = tempfile::tempdir().unwrap();
        let log_key = SigningKey::from_bytes(&[1u8; 32]);
        let signer = super::super::note::Signer::new("example.org/log", &log_key).unwrap();
        let w = Witness::new(
            "example.org/witness",
            SigningKey::from_bytes(&[2u8; 32]),
            vec![signer.verifier().clone()],
            dir.path().to_path_buf(),
        )
        .unwrap();
        let roots: Vec<Hash> = (0..20u8).map(|i| Hash([i; 32])).collect();
        let tree = super::super::tiles::Tree::from_next_roots(&roots);
        let note_at = |n: u64| {
            Checkpoint {
                origin: "example.org/log".into(),
                size: n,
                root: tree.root_at(n).unwrap(),
                extensions: vec![],
            }
            .sign(&signer)
        };
        let n5 = note_at(5);
        let r = w
            .add_checkpoint(&request_body(0, &[], &n5.to_bytes()), 7)
            .unwrap();
        assert_eq!(r.status, 200);
        let sig = Note::parse(format!("x\n\n{}", String::from_utf8(r.body).unwrap()).as_bytes())
            .unwrap()
            .signatures
            .remove(0);
        assert_eq!(w.cosigner().verify(&n5.text, &sig), Some(7));
        let vk = Cosigner::parse(&w.cosigner().vkey()).unwrap();
        assert_eq!(vk, w.cosigner());
        // Stale old size: 409 with the witness's size.
        let n9 = note_at(9);
        let r = w
            .add_checkpoint(&request_body(0, &[], &n9.to_bytes()), 8)
            .unwrap();
        assert_eq!((r.status, r.body), (409, b"5\n".to_vec()));
        let proof = mmr::consistency_proof(&tree, 5, 9).unwrap();
        let r = w
            .add_checkpoint(&request_body(5, &proof, &n9.to_bytes()), 8)
            .unwrap();
        assert_eq!(r.status, 200);
        // Another root at a size it passed: the proof from 9 cannot verify.
        let other: Vec<Hash> = (0..20u8).map(|i| Hash([i ^ 0x55; 32])).collect();
        let ot = super::super::tiles::Tree::from_next_roots(&other);
        let fork = Checkpoint {
            origin: "example.org/log".into(),
            size: 12,
            root: ot.root_at(12).unwrap(),
            extensions: vec![],
        }
        .sign(&signer);
        let proof = mmr::consistency_proof(&ot, 9, 12).unwrap();
        let r = w
            .add_checkpoint(&request_body(9, &proof, &fork.to_bytes()), 9)
            .unwrap();
        assert_eq!(r.status, 422);
        // A new witness on the same state directory has the same memory.
        let w2 = Witness::new(
            "example.org/witness",
            SigningKey::from_bytes(&[2u8; 32]),
            vec![signer.verifier().clone()],
            dir.path().to_path_buf(),
        )
        .unwrap();
        let r = w2
            .add_checkpoint(&request_body(0, &[], &n5.to_bytes()), 9)
            .unwrap();
        assert_eq!((r.status, r.body), (409, b"9\n".to_vec()));
    }
}
