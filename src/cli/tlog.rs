//! `msez tlog`: every chain as a C2SP transparency log (docs/tlog.md): its origin, signed
//! checkpoint notes, static tiles, and the client that checks a published log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::canon::{Digest, Value};
use msez::chain::store::ChainStore;
use msez::chain::{self, Kind, checkpoint, ops};
use msez::odb::Repo;
use msez::tlog::note::{Checkpoint, Note, Signer, Verifier};
use msez::tlog::tiles::Tree;
use msez::tlog::{self, client, origin, publish, witness};
use msez::vc::KeyPair;

use super::state::{self, ChainArgs, ForkArgs, Opened};
use super::{Ctx, written};

/// `msez tlog` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a chain's log origin; --set-prefix records the origin prefix in the module.
    ///
    /// Example: msez tlog origin modules/smart-assets/<asset_id> --set-prefix example.org/msez
    Origin(OriginArgs),
    /// Write the chain's current checkpoint as a C2SP signed note
    /// (state/checkpoints/checkpoint.N.note) beside the MSEZ checkpoint VC of the same size.
    ///
    /// Example: msez tlog checkpoint modules/smart-assets/<asset_id> --key operator.jwk
    Checkpoint(CheckpointArgs),
    /// Publish the chain as a tlog-tiles log: to a directory, or under tlog/... of a remote
    /// (s3://, ipfs://); incremental, the checkpoint last.
    ///
    /// Example: msez tlog publish modules/smart-assets/<asset_id> /srv/log --key operator.jwk
    Publish(PublishArgs),
    /// Check a published log: note signature, every tile against the root, chosen entries,
    /// consistency with the last checkpoint seen for its origin (a split view exits 69).
    ///
    /// Example: msez tlog verify https://example.org/log --vkey 'example.org/...+1234abcd+AQ...'
    Verify(VerifyArgs),
}

/// Which chain of a module.
#[derive(Debug, clap::Args)]
pub struct Which {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// MODULE is a corridor module (default: an asset module).
    #[arg(long)]
    pub corridor: bool,
    #[command(flatten)]
    pub forks: ForkArgs,
}

impl Which {
    fn kind(&self) -> Kind {
        if self.corridor {
            Kind::Corridor
        } else {
            Kind::Asset
        }
    }
}

/// `msez tlog origin`.
#[derive(Debug, clap::Args)]
pub struct OriginArgs {
    #[command(flatten)]
    pub which: Which,
    /// Record this origin prefix in asset.yaml (`tlog_origin_prefix`); assets only.
    #[arg(long, value_name = "PREFIX")]
    pub set_prefix: Option<String>,
}

/// `msez tlog checkpoint`.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub which: Which,
    /// The operator key: signs the note (and the MSEZ checkpoint VC when one must be made).
    #[arg(long, value_name = "KEY.jwk")]
    pub key: PathBuf,
    /// The MSEZ checkpoint VC timestamp, when one is made (default: now, or SOURCE_DATE_EPOCH).
    #[arg(long)]
    pub timestamp: Option<String>,
    /// Submit the note to a tlog-witness and add its cosignature: URL=VKEY, VKEY the witness's
    /// cosignature key (repeatable; `msez witness serve` prints it).
    #[arg(long = "witness", value_name = "URL=VKEY")]
    pub witnesses: Vec<String>,
}

/// `msez witness` subcommands.
#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Serve the tlog-witness add-checkpoint endpoint: cosign (tlog-cosignature/v1) a log's
    /// checkpoint only after its signature and the consistency proof from the size last
    /// cosigned, kept durably in --state.
    ///
    /// Example: msez witness serve --key w.jwk --name example.org/w1 --state w1/
    ///   --listen 127.0.0.1:7380 --log "$(msez key vkey --key op.jwk --name ORIGIN)"
    Serve(ServeArgs),
}

