//! `msez key`: make Ed25519 keys, show their did:key, and issue key rotations and
//! revocations (docs/forks.md, Key lifecycle).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::canon::Value;
use msez::chain::lifecycle::{self, ChainId, Position, Request};
use msez::chain::{self, Kind, checkpoint};
use msez::odb::Repo;
use msez::vc::{Jwk, KeyPair};

use super::{Ctx, written};

/// `msez key` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate an Ed25519 OKP JWK (mode 0600, never overwrites) and print its did:key.
    ///
    /// Example: msez key gen --out zone-a.jwk --kid zone-a
    Gen(GenArgs),
    /// Print the did:key of a JWK (private or public, or the {private_jwk, verificationMethod} wrapper).
    Did(DidArgs),
    /// Issue an MSEZKeyRotationCredential: NEW counts for the anchor from each --from position
    /// on. Signed by the old key and by --key (another anchor allowed key_rotation).
    ///
    /// Example: msez key rotate --anchor-id zone-a --old-key zone-a.jwk --new-key zone-a-2.jwk
    ///   --from asset:<asset_id>/core@5 --key ops.jwk --trust-anchors trust-anchors.yaml
    Rotate(RotateArgs),
    /// Issue an MSEZKeyRevocationCredential: the key's proofs count only on receipts inside
    /// the --valid-through checkpoint. Signed by --key (an anchor allowed key_revocation).
    ///
    /// Example: msez key revoke did:key:z6Mk... --valid-through state/checkpoints/checkpoint.5.json
    ///   --key ops.jwk --trust-anchors trust-anchors.yaml
    Revoke(RevokeArgs),
    /// Print the C2SP note verifier key (name+keyid+base64) of a key under a name, e.g. a log
    /// origin (docs/tlog.md).
    ///
    /// Example: msez key vkey --key operator.jwk --name "$(msez tlog origin MODULE)"
    Vkey(VkeyArgs),
}

/// `msez key vkey --key K --name NAME`.
#[derive(Debug, clap::Args)]
pub struct VkeyArgs {
    /// The key (private or public JWK).
    #[arg(long, value_name = "KEY.jwk")]
    pub key: PathBuf,
    /// The key name: a log's origin, or a witness's name.
    #[arg(long)]
    pub name: String,
    /// Print the tlog-cosignature/v1 key of a witness (type 0x04) instead of a note key.
    #[arg(long)]
    pub witness: bool,
}

/// Where a key credential goes.
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// The signing key of the authorizing trust anchor (repeatable).
    #[arg(long = "key", value_name = "KEY.jwk", required = true)]
    pub keys: Vec<PathBuf>,
    /// Add a reference to the credential to this trust-anchors file (rewritten; YAML comments
    /// are not kept); the credential goes to keys/ beside it unless --out says otherwise.
    #[arg(long, value_name = "FILE")]
    pub trust_anchors: Option<PathBuf>,
    /// Write the credential here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// A reason recorded in the credential.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `msez key rotate`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The anchor_id (in the trust-anchors file) whose key rotates.
    #[arg(long)]
    pub anchor_id: String,
    /// The old key (private JWK: it signs the rotation).
    #[arg(long, value_name = "OLD.jwk")]
    pub old_key: PathBuf,
    /// The new key: a JWK file or a did:key.
    #[arg(long, value_name = "NEW.jwk|DID")]
    pub new_key: String,
    /// From where the new key counts: asset:<asset_id>/<purpose>@SEQ or corridor:<id>@SEQ
    /// (repeatable, one per chain).
    #[arg(long = "from", value_name = "CHAIN@SEQ", required = true)]
    pub from: Vec<String>,
    #[command(flatten)]
    pub issue: IssueArgs,
}

/// `msez key revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The revoked key: a did:key or a JWK file.
    pub revoked: String,
    /// The last checkpoint its proofs count in (a signed asset or corridor checkpoint file).
    #[arg(long, value_name = "CHECKPOINT.json")]
    pub valid_through: PathBuf,
    #[command(flatten)]
    pub issue: IssueArgs,
}

/// `msez key gen --out KEY.jwk [--kid KID]`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Where to write the private JWK; must not exist.
    #[arg(long, value_name = "KEY.jwk")]
    pub out: PathBuf,
    /// The key id stored in the JWK.
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
}

