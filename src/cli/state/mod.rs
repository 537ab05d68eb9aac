//! `msez asset state ...` and `msez corridor state ...`: one set of verbs over any chain.
//!
//! The family files (`asset.rs`, `corridor.rs`) resolve MODULE into an [`ops::Chain`]; this
//! file parses the shared flags, calls [`ops`], and renders the results.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::canon::{self, Digest, Value};
use msez::chain::anchor::{self, AttachKind};
use msez::chain::lifecycle::{Lifecycle, Trust};
use msez::chain::ops::{self, Chain};
use msez::chain::receipt::{Draft, normalize_set};
use msez::chain::transition_types::Lock;
use msez::chain::verify::{self, ChainResult};
use msez::chain::{self, Kind, checkpoint, envelope, fork, harbor, inclusion, registry};
use msez::odb::Repo;
use msez::tlog::policy;
use msez::vc::{KeyPair, TrustAnchors};

use super::{Ctx, written};

/// Options shared by the commands that read a chain.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    /// The module directory, or its asset_id / corridor id.
    pub module: PathBuf,
    /// The chain purpose (assets only; default: the module's first).
    #[arg(long)]
    pub purpose: Option<String>,
    /// Trust anchors: receipt signers must include an anchor allowing smart_asset_receipt /
    /// corridor_receipt (default: the module's trust_anchors_path, when set).
    #[arg(long)]
    pub trust_anchors: Option<PathBuf>,
    /// Rebuild from the module's receipts even when .msez holds the chain state.
    #[arg(long)]
    pub from_files: bool,
}

/// Which fork resolutions selection may use (msez-wire-format.md §8; docs/forks.md).
#[derive(Debug, Default, clap::Args)]
pub struct ForkArgs {
    /// Fork resolutions: a folder of *.json or one file (default: the module's
    /// state/fork-resolutions/; a missing folder is empty).
    #[arg(long)]
    pub fork_resolutions: Option<PathBuf>,
    /// Also count unsigned resolutions and those not signed by an anchor allowed
    /// fork_resolution (the reference's behaviour, for old data).
    #[arg(long)]
    pub allow_unsigned_fork_resolutions: bool,
}

/// Typed attachments for receipt-init (msez-wire-format.md §10.1; docs/anchoring.md).
#[derive(Debug, Default, clap::Args)]
pub struct AttachArgs {
    /// Attach a SmartAssetReceiptChainCheckpoint (repeatable): anchors that asset chain's head.
    #[arg(long = "attach-smart-asset-receipt-checkpoint", value_name = "FILE")]
    pub receipt_checkpoints: Vec<PathBuf>,
    /// Attach a SmartAssetCheckpoint (state root; repeatable).
    #[arg(long = "attach-smart-asset-checkpoint", value_name = "FILE")]
    pub state_checkpoints: Vec<PathBuf>,
    /// Attach an MSEZCorridorStateCheckpoint (repeatable).
    #[arg(long = "attach-corridor-checkpoint", value_name = "FILE")]
    pub corridor_checkpoints: Vec<PathBuf>,
    /// Attach a proof binding (repeatable).
    #[arg(long = "attach-proof-binding", value_name = "FILE")]
    pub proof_bindings: Vec<PathBuf>,
    /// Attach a settlement anchor (repeatable).
    #[arg(long = "attach-settlement-anchor", value_name = "FILE")]
    pub settlement_anchors: Vec<PathBuf>,
    /// Attach an MSEZRuleEvaluationEvidence (repeatable; its transition_kind must be the
    /// transition's).
    #[arg(long = "attach-rule-eval-evidence", value_name = "FILE")]
    pub rule_eval_evidence: Vec<PathBuf>,
}

impl AttachArgs {
    fn files(&self) -> Vec<(AttachKind, &PathBuf)> {
        let groups = [
            (
                AttachKind::SmartAssetReceiptCheckpoint,
                &self.receipt_checkpoints,
            ),
            (AttachKind::SmartAssetCheckpoint, &self.state_checkpoints),
            (AttachKind::CorridorCheckpoint, &self.corridor_checkpoints),
            (AttachKind::ProofBinding, &self.proof_bindings),
            (AttachKind::SettlementAnchor, &self.settlement_anchors),
            (AttachKind::RuleEvalEvidence, &self.rule_eval_evidence),
        ];
        groups
            .into_iter()
            .flat_map(|(k, files)| files.iter().map(move |f| (k, f)))
            .collect()
    }
}

