//! `receipt-init`: appends receipts through [`ops::append`], which holds every rule (signed
//! corridor receipts, revoked keys, `--unsigned`, attachments inside the transaction).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use msez::canon::{self, Digest, Value};
use msez::chain::anchor::{self, AttachKind};
use msez::chain::ops::{self, Chain};
use msez::chain::receipt::{Draft, normalize_set};
use msez::chain::transition_types::Lock;
use msez::chain::{self, Kind, envelope};
use msez::odb::Expect;

use super::{ChainArgs, load_keys, open, read_json, timestamp};
use crate::cli::{Ctx, Result, written};

/// The arguments of `receipt-init`: append receipts (signed with --key) to a chain, as one transaction.
#[derive(Debug, clap::Args)]
pub struct ReceiptInitArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The transition (default: the reference's noop transition of the chain's kind).
    #[arg(long, conflicts_with = "batch")]
    pub transition: Option<PathBuf>,
    /// Many transitions, one JSON document per line, appended as one transaction.
    #[arg(long)]
    pub batch: Option<PathBuf>,
    /// A signing key (repeatable; corridor receipts must be signed).
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
    /// Append without --key, as the reference writes asset receipts (msez verify rejects
    /// unsigned receipts; without this flag no --key is refused, exit 64).
    #[arg(long, conflicts_with = "keys")]
    pub unsigned: bool,
    /// Refuse (conflict) unless the chain's head is this next_root (`genesis`: empty chain).
    #[arg(long)]
    pub expect_head: Option<String>,
    /// The receipt timestamp (default: now, or SOURCE_DATE_EPOCH).
    #[arg(long)]
    pub timestamp: Option<String>,
    /// A lawpack digest (repeatable; default: none for assets, the corridor's set).
    #[arg(long = "lawpack-digest")]
    pub lawpack_digests: Vec<String>,
    /// A ruleset digest (repeatable; default: none for assets, the corridor's set).
    #[arg(long = "ruleset-digest")]
    pub ruleset_digests: Vec<String>,
    /// all_active, subset or quorum (assets).
    #[arg(long, value_parser = ["all_active", "subset", "quorum"])]
    pub jurisdiction_scope: Option<String>,
    /// A harbor id (repeatable; assets).
    #[arg(long = "harbor-id")]
    pub harbor_ids: Vec<String>,
    /// The harbor quorum the receipt claims (assets).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub harbor_quorum: Option<u64>,
    #[command(flatten)]
    pub attach: AttachArgs,
    /// Pin this transition-type lock in every receipt (its kinds and digests must fit).
    #[arg(long)]
    pub transition_types_lock: Option<PathBuf>,
}

/// Runs `receipt-init` on a chain of `kind`.
pub fn receipt_init(kind: Kind, args: ReceiptInitArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ReceiptInitArgs {
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
    } = args;
    let o = open(kind, &chain, ctx)?;
    if kind == Kind::Corridor
        && (jurisdiction_scope.is_some() || !harbor_ids.is_empty() || harbor_quorum.is_some())
    {
        return Err(msez::Error::Usage(
            "--jurisdiction-scope, --harbor-id and --harbor-quorum apply to asset receipts only"
                .into(),
        ));
    }
    let keys = load_keys(&keys, ctx)?;
    let lifecycle = o.opts.lifecycle.as_deref();
    // The library's signer rules, before anything is read or built.
    ops::check_signers(&o.chain, &keys, lifecycle)?;
    let repo = o
        .repo
        .as_ref()
        .ok_or_else(|| msez::odb::Error::NotARepository {
            start: o.chain.module_dir.clone(),
        })?;
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
    let attachments = attachments(&attach, &o.chain, ctx)?;
    let make = |t: &Value| -> std::result::Result<Draft, chain::Error> {
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
        None => Expect::Any,
        Some("genesis") => Expect::Absent,
        Some(h) => Expect::Exactly(chain::names::digest_of(
            repo,
            &msez::artifact::ArtifactType::new(kind.receipt_artifact())?,
            h,
        )?),
    };
    let docs: Vec<(AttachKind, Value)> = attachments
        .into_iter()
        .map(|(kind, doc, _)| (kind, doc))
        .collect();
    let req = ops::AppendRequest {
        drafts: &drafts,
        keys: &keys,
        expect,
        allow_unsigned: unsigned,
        lifecycle,
        attachments: &docs,
    };
    let appended = ops::append(repo, &o.chain, req)?;
    if kind == Kind::Corridor {
        // A clone checks the corridor out from this object (docs/corridors.md); the receipts
        // are in, so a failure here is a warning, and the next append or checkout retries.
        let stored = chain::corridor::CorridorModule::open(&o.chain.module_dir, &ctx.cwd)
            .and_then(|m| chain::corridor_object::store(repo, &m));
        if let Err(e) = stored {
            ctx.out
                .warn(format!("warning: corridor module object not stored: {e}"));
        }
    }
    written(ctx.out.emit(&appended, |w| {
        for (seq, root, path) in &appended.receipts {
            writeln!(w, "{seq} {root} {}", path.display())?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
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

/// The drafts of a `--batch` file (one transition per non-empty line), made on two threads: a
/// large batch's parsing and checks would otherwise delay the append's pipeline. The first
/// bad line (in file order) is the error.
fn batch_drafts(
    path: &Path,
    make: &(dyn Fn(&Value) -> std::result::Result<Draft, chain::Error> + Sync),
) -> Result<Vec<Draft>> {
    let text = std::fs::read_to_string(path).map_err(|e| msez::Error::io("reading", path, e))?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let drafts = |part: &[(usize, &str)]| -> std::result::Result<Vec<Draft>, chain::Error> {
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
) -> std::result::Result<Vec<Digest>, chain::Error> {
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

/// Reads every `--attach-*` file into (kind, document, attachment); the append stores the
/// documents. URIs are relative to the module whose receipts carry them.
fn attachments(
    args: &AttachArgs,
    chain: &Chain,
    ctx: &Ctx,
) -> Result<Vec<(AttachKind, Value, Value)>> {
    let mut out = Vec::new();
    for (kind, file) in args.files() {
        let path = ctx.path(file);
        let doc = read_json(&path)?;
        let uri = anchor::relative_uri(&path, &chain.module_dir);
        let att = anchor::attachment(kind, &doc, &uri)?;
        out.push((kind, doc, att));
    }
    Ok(out)
}