/// `msez witness serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The witness key.
    #[arg(long, value_name = "KEY.jwk")]
    pub key: PathBuf,
    /// The witness name (its cosignature key's name).
    #[arg(long, default_value = "msez-witness")]
    pub name: String,
    /// The state directory (one file per log; created).
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Where to listen, HOST:PORT (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:7380")]
    pub listen: String,
    /// A log to witness: its note verifier key, or ORIGIN=VKEY (repeatable).
    #[arg(long = "log", value_name = "[ORIGIN=]VKEY", required = true)]
    pub logs: Vec<String>,
}

/// `msez tlog publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub checkpoint: CheckpointArgs,
    /// A directory (the log's root), or s3://BUCKET/PREFIX or ipfs://HOST:PORT/NAME, or the
    /// name of a remote of the repository (its URL and settings; the log goes under
    /// tlog/asset/<asset_id>/<purpose>/ or tlog/corridor/<id>/ there).
    pub dest: String,
}

/// `msez tlog verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The log's root: a directory, file://, http(s)://, s3://BUCKET/PREFIX or ipfs://HOST:PORT/NAME.
    pub source: String,
    /// A trusted verifier key, name+keyid+base64 (repeatable; one must be named like the origin).
    #[arg(long = "vkey", value_name = "VKEY", required = true)]
    pub vkeys: Vec<String>,
    /// Prove the inclusion of entry N (repeatable).
    #[arg(long = "entry", value_name = "N")]
    pub entries: Vec<u64>,
    /// Light client: read only the tiles the --entry inclusion proofs and the consistency proof
    /// from the checkpoint seen before need, instead of the whole log.
    #[arg(long)]
    pub light: bool,
    /// Where the last checkpoint seen per origin and split-view evidence are kept (default:
    /// .msez/tlog of the enclosing repository, else ~/.msez/tlog).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

/// Runs one `msez tlog` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Origin(a) => origin_cmd(a, ctx),
        Command::Checkpoint(a) => checkpoint_cmd(a, ctx),
        Command::Publish(a) => publish_cmd(a, ctx),
        Command::Verify(a) => verify_cmd(a, ctx),
    }
}

fn open(which: &Which, ctx: &Ctx) -> super::Result<Opened> {
    let mut o = state::open(which.kind(), &which.chain, ctx)?;
    state::load_forks(&mut o, &which.forks, ctx).map_err(|e| state::fail(e, ctx))?;
    Ok(o)
}

fn origin_of(o: &Opened) -> super::Result<String> {
    let c = &o.chain;
    Ok(origin::of_module(
        &c.module_dir,
        c.kind,
        &c.owner,
        c.purpose.as_deref(),
    )?)
}