/// The verbs every chain has.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum StateCommand {
    /// Append receipts (signed with --key) to a chain, as one transaction.
    ReceiptInit {
        #[command(flatten)]
        chain: ChainArgs,
        /// The transition (default: the reference's noop transition of the chain's kind).
        #[arg(long, conflicts_with = "batch")]
        transition: Option<PathBuf>,
        /// Many transitions, one JSON document per line, appended as one transaction.
        #[arg(long)]
        batch: Option<PathBuf>,
        /// A signing key (repeatable; corridor receipts must be signed).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
        /// Append without --key, as the reference writes asset receipts (msez verify rejects
        /// unsigned receipts; without this flag no --key is refused, exit 64).
        #[arg(long, conflicts_with = "keys")]
        unsigned: bool,
        /// Refuse (conflict) unless the chain's head is this next_root (`genesis`: empty chain).
        #[arg(long)]
        expect_head: Option<String>,
        /// The receipt timestamp (default: now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        timestamp: Option<String>,
        /// A lawpack digest (repeatable; default: none for assets, the corridor's set).
        #[arg(long = "lawpack-digest")]
        lawpack_digests: Vec<String>,
        /// A ruleset digest (repeatable; default: none for assets, the corridor's set).
        #[arg(long = "ruleset-digest")]
        ruleset_digests: Vec<String>,
        /// all_active, subset or quorum (assets).
        #[arg(long, value_parser = ["all_active", "subset", "quorum"])]
        jurisdiction_scope: Option<String>,
        /// A harbor id (repeatable; assets).
        #[arg(long = "harbor-id")]
        harbor_ids: Vec<String>,
        /// The harbor quorum the receipt claims (assets).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        harbor_quorum: Option<u64>,
        #[command(flatten)]
        attach: AttachArgs,
        /// Pin this transition-type lock in every receipt (its kinds and digests must fit).
        #[arg(long)]
        transition_types_lock: Option<PathBuf>,
    },
    /// Verify a chain (every check of the reference, in order).
    Verify {
        #[command(flatten)]
        chain: ChainArgs,
        /// Also check this checkpoint against the verified chain.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        forks: ForkArgs,
        /// Every receipt must pin this transition-type lock and fit it.
        #[arg(long)]
        transition_types_lock: Option<PathBuf>,
    },
    /// Write a signed checkpoint of a chain.
    Checkpoint {
        #[command(flatten)]
        chain: ChainArgs,
        /// A signing key (repeatable).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
        /// The checkpoint timestamp (default: now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        timestamp: Option<String>,
        #[command(flatten)]
        forks: ForkArgs,
    },
    /// Write the inclusion proof of one receipt.
    InclusionProof {
        #[command(flatten)]
        chain: ChainArgs,
        /// The receipt's sequence.
        #[arg(long)]
        sequence: u64,
        /// Tie the proof to this checkpoint (default: the one in state/checkpoints/ covering the chain).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Write here (default: the module's state/proofs/).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        forks: ForkArgs,
    },
    /// Verify an inclusion proof of a receipt (offline; no repository needed).
    VerifyInclusion {
        /// The receipt.
        #[arg(long)]
        receipt: PathBuf,
        /// The inclusion proof.
        #[arg(long)]
        proof: PathBuf,
        /// The checkpoint the proof is tied to.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Trust anchors for the receipt and checkpoint signers.
        #[arg(long)]
        trust_anchors: Option<PathBuf>,
    },
    /// Prove (RFC 9162) that the chain at --old receipts is a prefix of the chain at --new.
    ConsistencyProof {
        #[command(flatten)]
        chain: ChainArgs,
        /// The older size (e.g. an earlier checkpoint's receipt_count).
        #[arg(long)]
        old: u64,
        /// The newer size (default: the whole chain).
        #[arg(long)]
        new: Option<u64>,
    },
    /// Add a (late) signature to a receipt: a new proof file in .msez, the module file rewritten.
    Cosign {
        #[command(flatten)]
        chain: ChainArgs,
        /// The receipt's sequence.
        #[arg(long)]
        sequence: u64,
        /// A signing key (repeatable).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        #[command(flatten)]
        forks: ForkArgs,
    },
    /// Write a fork-resolution credential choosing one branch at a fork point, signed with --key.
    #[command(alias = "fork-resolution-init")]
    ForkResolve {
        #[command(flatten)]
        chain: ChainArgs,
        /// The contested sequence.
        #[arg(long)]
        sequence: u64,
        /// The contested prev_root (`genesis`: the chain's genesis root).
        #[arg(long)]
        prev_root: String,
        /// The next_root of the branch to keep.
        #[arg(long)]
        chosen_next_root: String,
        /// A candidate next_root to record (repeatable; optional).
        #[arg(long = "candidate")]
        candidates: Vec<String>,
        /// A signing key (repeatable; unsigned resolutions count only with
        /// --allow-unsigned-fork-resolutions).
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
        /// The issuer (default: the first key's DID).
        #[arg(long)]
        issuer: Option<String>,
        /// Write here (default: the module's state/fork-resolutions/).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Build fork evidence from two contradicting checkpoints, or check one (--verify); offline.
    ForkEvidence {
        /// The first checkpoint.
        #[arg(required_unless_present = "verify", requires = "ck2")]
        ck1: Option<PathBuf>,
        /// The second checkpoint.
        ck2: Option<PathBuf>,
        /// An inclusion proof tied to the first checkpoint.
        #[arg(long, requires = "proof2")]
        proof1: Option<PathBuf>,
        /// An inclusion proof of the same leaf index tied to the second.
        #[arg(long, requires = "proof1")]
        proof2: Option<PathBuf>,
        /// Check this evidence file instead of building one.
        #[arg(long, conflicts_with_all = ["ck1", "proof1"])]
        verify: Option<PathBuf>,
        /// Checkpoint signers must include an anchor allowing the checkpoint attestations.
        #[arg(long)]
        trust_anchors: Option<PathBuf>,
        /// Write the evidence here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Report fork points, candidates, signers, resolutions and the canonical head (exit 0).
    ForkInspect {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(flatten)]
        forks: ForkArgs,
        /// json (the §8.3 report) or dot (a Graphviz picture of the branches).
        #[arg(long, default_value = "json", value_parser = ["json", "dot"])]
        format: String,
    },
}

/// A chain resolved from MODULE, with the repository enclosing it and its verify options.
pub struct Opened {
    /// The chain.
    pub chain: Chain,
    /// The repository enclosing the module, if any.
    pub repo: Option<Repo>,
    /// Verify options (trust anchors).
    pub opts: verify::Options,
}