/// `msez key did KEY.jwk`.
#[derive(Debug, clap::Args)]
pub struct DidArgs {
    /// The key file.
    pub key: PathBuf,
}

/// Runs one `msez key` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Gen(args) => generate(args, ctx),
        Command::Did(args) => did(args, ctx),
        Command::Rotate(args) => rotate(args, ctx),
        Command::Revoke(args) => revoke(args, ctx),
        Command::Vkey(args) => vkey(args, ctx),
    }
}

/// A did:key as given, or the did:key of a JWK file.
fn did_of(given: &str, ctx: &Ctx) -> super::Result<String> {
    if given.starts_with("did:key:") {
        return Ok(msez::vc::strip_fragment(given).to_string());
    }
    let path = ctx.path(Path::new(given));
    let (jwk, _) = Jwk::load(&path)?;
    Ok(jwk.did(&path.display().to_string())?.to_string())
}

fn rotate(args: RotateArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let old = KeyPair::load(&ctx.path(&args.old_key))?;
    let effective_from = args
        .from
        .iter()
        .map(|f| {
            Position::parse(f).ok_or_else(|| {
                msez::Error::Usage(format!(
                    "--from {f:?}: expected asset:<asset_id>/<purpose>@SEQ or corridor:<id>@SEQ"
                ))
            })
        })
        .collect::<super::Result<Vec<_>>>()?;
    let req = Request::Rotate {
        anchor_id: args.anchor_id,
        previous_key: old.did().to_string(),
        new_key: did_of(&args.new_key, ctx)?,
        effective_from,
    };
    issue(&req, Some(old), args.issue, "key-rotation", ctx)
}

fn revoke(args: RevokeArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let path = ctx.path(&args.valid_through);
    let ck = super::state::read_json(&path)?;
    let kind = if ck.get("corridor_id").is_some() {
        Kind::Corridor
    } else {
        Kind::Asset
    };
    checkpoint::check_signed(kind, &ck, &path.display().to_string(), false, None)?;
    let text = |k: &str| ck.get(k).and_then(Value::as_str).unwrap_or_default();
    let chain = ChainId::new(
        kind,
        text(kind.owner_field()),
        Some(text("purpose")).filter(|p| !p.is_empty()),
    );
    let mmr = ck.get("mmr").cloned().unwrap_or_default();
    let size = mmr.get("size").and_then(Value::as_u64).unwrap_or(0);
    let root = msez::canon::Digest::parse_loose(
        mmr.get("root").and_then(Value::as_str).unwrap_or_default(),
    )?;
    let req = Request::Revoke {
        key: did_of(&args.revoked, ctx)?,
        chain,
        size,
        root,
        checkpoint_digest: Some(checkpoint::digest(&ck)?),
    };
    issue(&req, None, args.issue, "key-revocation", ctx)
}