fn origin_cmd(args: OriginArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let o = open(&args.which, ctx)?;
    if let Some(prefix) = &args.set_prefix {
        origin::check_prefix(prefix)?;
        if o.chain.kind != Kind::Asset {
            return Err(msez::Error::Usage(format!(
                "--set-prefix writes asset.yaml; for a corridor, add `{}: {prefix}` to corridor.yaml",
                origin::PREFIX_KEY
            )));
        }
        let mut m = chain::module::AssetModule::open(&o.chain.module_dir, &ctx.cwd)?;
        m.set_config_keys(&[(origin::PREFIX_KEY, prefix.clone())])?;
    }
    let name = origin_of(&o)?;
    let report = serde_json::json!({ "origin": name });
    written(ctx.out.emit(&report, |w| writeln!(w, "{name}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The chain's next_roots (the log's entries) and the tree over them, checked against the
/// MMR root msez keeps for the chain.
fn entries(o: &Opened, which: &Which) -> super::Result<(chain::checkpoint::Summary, Vec<Digest>)> {
    let keys = o.opts.lifecycle.as_deref().is_some_and(|l| !l.is_empty());
    let fast = !which.chain.from_files && o.opts.resolutions.is_empty() && !keys;
    if let (Some(repo), true) = (o.repo.as_ref(), fast) {
        let summary = ops::summary(Some(repo), &o.chain, &o.opts, true)?;
        let store = ChainStore::open(repo, &o.chain.key(), o.chain.genesis_root)?;
        if store.state().size >= summary.receipt_count {
            let roots = (0..summary.receipt_count)
                .map(|i| store.next_root_at(i))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok((summary, roots));
        }
    }
    let result = ops::verify(&o.chain, &o.opts).valid()?;
    let summary = checkpoint::Summary::of(&result, o.chain.purpose.as_deref())?;
    Ok((summary, result.next_roots))
}

/// What `tlog checkpoint` made.
struct Made {
    origin: String,
    checkpoint: Checkpoint,
    note: Note,
    note_path: PathBuf,
    vc_path: PathBuf,
    verifier: Verifier,
    tree: Tree,
    next_roots: Vec<Digest>,
}

/// The MSEZ checkpoint VC of `size` in the module, if one exists with that size and root;
/// one with that size and another root is an error (the note and the VC must agree).
fn matching_vc(o: &Opened, size: u64, root: &Digest) -> super::Result<Option<PathBuf>> {
    let path = o
        .chain
        .checkpoints_dir
        .join(format!("checkpoint.{size}.json"));
    if !path.exists() {
        return Ok(None);
    }
    let ck = state::read_json(&path)?;
    let mmr = ck.get("mmr").cloned().unwrap_or_default();
    let vc_size = mmr.get("size").and_then(Value::as_u64);
    let vc_root = mmr
        .get("root")
        .and_then(Value::as_str)
        .and_then(|r| Digest::parse_loose(r).ok());
    if vc_size != Some(size) || vc_root.as_ref() != Some(root) {
        return Err(tlog::Error::Disagree {
            path,
            why: format!(
                "the VC says size {vc_size:?} root {}, the chain has size {size} root {root}",
                vc_root.map(|r| r.to_hex()).unwrap_or_default()
            ),
        }
        .into());
    }
    Ok(Some(path))
}

fn make_checkpoint(args: &CheckpointArgs, ctx: &Ctx) -> super::Result<Made> {
    let o = open(&args.which, ctx)?;
    let key = KeyPair::load(&ctx.path(&args.key))?;
    let origin = origin_of(&o)?;
    let (summary, next_roots) = entries(&o, &args.which)?;
    let tree = Tree::from_next_roots(&next_roots);
    let size = tree.size();
    if tree.root() != summary.mmr.root || size != summary.receipt_count {
        return Err(tlog::Error::RootMismatch {
            what: format!("the tree over the next_roots of {origin}"),
            expected: summary.mmr.root.to_hex(),
            found: tree.root().to_hex(),
        }
        .into());
    }
    let vc_path = match matching_vc(&o, size, &summary.mmr.root)? {
        Some(p) => p,
        None => {
            let req = ops::CheckpointRequest {
                summary: &summary,
                keys: std::slice::from_ref(&key),
                timestamp: &state::timestamp(args.timestamp.clone()),
                lifecycle: o.opts.lifecycle.as_deref(),
            };
            let (_, done) = ops::checkpoint(o.repo.as_ref(), &o.chain, req)?;
            done.path
        }
    };
    let signer = Signer::new(&origin, key.signing_key())?;
    let checkpoint = Checkpoint {
        origin: origin.clone(),
        size,
        root: tree.root(),
        extensions: Vec::new(),
    };
    let note_path = vc_path.with_extension("note");
    // Ed25519 is deterministic: the note of one size and key is the same bytes every time. The
    // cosignatures already collected for this text are kept (lines someone appended that do
    // not parse are dropped, not allowed to lose the others).
    let mut note = checkpoint.sign(&signer);
    if let Some(old) = std::fs::read(&note_path)
        .ok()
        .and_then(|b| msez::tlog::policy::parse_lenient(&b))
        .filter(|n| n.text == note.text)
    {
        let ours = note.signatures[0].clone();
        note.signatures = old.signatures;
        if !note.signatures.contains(&ours) {
            note.signatures.insert(0, ours);
        }
    }
    let mut failed = None;
    let mut collected = Vec::new();
    for w in &args.witnesses {
        let (url, vkey) = w
            .split_once('=')
            .ok_or_else(|| msez::Error::Usage(format!("--witness {w:?}: expected URL=VKEY")))?;
        let cosigner = witness::Cosigner::parse(vkey)?;
        let evidence = default_state(ctx)?.join("evidence");
        match witness::submit(url, &cosigner, &note, &checkpoint, &tree, &evidence) {
            Ok(sig) => {
                note.signatures
                    .retain(|s| !(s.name == sig.name && s.id == sig.id));
                note.signatures.push(sig.clone());
                collected.push(sig);
            }
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    chain::module::write_file(&note_path, &note.to_bytes())?;
    // The repository keeps the note beside the checkpoint it signs, so push and fetch move it
    // with the checkpoint (docs/tlog.md, "Notes over push and fetch").
    if let Some(repo) = o.repo.as_ref() {
        let ck = state::read_json(&vc_path)?;
        let id = tlog::travel::checkpoint_id(o.chain.kind, &ck);
        // A note the checkpoint's own signer did not sign is not the checkpoint's: not kept.
        let checked = tlog::travel::check_note(o.chain.kind, &ck, &note.to_bytes()).ok();
        if let (Some(id), Some(checked)) = (id, checked) {
            // Kept there: the lines verified now (each cosignature with the vkey it was
            // collected with) and the module note's lines the chain's policy here verifies;
            // nothing else enters the repository (docs/tlog.md, "Notes over push and fetch").
            let (mut kept, _) = tlog::travel::admit(repo, &checked, "");
            for sig in collected {
                if !kept.signatures.contains(&sig) {
                    kept.signatures.push(sig);
                }
            }
            tlog::travel::store(repo, &id, &kept)?;
        }
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(Made {
        origin,
        checkpoint,
        note,
        note_path,
        vc_path,
        verifier: signer.verifier().clone(),
        tree,
        next_roots,
    })
}

fn checkpoint_cmd(args: CheckpointArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let m = make_checkpoint(&args, ctx)?;
    let report = serde_json::json!({
        "origin": m.origin,
        "size": m.checkpoint.size,
        "root": m.checkpoint.root,
        "note": m.note_path,
        "checkpoint_vc": m.vc_path,
        "vkey": m.verifier.vkey(),
    });
    written(
        ctx.out
            .emit(&report, |w| writeln!(w, "{}", m.note_path.display())),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn publish_cmd(args: PublishArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let m = make_checkpoint(&args.checkpoint, ctx)?;
    // DEST may name a remote of the enclosing repository (as git takes a name or a URL):
    // then its URL and its settings (endpoint, profile, atomic If-Match...) apply.
    let named = super::repo::open_repo(ctx)
        .ok()
        .and_then(|r| r.config().remote.get(&args.dest).cloned());
    let (url, settings) = match &named {
        Some(entry) => (
            msez::remote::Url::parse(&entry.url, &ctx.cwd)?,
            msez::remote::aws::Settings::from_config(entry)?,
        ),
        None => (
            msez::remote::Url::parse(&args.dest, &ctx.cwd)?,
            msez::remote::aws::Settings::default(),
        ),
    };
    let prefix = match &url {
        msez::remote::Url::Local(_) => String::new(),
        _ => {
            let c = &args.checkpoint.which;
            let o = open(c, ctx)?;
            publish::remote_prefix(o.chain.kind, &o.chain.owner, o.chain.purpose.as_deref())
        }
    };
    let backend = msez::remote::open_with(&url, msez::remote::Retry::default(), &settings)?;
    // What this publisher wrote there last time (docs/tlog.md, "Request counts"): kept in
    // the state directory `tlog verify` uses; none without one.
    let memory = default_state(ctx)
        .ok()
        .map(|state| publish::memory_path(&state, &backend.url(), &prefix));
    let done = publish::publish(
        backend.as_ref(),
        &prefix,
        &m.tree,
        &m.next_roots,
        &m.note,
        &m.verifier,
        memory.as_deref(),
    )?;
    let log = format!("{}/{}", backend.url(), prefix.trim_end_matches('/'));
    let log = log.trim_end_matches('/').to_string();
    let report = serde_json::json!({
        "origin": m.origin,
        "log": log,
        "vkey": m.verifier.vkey(),
        "note": m.note_path,
        "published": done,
    });
    written(ctx.out.emit(&super::sync::with_traffic(&report, ctx), |w| {
        writeln!(
            w,
            "published {} size {} (was {}): {} tiles written, {} already there -> {log}",
            m.origin, done.size, done.old_size, done.tiles_written, done.tiles_present
        )
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn default_state(ctx: &Ctx) -> super::Result<PathBuf> {
    if let Some(repo) = Repo::find(&ctx.cwd)? {
        return Ok(repo.dir().join("tlog"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| {
        msez::Error::Usage("no repository here and no HOME: pass --state DIR".into())
    })?;
    Ok(Path::new(&home).join(".msez").join("tlog"))
}

fn verify_cmd(args: VerifyArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let verifiers = args
        .vkeys
        .iter()
        .map(|v| Verifier::parse(v))
        .collect::<Result<Vec<_>, _>>()?;
    let dir = match &args.state {
        Some(p) => ctx.path(p),
        None => default_state(ctx)?,
    };
    let src = client::open_source(&args.source, &ctx.cwd)?;
    let check = if args.light {
        client::verify_light
    } else {
        client::verify
    };
    let v = check(
        src.as_ref(),
        &verifiers,
        &args.entries,
        &client::Seen::new(dir),
    )?;
    // Every failure is named; the error document lists them all (docs/verdicts.md).
    if let Some(refused) = msez::verdict::Refused::new(v.findings.clone()) {
        return Err(refused.into());
    }
    if v.stale {
        ctx.out.note(format_args!(
            "warning: {} shows size {}, older than the size {} seen before (kept)",
            src.describe(),
            v.size,
            v.previous.map(|p| p.0).unwrap_or_default()
        ));
    }
    written(ctx.out.emit(&v, |w| {
        writeln!(
            w,
            "valid: {} size {} root {} ({} tiles read, {} entries checked)",
            v.origin, v.size, v.root, v.tiles_checked, v.entries_checked
        )?;
        if let Some((size, root)) = v.previous {
            writeln!(
                w,
                "consistent with the checkpoint seen before: size {size} root {root}"
            )?;
        }
        for i in &v.inclusions {
            writeln!(w, "entry {}: {} included", i.index, i.entry)?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs one `msez witness` subcommand.
pub fn run_witness(command: WitnessCommand, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        WitnessCommand::Serve(a) => serve(a, ctx),
    }
}

fn serve(args: ServeArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let key = KeyPair::load(&ctx.path(&args.key))?;
    let logs = args
        .logs
        .iter()
        .map(|l| {
            let (origin, vkey) = match l.split_once('=') {
                Some((o, v)) if !o.contains('+') => (Some(o), v),
                _ => (None, l.as_str()),
            };
            let v = Verifier::parse(vkey)?;
            if origin.is_some_and(|o| o != v.name) {
                return Err(msez::Error::Usage(format!(
                    "--log {l:?}: the vkey is named {:?}, not the origin",
                    v.name
                )));
            }
            Ok(v)
        })
        .collect::<super::Result<Vec<_>>>()?;
    let w = witness::Witness::new(
        &args.name,
        key.signing_key().clone(),
        logs,
        ctx.path(&args.state),
    )?;
    let listener = std::net::TcpListener::bind(&args.listen)
        .map_err(|e| msez::Error::io("listening on", &args.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| msez::Error::io("listening on", &args.listen, e))?;
    let vkey = w.cosigner().vkey();
    let report = serde_json::json!({ "listen": addr.to_string(), "vkey": vkey });
    written(ctx.out.emit(&report, |w| {
        writeln!(w, "listening on http://{addr}")?;
        writeln!(w, "{vkey}")
    }))?;
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    w.serve(listener)?;
    Ok(ExitCode::SUCCESS)
}