/// Resolves MODULE into a chain of `kind`.
pub fn open(kind: Kind, args: &ChainArgs, ctx: &Ctx) -> super::Result<Opened> {
    let module = ctx.path(&args.module);
    let mut asset_module = None;
    let (chain, anchors) = match kind {
        Kind::Asset => {
            let m = chain::module::AssetModule::open(&module, &ctx.cwd)?;
            let c = (m.chain(args.purpose.as_deref())?, m.trust_anchors_path());
            asset_module = Some(m);
            c
        }
        Kind::Corridor => {
            if args.purpose.is_some() {
                return Err(msez::Error::Usage(
                    "--purpose applies to asset chains only".into(),
                ));
            }
            let m = chain::corridor::CorridorModule::open(&args.module, &ctx.cwd)?;
            (m.chain(), m.trust_anchors_path())
        }
    };
    let repo = Repo::find(&chain.module_dir)?;
    let anchors = args.trust_anchors.as_ref().map(|p| ctx.path(p)).or(anchors);
    let (trust_anchors, lifecycle) = match anchors {
        Some(p) => {
            let (a, l) = chain::lifecycle::load_anchors(&p, repo.as_ref())?;
            (Some(a), l)
        }
        None => (None, None),
    };
    if let (Some(l), false) = (&lifecycle, ctx.out.json) {
        for w in l.warnings() {
            ctx.out.warn(w);
        }
    }
    // Assets judge harbor signatures by the pinned registry policy, else by each receipt's
    // own jurisdiction fields; either way only anchors naming a harbor_id count.
    let harbors = match &asset_module {
        Some(m) => Some(std::sync::Arc::new(harbor::Harbors {
            policy: registry::pinned(m, trust_anchors.as_ref())?,
            anchors: trust_anchors.clone(),
            ..harbor::Harbors::default()
        })),
        None => None,
    };
    Ok(Opened {
        chain,
        repo,
        opts: verify::Options {
            trust_anchors,
            harbors,
            // Only `verify` judges pending harbor quorums: checkpoints, proofs and co-signing
            // go on while a harbor is offline (history never waits for it).
            pending_ok: true,
            lifecycle,
            ..Default::default()
        },
    })
}

/// Loads the fork resolutions `args` name into `o.opts` and prints the loader's warnings.
pub fn load_forks_report(o: &mut Opened, args: &ForkArgs, ctx: &Ctx) -> fork::Loaded {
    let dir = args
        .fork_resolutions
        .as_ref()
        .map(|p| ctx.path(p))
        .unwrap_or_else(|| o.chain.forks_dir.clone());
    let mut loaded = fork::load(
        &o.chain,
        &dir,
        fork::Policy {
            anchors: o.opts.trust_anchors.as_ref(),
            lifecycle: o.opts.lifecycle.as_deref(),
            allow_unsigned: args.allow_unsigned_fork_resolutions,
        },
    );
    if args.fork_resolutions.is_some() && !dir.exists() {
        // Only the module's own folder may be missing; a named one that is not there is a typo.
        loaded.warnings.push(format!(
            "--fork-resolutions {} does not exist: no resolutions loaded",
            dir.display()
        ));
    }
    o.opts.resolutions = loaded.resolutions.clone();
    if !ctx.out.json {
        for w in &loaded.warnings {
            ctx.out.warn(w);
        }
    }
    loaded
}

/// Like [`load_forks_report`], but bad resolution files and conflicts are the errors.
pub fn load_forks(
    o: &mut Opened,
    args: &ForkArgs,
    ctx: &Ctx,
) -> Result<fork::Loaded, Vec<chain::Error>> {
    let mut loaded = load_forks_report(o, args, ctx);
    if loaded.errors.is_empty() {
        Ok(loaded)
    } else {
        Err(std::mem::take(&mut loaded.errors))
    }
}

/// Loads a trust-anchors file for an offline check, with the key credentials it references
/// (those referenced by digest from the repository enclosing the working directory, if any).
pub fn load_trust(
    path: &Path,
    ctx: &Ctx,
) -> super::Result<(TrustAnchors, Option<std::sync::Arc<Lifecycle>>)> {
    let repo = Repo::find(&ctx.cwd)?;
    let (anchors, lifecycle) = chain::lifecycle::load_anchors(&ctx.path(path), repo.as_ref())?;
    if let (Some(l), false) = (&lifecycle, ctx.out.json) {
        for w in l.warnings() {
            ctx.out.warn(w);
        }
    }
    Ok((anchors, lifecycle))
}

/// Refuses signing keys the key lifecycle revokes, before anything is written; `what` names
/// the new object (`receipt`, `checkpoint`, ...).
fn refuse_revoked(o: &Opened, keys: &[KeyPair], what: &str) -> Result<(), chain::Error> {
    let Some(l) = &o.opts.lifecycle else {
        return Ok(());
    };
    let c = &o.chain;
    let object = format!(
        "new {what} of {}",
        chain::lifecycle::ChainId::new(c.kind, &c.owner, c.purpose.as_deref())
    );
    keys.iter()
        .try_for_each(|k| l.refuse_revoked(&object, &k.did()))
}

/// Whether to read the chain state in `.msez`: it follows the head ref, which a resolution
/// may not, so counted resolutions force the (reference's) path over the module's files; so
/// do key rotations and revocations, which only a verified chain can enforce.
fn fast(args: &ChainArgs, o: &Opened) -> bool {
    let keys = o.opts.lifecycle.as_deref().is_some_and(|l| !l.is_empty());
    !args.from_files && o.opts.resolutions.is_empty() && !keys
}

/// Reads and parses a JSON file (exact integers, floats rejected).
pub fn read_json(path: &Path) -> super::Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| msez::Error::io("reading", path, e))?;
    canon::parse(&bytes).map_err(|e| {
        chain::Error::Parse {
            path: path.to_path_buf(),
            source: e,
        }
        .into()
    })
}

/// Loads signing keys.
pub fn load_keys(paths: &[PathBuf], ctx: &Ctx) -> super::Result<Vec<KeyPair>> {
    paths
        .iter()
        .map(|p| KeyPair::load(&ctx.path(p)).map_err(msez::Error::from))
        .collect()
}