/// Builds, signs (with `first` then every --key), stores and writes a key credential, and
/// references it from the trust-anchors file when one is given.
fn issue(
    req: &Request,
    first: Option<KeyPair>,
    args: IssueArgs,
    stem: &str,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let mut keys: Vec<KeyPair> = first.into_iter().collect();
    keys.extend(super::state::load_keys(&args.keys, ctx)?);
    let issuer = keys.last().map(|k| k.did().to_string()).unwrap_or_default();
    let now = msez::vc::proof::now_utc();
    let mut vc = lifecycle::credential(req, &issuer, &now, args.reason.as_deref())?;
    chain::module::sign_all(&mut vc, &keys)?;
    lifecycle::check_shape(&vc, stem)?;
    let digest = lifecycle::artifact_type().rule().digest_json(&vc)?;
    let anchors = args.trust_anchors.as_ref().map(|p| ctx.path(p));
    let path = match (&args.out, &anchors) {
        (Some(out), _) => ctx.path(out),
        (None, Some(a)) => lifecycle::base_of(a)
            .join("keys")
            .join(format!("{stem}.{}.json", &digest.to_hex()[..16])),
        (None, None) => ctx
            .cwd
            .join(format!("{stem}.{}.json", &digest.to_hex()[..16])),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| msez::Error::io("creating", dir, e))?;
    }
    chain::module::write_pretty(&path, &vc)?;
    let stored = match Repo::find(&ctx.cwd)? {
        Some(repo) => Some(
            repo.put_json(&lifecycle::artifact_type(), &vc)?
                .id
                .to_string(),
        ),
        None => None,
    };
    if let Some(a) = &anchors {
        reference(a, &path, &digest.to_hex(), stem)?;
    }
    let report = serde_json::json!({
        "path": path,
        "digest_sha256": digest.to_hex(),
        "stored": stored,
        "trust_anchors": anchors,
        "credential": vc,
    });
    written(
        ctx.out
            .emit(&report, |w| writeln!(w, "{} {}", digest, path.display())),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Appends `{path, digest_sha256}` to `key_rotations` or `key_revocations` of the anchors file,
/// then loads it back so a file msez wrote always passes its own schema.
fn reference(anchors: &Path, credential: &Path, digest: &str, stem: &str) -> super::Result<()> {
    let bytes = std::fs::read(anchors).map_err(|e| msez::Error::io("reading", anchors, e))?;
    let mut value: Value = serde_yaml_ng::from_slice(&bytes).map_err(|e| {
        msez::Error::from(msez::vc::Error::BadTrustAnchors {
            path: anchors.to_path_buf(),
            reason: e.to_string(),
        })
    })?;
    let base = lifecycle::base_of(anchors);
    let rel = credential
        .strip_prefix(&base)
        .unwrap_or(credential)
        .display()
        .to_string();
    let field = if stem == "key-rotation" {
        "key_rotations"
    } else {
        "key_revocations"
    };
    let entry = serde_json::json!({"path": rel, "digest_sha256": digest});
    match value.get_mut(field).and_then(Value::as_array_mut) {
        Some(list) if list.contains(&entry) => {}
        Some(list) => list.push(entry),
        None => {
            if let Some(m) = value.as_object_mut() {
                m.insert(field.into(), Value::Array(vec![entry]));
            }
        }
    }
    let text = serde_yaml_ng::to_string(&value).map_err(|e| msez::Error::Usage(e.to_string()))?;
    msez::vc::TrustAnchors::parse(text.as_bytes(), anchors)?;
    chain::module::write_file(anchors, text.as_bytes())?;
    Ok(())
}

fn generate(args: GenArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let path = ctx.path(&args.out);
    let pair = KeyPair::generate(args.kid)?;
    pair.write_new(&path)?;
    ctx.out.note(format_args!(
        "wrote private key {} (mode 0600)",
        path.display()
    ));
    let did = pair.did();
    let report = serde_json::json!({
        "did": did,
        "verification_method": pair.verification_method(),
        "kid": pair.kid(),
        "path": path,
    });
    written(ctx.out.emit(&report, |w| writeln!(w, "{did}")))?;
    Ok(ExitCode::SUCCESS)
}

fn did(args: DidArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let path = ctx.path(&args.key);
    let (jwk, vm) = Jwk::load(&path)?;
    let did = jwk.did(&path.display().to_string())?;
    let vm = vm.unwrap_or_else(|| did.default_verification_method());
    let report = serde_json::json!({ "did": did, "verification_method": vm, "kid": jwk.kid });
    written(ctx.out.emit(&report, |w| writeln!(w, "{did}")))?;
    Ok(ExitCode::SUCCESS)
}

fn vkey(args: VkeyArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let path = ctx.path(&args.key);
    let (jwk, _) = Jwk::load(&path)?;
    let key = jwk.verifying_key(&path.display().to_string())?;
    let (vkey, id) = if args.witness {
        let c = msez::tlog::witness::Cosigner::new(&args.name, key)?;
        (c.vkey(), c.id)
    } else {
        let v = msez::tlog::note::Verifier::new(&args.name, key)?;
        (v.vkey(), v.id)
    };
    let report =
        serde_json::json!({ "vkey": vkey, "name": args.name, "key_id": format!("{id:08x}") });
    written(ctx.out.emit(&report, |w| writeln!(w, "{vkey}")))?;
    Ok(ExitCode::SUCCESS)
}