/// The given timestamp, or now (SOURCE_DATE_EPOCH honoured).
pub fn timestamp(given: Option<String>) -> String {
    given.unwrap_or_else(msez::vc::proof::now_utc)
}

/// The first of several errors becomes the command's error; the rest are printed first.
pub fn fail(errors: Vec<chain::Error>, ctx: &Ctx) -> msez::Error {
    if errors.len() > 1 && !ctx.out.json {
        for e in &errors[1..] {
            eprintln!("msez: also: {e}");
        }
    }
    errors
        .into_iter()
        .next()
        .expect("at least one error")
        .into()
}

/// The drafts of a `--batch` file (one transition per non-empty line), made on two threads: a
/// large batch's parsing and checks would otherwise delay the append's pipeline. The first
/// bad line (in file order) is the error.
fn batch_drafts(
    path: &Path,
    make: &(dyn Fn(&Value) -> Result<Draft, chain::Error> + Sync),
) -> super::Result<Vec<Draft>> {
    let text = std::fs::read_to_string(path).map_err(|e| msez::Error::io("reading", path, e))?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let drafts = |part: &[(usize, &str)]| -> Result<Vec<Draft>, chain::Error> {
        part.iter()
            .map(|(i, l)| {
                let t = canon::parse(l.as_bytes()).map_err(|e| chain::Error::Parse {
                    path: PathBuf::from(format!("{}:{}", path.display(), i + 1)),
                    source: e,
                })?;
                make(&t)
            })
            .collect()
    };
    let (first, second) = lines.split_at(lines.len() / 2);
    let (mut out, rest) = std::thread::scope(|s| {
        let rest = s.spawn(|| drafts(second));
        let out = drafts(first);
        (
            out,
            rest.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    if let Ok(out) = &mut out {
        out.extend(rest?);
    }
    Ok(out?)
}

fn digest_set(
    given: &[String],
    default: Option<&Vec<Digest>>,
) -> Result<Vec<Digest>, chain::Error> {
    if given.is_empty() {
        return Ok(default.cloned().unwrap_or_default());
    }
    normalize_set(
        &given
            .iter()
            .map(|s| Value::String(s.clone()))
            .collect::<Vec<_>>(),
    )
}

/// Reads every `--attach-*` file into (kind, document, attachment); the attached documents are
/// stored in `.msez` too. URIs are relative to the module whose receipts carry them.
fn attachments(
    args: &AttachArgs,
    chain: &Chain,
    repo: Option<&Repo>,
    ctx: &Ctx,
) -> super::Result<Vec<(AttachKind, Value, Value)>> {
    let mut out = Vec::new();
    for (kind, file) in args.files() {
        let path = ctx.path(file);
        let doc = read_json(&path)?;
        let uri = anchor::relative_uri(&path, &chain.module_dir);
        let att = anchor::attachment(kind, &doc, &uri)?;
        if let Some(repo) = repo {
            let t = msez::artifact::ArtifactType::new(kind.artifact_type()).expect("valid type");
            if kind != AttachKind::SmartAssetCheckpoint {
                repo.put_json(&t, &doc)?;
            }
        }
        out.push((kind, doc, att));
    }
    Ok(out)
}

/// The checkpoint in `dir` covering exactly `size` receipts, if any.
fn covering_checkpoint(dir: &Path, size: u64) -> super::Result<Option<PathBuf>> {
    let exact = dir.join(format!("checkpoint.{size}.json"));
    if exact.is_file() {
        return Ok(Some(exact));
    }
    let count = |p: &PathBuf| {
        std::fs::read(p)
            .ok()
            .and_then(|b| canon::parse(&b).ok())
            .and_then(|v| v.get("receipt_count").and_then(Value::as_u64))
    };
    Ok(chain::receipt::json_files(dir)?
        .into_iter()
        .filter(|p| count(p) == Some(size))
        .max())
}

/// The chain's name in verify reports: `ASSET STATE` or `STATE` (the reference's prefixes).
fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "ASSET STATE",
        Kind::Corridor => "STATE",
    }
}

/// Runs one state verb on a chain of `kind`.
pub fn run(kind: Kind, cmd: StateCommand, ctx: &Ctx) -> super::Result<ExitCode> {
    match cmd {
        StateCommand::ReceiptInit {
            chain,
            transition,
            batch,
            keys,
            unsigned,
            expect_head,
            timestamp: ts,
            lawpack_digests,
            ruleset_digests,
            jurisdiction_scope,
            harbor_ids,
            harbor_quorum,
            attach,
            transition_types_lock,
        } => {
            let o = open(kind, &chain, ctx)?;
            if kind == Kind::Corridor
                && (jurisdiction_scope.is_some()
                    || !harbor_ids.is_empty()
                    || harbor_quorum.is_some())
            {
                return Err(msez::Error::Usage("--jurisdiction-scope, --harbor-id and --harbor-quorum apply to asset receipts only".into()));
            }
            if kind == Kind::Corridor && keys.is_empty() {
                return Err(msez::Error::Usage(
                    "corridor receipts must be signed: give at least one --key".into(),
                ));
            }
            let repo = o
                .repo
                .as_ref()
                .ok_or_else(|| msez::odb::Error::NotARepository {
                    start: o.chain.module_dir.clone(),
                })?;
            let keys = load_keys(&keys, ctx)?;
            refuse_revoked(&o, &keys, "receipt")?;
            let expected = o.chain.expected_sets.as_ref();
            let base = Draft {
                transition: Value::Null,
                timestamp: timestamp(ts),
                lawpack_digest_set: digest_set(&lawpack_digests, expected.map(|s| &s.0))?,
                ruleset_digest_set: digest_set(&ruleset_digests, expected.map(|s| &s.1))?,
                jurisdiction_scope,
                harbor_ids,
                harbor_quorum,
                registry_digest: None,
            };
            let lock = transition_types_lock
                .map(|p| Lock::load(&ctx.path(&p)))
                .transpose()?;
            let base = Draft {
                registry_digest: lock.as_ref().map(|l| l.digest),
                ..base
            };
            let attachments = attachments(&attach, &o.chain, o.repo.as_ref(), ctx)?;
            let make = |t: &Value| -> Result<Draft, chain::Error> {
                let mut transition = envelope::load(t)?;
                for (kind, doc, att) in &attachments {
                    if *kind == AttachKind::RuleEvalEvidence {
                        anchor::check_evidence_fits(doc, &transition)?;
                    }
                    anchor::add(&mut transition, att.clone())?;
                }
                anchor::check_transition_attachments(&transition, Path::new("--transition"))?;
                if let Some(lock) = &lock {
                    lock.check_transition(&transition, Path::new("--transition"))?;
                }
                Ok(Draft {
                    transition,
                    ..base.clone()
                })
            };
            let drafts = match (&transition, &batch) {
                (Some(t), _) => vec![make(&read_json(&ctx.path(t))?)?],
                (None, Some(b)) => batch_drafts(&ctx.path(b), &make)?,
                (None, None) => vec![make(&match kind {
                    Kind::Asset => envelope::default_asset_transition(),
                    Kind::Corridor => envelope::default_corridor_transition(),
                })?],
            };
            let expect = match expect_head.as_deref() {
                None => None,
                Some("genesis") => Some(None),
                Some(h) => Some(Some(chain::names::digest_of(
                    repo,
                    &msez::artifact::ArtifactType::new(kind.receipt_artifact())?,
                    h,
                )?)),
            };
            let appended = ops::append(repo, &o.chain, &drafts, &keys, expect, unsigned)?;
            written(ctx.out.emit(&appended, |w| {
                for (seq, root, path) in &appended.receipts {
                    writeln!(w, "{seq} {root} {}", path.display())?;
                }
                Ok(())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Verify {
            chain,
            checkpoint,
            forks,
            transition_types_lock,
        } => {
            let mut o = open(kind, &chain, ctx)?;
            o.opts.pending_ok = false;
            o.opts.transition_types = transition_types_lock
                .map(|p| Lock::load(&ctx.path(&p)).map(std::sync::Arc::new))
                .transpose()?;
            let loaded = load_forks(&mut o, &forks, ctx);
            let mut notes = loaded
                .as_ref()
                .map(|l| l.warnings.clone())
                .unwrap_or_default();
            if let Some(l) = &o.opts.lifecycle {
                notes.extend(l.warnings());
            }
            let outcome = match loaded {
                Ok(_) => ops::verify_all(&o.chain, &o.opts),
                Err(errors) => verify::Outcome {
                    result: None,
                    errors,
                },
            };
            let mut extra = msez::verdict::Findings::default();
            let mut errors = outcome.errors;
            if let Some(ck) = &checkpoint {
                errors.extend(check_checkpoint_all(
                    &o,
                    &ctx.path(ck),
                    outcome.result.as_ref(),
                    &mut extra,
                ));
                complete_up_to(&mut errors, &mut extra, &ctx.path(ck));
            }
            let witness = witness_policy(&o, outcome.result.as_ref(), &mut extra, &mut notes);
            report_verify(outcome.result, errors, extra, notes, witness, &o, ctx)
        }
        StateCommand::Checkpoint {
            chain,
            keys,
            timestamp: ts,
            forks,
        } => {
            let mut o = open(kind, &chain, ctx)?;
            load_forks(&mut o, &forks, ctx).map_err(|e| fail(e, ctx))?;
            let keys = load_keys(&keys, ctx)?;
            refuse_revoked(&o, &keys, "checkpoint")?;
            let summary = ops::summary(o.repo.as_ref(), &o.chain, &o.opts, fast(&chain, &o))
                .map_err(|e| fail(e, ctx))?;
            let (_, done) =
                ops::checkpoint(o.repo.as_ref(), &o.chain, &summary, &keys, &timestamp(ts))?;
            written(ctx.out.emit(&done, |w| {
                writeln!(
                    w,
                    "{}:{} {}",
                    kind.checkpoint_artifact(),
                    done.digest,
                    done.path.display()
                )
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::InclusionProof {
            chain,
            sequence,
            checkpoint,
            out,
            forks,
        } => {
            let mut o = open(kind, &chain, ctx)?;
            load_forks(&mut o, &forks, ctx).map_err(|e| fail(e, ctx))?;
            let proof = ops::prove(
                o.repo.as_ref(),
                &o.chain,
                sequence,
                &o.opts,
                fast(&chain, &o),
            )
            .map_err(|e| fail(e, ctx))?;
            let ck_path = match checkpoint {
                Some(p) => Some(ctx.path(&p)),
                None => covering_checkpoint(&o.chain.checkpoints_dir, proof.size)?,
            };
            let ck = ck_path.as_ref().map(|p| read_json(p)).transpose()?;
            let uri = ck_path.as_ref().map(|p| {
                p.strip_prefix(&o.chain.module_dir)
                    .unwrap_or(p)
                    .display()
                    .to_string()
            });
            let anchor = ck
                .as_ref()
                .zip(uri.as_deref())
                .map(|(checkpoint, uri)| inclusion::Anchor { checkpoint, uri });
            let doc = inclusion::build(
                kind,
                &o.chain.owner,
                &proof,
                anchor.as_ref(),
                &msez::vc::proof::now_utc(),
            )?;
            let name = match kind {
                Kind::Asset => format!("inclusion.{sequence}.json"),
                Kind::Corridor => format!("corridor.inclusion-proof.{sequence}.json"),
            };
            let out = out
                .map(|p| ctx.path(&p))
                .unwrap_or_else(|| o.chain.proofs_dir.join(name));
            chain::module::write_pretty(&out, &doc)?;
            let value = serde_json::json!({"path": out, "leaf_index": sequence, "size": proof.size, "root": proof.root, "checkpoint": ck_path});
            written(ctx.out.emit(&value, |w| writeln!(w, "{}", out.display())))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::VerifyInclusion {
            receipt,
            proof,
            checkpoint,
            trust_anchors,
        } => {
            let r = read_json(&ctx.path(&receipt))?;
            let p = read_json(&ctx.path(&proof))?;
            let ck = checkpoint.map(|c| read_json(&ctx.path(&c))).transpose()?;
            let trust = trust_anchors.map(|t| load_trust(&t, ctx)).transpose()?;
            let trust = trust.as_ref().map(|(a, l)| Trust::new(a, l.as_deref()));
            // Every check runs (docs/verdicts.md): the reference's `FAIL: ...` line is printed
            // for each failure, the first one first.
            let report = inclusion::check(kind, &r, &p, ck.as_ref(), trust);
            let findings = report.findings();
            let code = findings.exit_code();
            let items = findings.items();
            let mut value = serde_json::json!({
                "ok": findings.is_empty(),
                "verdict": findings.verdict(),
                "exit_code": code,
                "findings": items,
                "computed": report.computed,
            });
            if let Some(first) = findings.0.first() {
                value["error"] = serde_json::to_value(first).unwrap_or_default();
            }
            if ctx.out.json {
                written(ctx.out.emit(&value, |_| Ok(())))?;
            } else if findings.is_empty() {
                written(ctx.out.emit(&value, |w| writeln!(w, "OK")))?;
            } else {
                for f in &findings.0 {
                    eprintln!("FAIL: {}", f.message);
                }
            }
            Ok(ExitCode::from(code))
        }
        StateCommand::ConsistencyProof { chain, old, new } => {
            let o = open(kind, &chain, ctx)?;
            let repo = o
                .repo
                .as_ref()
                .ok_or_else(|| msez::odb::Error::NotARepository {
                    start: o.chain.module_dir.clone(),
                })?;
            let c = ops::consistency(repo, &o.chain, old, new)?;
            written(ctx.out.emit(&c, |w| {
                serde_json::to_writer(&mut *w, &c.proof).map_err(std::io::Error::other)?;
                writeln!(w)
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Cosign {
            chain,
            sequence,
            keys,
            forks,
        } => {
            let mut o = open(kind, &chain, ctx)?;
            load_forks(&mut o, &forks, ctx).map_err(|e| fail(e, ctx))?;
            let keys = load_keys(&keys, ctx)?;
            refuse_revoked(&o, &keys, "cosignature")?;
            let (path, added) = ops::cosign(o.repo.as_ref(), &o.chain, sequence, &keys, &o.opts)
                .map_err(|e| fail(e, ctx))?;
            let value =
                serde_json::json!({"path": path, "sequence": sequence, "proofs_added": added});
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "{} (+{added} proof(s))", path.display())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::ForkResolve {
            chain,
            sequence,
            prev_root,
            chosen_next_root,
            candidates,
            keys,
            issuer,
            out,
        } => {
            let o = open(kind, &chain, ctx)?;
            let keys = load_keys(&keys, ctx)?;
            refuse_revoked(&o, &keys, "fork resolution")?;
            let issuer = match (issuer, keys.first()) {
                (Some(i), _) => i,
                (None, Some(k)) => k.did().to_string(),
                (None, None) => {
                    return Err(msez::Error::Usage(
                        "give --key to sign the resolution, or --issuer for an unsigned one".into(),
                    ));
                }
            };
            let prev_root = match prev_root.trim() {
                "genesis" => o.chain.genesis_root,
                h => Digest::parse_loose(h)?,
            };
            let req = fork::Request {
                sequence,
                prev_root,
                chosen_next_root: Digest::parse_loose(&chosen_next_root)?,
                candidates: candidates
                    .iter()
                    .map(|c| Digest::parse_loose(c))
                    .collect::<Result<_, _>>()?,
                issuer,
                now: msez::vc::proof::now_utc(),
            };
            let mut vc = fork::credential(&o.chain, &req)?;
            chain::module::sign_all(&mut vc, &keys)?;
            let name = format!(
                "fork-resolution.{sequence}.{}.{}.json",
                &prev_root.to_hex()[..12],
                &req.chosen_next_root.to_hex()[..12]
            );
            let path = out
                .map(|p| ctx.path(&p))
                .unwrap_or_else(|| o.chain.forks_dir.join(name));
            let stored = match &o.repo {
                Some(repo) => Some(
                    repo.put_json(
                        &msez::artifact::ArtifactType::new("vc").expect("valid type"),
                        &vc,
                    )?
                    .id
                    .to_string(),
                ),
                None => None,
            };
            chain::module::write_pretty(&path, &vc)?;
            // Move .msez's head to the selected branch when the resolutions (as verify counts
            // them) now select a chain the head is not on; the credential stays written anyway.
            let mut o = o;
            let adopted = match &o.repo {
                Some(_) => {
                    let adopted = load_forks(&mut o, &ForkArgs::default(), ctx).and_then(|_| {
                        let repo = o.repo.as_ref().expect("checked above");
                        ops::adopt(repo, &o.chain, &o.opts)
                    });
                    match adopted {
                        Ok(a) => Some(a),
                        Err(errors) => {
                            if !ctx.out.json {
                                eprintln!(
                                    "msez: warning: head ref not moved: {}",
                                    errors.first().map(|e| e.to_string()).unwrap_or_default()
                                );
                            }
                            None
                        }
                    }
                }
                None => None,
            };
            let value = serde_json::json!({
                "adopted": adopted,
                "path": path,
                "id": vc.get("id"),
                "object": stored,
                "sequence": sequence,
                "prev_root": prev_root,
                "chosen_next_root": req.chosen_next_root,
                "signed": !keys.is_empty(),
            });
            written(ctx.out.emit(&value, |w| {
                writeln!(w, "{}", path.display())?;
                if let Some(a) = adopted.as_ref().filter(|a| a.moved) {
                    let show = |d: Option<Digest>| d.map(|d| d.to_hex()).unwrap_or_default();
                    writeln!(
                        w,
                        "head moved: {} -> {} (the losing branch is kept under forks/)",
                        show(a.losing_head),
                        show(a.head)
                    )?;
                }
                Ok(())
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::ForkEvidence {
            ck1,
            ck2,
            proof1,
            proof2,
            verify,
            trust_anchors,
            out,
        } => {
            let trust = trust_anchors.map(|t| load_trust(&t, ctx)).transpose()?;
            let trust = trust.as_ref().map(|(a, l)| Trust::new(a, l.as_deref()));
            let (doc, verdict) = match (verify, ck1, ck2) {
                (Some(ev), _, _) => {
                    let doc = read_json(&ctx.path(&ev))?;
                    return render_evidence_check(&chain::evidence::check(&doc, trust), ctx);
                }
                (None, Some(a), Some(b)) => {
                    let proofs = match (proof1, proof2) {
                        (Some(p1), Some(p2)) => {
                            Some((read_json(&ctx.path(&p1))?, read_json(&ctx.path(&p2))?))
                        }
                        _ => None,
                    };
                    let (doc, v) = chain::evidence::build(
                        kind,
                        &read_json(&ctx.path(&a))?,
                        &read_json(&ctx.path(&b))?,
                        proofs.as_ref().map(|(x, y)| (x, y)),
                        trust,
                        &msez::vc::proof::now_utc(),
                    )?;
                    (Some(doc), v)
                }
                _ => {
                    return Err(msez::Error::Usage(
                        "give two checkpoints, or --verify EVIDENCE".into(),
                    ));
                }
            };
            match (doc, out) {
                (Some(doc), Some(out)) => {
                    chain::module::write_pretty(&ctx.path(&out), &doc)?;
                    written(
                        ctx.out
                            .emit(&verdict, |w| writeln!(w, "{}", ctx.path(&out).display())),
                    )?;
                }
                (Some(doc), None) => {
                    let mut t = serde_json::to_string_pretty(&doc)
                        .map_err(|e| msez::Error::Usage(e.to_string()))?;
                    t.push('\n');
                    written(std::io::Write::write_all(
                        &mut std::io::stdout(),
                        t.as_bytes(),
                    ))?;
                }
                (None, _) => written(ctx.out.emit(&verdict, |w| {
                    writeln!(
                        w,
                        "OK: fork evidence ({:?}); equivocators: {}",
                        verdict.contradiction,
                        verdict.equivocators.join(", ")
                    )
                }))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::ForkInspect {
            chain,
            forks,
            format,
        } => {
            let mut o = open(kind, &chain, ctx)?;
            // A report never fails: bad resolution files become report errors.
            let loaded = load_forks_report(&mut o, &forks, ctx);
            let report = fork::inspect(&o.chain, &o.opts, &loaded);
            let text = if format == "dot" {
                fork::dot(&report)
            } else {
                let mut t = serde_json::to_string_pretty(&report)
                    .map_err(|e| msez::Error::Usage(e.to_string()))?;
                t.push('\n');
                t
            };
            written(std::io::Write::write_all(
                &mut std::io::stdout(),
                text.as_bytes(),
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Renders `fork-evidence --verify`: what the evidence proves (the reference's fields) plus the
/// verdict, its exit code and every finding (docs/verdicts.md).
fn render_evidence_check(c: &chain::evidence::Checked, ctx: &Ctx) -> super::Result<ExitCode> {
    let findings = c.findings();
    let code = findings.exit_code();
    let mut value = match &c.proven {
        Some(v) => serde_json::to_value(v).unwrap_or_default(),
        None => serde_json::json!({}),
    };
    value["verdict"] = serde_json::to_value(findings.verdict()).unwrap_or_default();
    value["exit_code"] = code.into();
    value["findings"] = serde_json::to_value(findings.items()).unwrap_or_default();
    if let Some(first) = findings.0.first() {
        value["error"] = serde_json::to_value(first).unwrap_or_default();
    }
    if ctx.out.json {
        written(ctx.out.emit(&value, |_| Ok(())))?;
    } else if let (true, Some(v)) = (findings.is_empty(), &c.proven) {
        written(ctx.out.emit(&value, |w| {
            writeln!(
                w,
                "OK: fork evidence ({:?}); equivocators: {}",
                v.contradiction,
                v.equivocators.join(", ")
            )
        }))?;
    } else {
        for f in &findings.0 {
            eprintln!("msez: {}", f.message);
            if let (Some(e), Some(x)) = (&f.detail.expected, &f.detail.found) {
                eprintln!("  expected: {e}\n  found:    {x}");
            }
        }
    }
    Ok(ExitCode::from(code))
}

/// Every check of a checkpoint file against the chain as far as it was computed: schema and
/// signatures, then every field (not only the first mismatch).
fn check_checkpoint_all(
    o: &Opened,
    path: &Path,
    result: Option<&ChainResult>,
    extra: &mut msez::verdict::Findings,
) -> Vec<chain::Error> {
    let ck = match read_json(path) {
        Ok(ck) => ck,
        Err(e) => {
            extra.push(&e);
            return Vec::new();
        }
    };
    let what = path.display().to_string();
    let mut errors = Vec::new();
    if let Err(e) = checkpoint::check_signed(o.chain.kind, &ck, &what, false, o.opts.trust()) {
        // Fields nobody validly signed claim nothing: the signature failure is the finding
        // (a properly re-signed forgery has its fields compared below).
        errors.push(e);
        return errors;
    }
    match result.map(|r| checkpoint::Summary::of(r, o.chain.purpose.as_deref())) {
        Some(Ok(summary)) => errors.extend(checkpoint::mismatches(&ck, &summary)),
        Some(Err(e)) => {
            // An empty chain against a checkpoint that covers receipts: every one is missing.
            if ck.get("receipt_count").and_then(Value::as_u64).unwrap_or(0) > 0 {
                errors.push(chain::Error::CheckpointMismatch {
                    field: "receipt_count",
                    expected: "0".into(),
                    found: ck["receipt_count"].to_string(),
                });
            } else {
                errors.push(e);
            }
        }
        None => {}
    }
    errors
}

/// A gap below the size a checkpoint covers is a definite failure: the checkpoint claims those
/// receipts exist (in a working tree without one, a gap is only `unknown`).
fn complete_up_to(errors: &mut Vec<chain::Error>, extra: &mut msez::verdict::Findings, ck: &Path) {
    let size = read_json(ck)
        .ok()
        .and_then(|v| v.get("receipt_count").and_then(Value::as_u64))
        .unwrap_or(0);
    errors.retain(|e| match e {
        chain::Error::Gap { missing, count, .. } if *missing < size => {
            extra.push(&msez::verdict::Error::Incomplete {
                what: format!("checkpoint {} (receipt_count {size})", ck.display()),
                missing: *missing,
                count: *count,
            });
            false
        }
        _ => true,
    });
}

/// The chain's witness policy, if its module pins one, applied to its checkpoint notes
/// (docs/tlog.md): findings go to `extra`, lines that do not count to `notes`.
fn witness_policy(
    o: &Opened,
    result: Option<&ChainResult>,
    extra: &mut msez::verdict::Findings,
    notes: &mut Vec<String>,
) -> Option<policy::Report> {
    // Without a selected chain there is no root to compare notes with (already a finding).
    let report = policy::apply(&o.chain, &result?.next_roots, extra)?;
    for i in &report.ignored {
        notes.push(format!(
            "ignored cosignature line in {} ({}): {}",
            i.note.display(),
            i.why,
            i.line
        ));
    }
    Some(report)
}

fn report_verify(
    result: Option<ChainResult>,
    errors: Vec<chain::Error>,
    extra: msez::verdict::Findings,
    mut notes: Vec<String>,
    witness: Option<policy::Report>,
    o: &Opened,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let kind = o.chain.kind;
    if let Some(h) = o.opts.harbors.as_ref().filter(|h| h.policy.is_none()) {
        let n = h.self_claimed.load(std::sync::atomic::Ordering::Relaxed);
        if n > 0 {
            notes.push(format!(
                "{n} receipt(s) claim a jurisdiction_scope but no registry VC pins a harbor policy: their own jurisdiction fields apply (msez is stricter than the reference here: docs/anchoring.md)"
            ));
        }
    }
    let mut findings = msez::verdict::Findings::default();
    findings.extend(&errors);
    findings.0.extend(extra.0);
    let verdict = findings.verdict();
    let mut value = serde_json::Map::new();
    value.insert(kind.owner_field().into(), o.chain.owner.clone().into());
    if let Some(p) = &o.chain.purpose {
        value.insert("purpose".into(), p.clone().into());
    }
    value.insert("genesis_root".into(), o.chain.genesis_root.to_hex().into());
    value.insert(
        "ok".into(),
        (verdict == msez::verdict::Verdict::Valid).into(),
    );
    value.insert("verdict".into(), verdict.name().into());
    value.insert("exit_code".into(), findings.exit_code().into());
    if let Some(r) = &result {
        value.insert("receipt_count".into(), r.receipt_count.into());
        value.insert(
            checkpoint::final_field(kind).into(),
            r.final_root.to_hex().into(),
        );
        value.insert(
            "mmr".into(),
            r.mmr.as_ref().map(verify::mmr_object).unwrap_or_default(),
        );
    }
    if let Some(w) = &witness {
        value.insert(
            "witness_policy".into(),
            serde_json::to_value(w).unwrap_or_default(),
        );
    }
    let warnings: Vec<&String> = notes
        .iter()
        .chain(result.iter().flat_map(|r| &r.warnings))
        .collect();
    value.insert(
        "warnings".into(),
        serde_json::to_value(&warnings).unwrap_or_default(),
    );
    value.insert(
        "errors".into(),
        serde_json::to_value(findings.items()).unwrap_or_default(),
    );
    let word = match verdict {
        msez::verdict::Verdict::Valid => "OK",
        msez::verdict::Verdict::Unknown => "UNKNOWN",
        msez::verdict::Verdict::Invalid => "FAILED",
    };
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{} VERIFY {word}", label(kind))?;
        if let Some(r) = &result {
            writeln!(w, "  receipts: {}  head: {}", r.receipt_count, r.final_root)?;
            if let Some(m) = &r.mmr {
                writeln!(w, "  mmr root: {}", m.root)?;
            }
        }
        if let Some(p) = &witness {
            writeln!(
                w,
                "  witnesses: {} of {} cosigned (quorum {}): {}",
                p.cosigned_by.len(),
                p.witnesses.len(),
                p.quorum,
                p.cosigned_by.join(", ")
            )?;
        }
        for warning in &warnings {
            writeln!(w, "  warning: {warning}")?;
        }
        Ok(())
    }))?;
    if !ctx.out.json {
        for f in &findings.0 {
            eprintln!("msez: {}", f.message);
        }
    }
    Ok(ExitCode::from(findings.exit_code()))
}
