//! `msez corridor module ...` and `msez corridor state ...`: corridor receipt chains.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::chain::Kind;
use msez::chain::corridor::{CORRIDORS_DIR, CorridorModule, InitOptions};
use msez::chain::ops;
use msez::odb::Repo;
use msez::vc::KeyPair;

use super::state::{ChainArgs, StateCommand, open, read_json, timestamp};
use super::{Ctx, written};

/// `msez corridor` subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Corridor module layout.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// The receipt chain of a corridor module.
    #[command(subcommand)]
    State(CorridorState),
}

/// `msez corridor module` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Create modules/corridors/<ID>/: corridor.yaml, a definition VC signed with --key, state/.
    ///
    /// Example: msez corridor module init --corridor-id org.example.corridor.a-b --key zone-a.jwk
    Init {
        /// The corridor id (1-128 of A-Z a-z 0-9 . _ -, not starting with a dot).
        #[arg(long)]
        corridor_id: String,
        /// Signs the new definition VC (MSEZCorridorDefinitionCredential).
        #[arg(long, required_unless_present = "definition")]
        key: Option<PathBuf>,
        /// Use this signed definition VC instead of making one.
        #[arg(long, conflicts_with = "key")]
        definition: Option<PathBuf>,
        /// An agreement VC to copy into the module (repeatable).
        #[arg(long = "agreement")]
        agreements: Vec<PathBuf>,
        /// Where modules live.
        #[arg(long, default_value = CORRIDORS_DIR)]
        dir: PathBuf,
        /// Trust anchors file, recorded in corridor.yaml (relative to the module).
        #[arg(long)]
        trust_anchors: Option<String>,
        /// The definition's issuanceDate (default: now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        timestamp: Option<String>,
    },
}

/// `msez corridor state` subcommands: the verbs of every chain, plus the head commitment.
#[derive(Debug, Subcommand)]
pub enum CorridorState {
    #[command(flatten)]
    Common(Box<StateCommand>),
    /// Print the corridor head commitment (§6.3) of the chain's current head.
    HeadCommitment {
        #[command(flatten)]
        chain: ChainArgs,
    },
}

/// Runs one `msez corridor` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Module(ModuleCommand::Init {
            corridor_id,
            key,
            definition,
            agreements,
            dir,
            trust_anchors,
            timestamp: ts,
        }) => {
            let key = key.map(|k| KeyPair::load(&ctx.path(&k))).transpose()?;
            let definition = definition.map(|d| read_json(&ctx.path(&d))).transpose()?;
            let agreements = agreements
                .iter()
                .map(|p| {
                    let p = ctx.path(p);
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    Ok((name, read_json(&p)?))
                })
                .collect::<super::Result<Vec<_>>>()?;
            let opts = InitOptions {
                corridor_id,
                key,
                definition,
                agreements,
                issuance_date: timestamp(ts),
                trust_anchors_path: trust_anchors,
            };
            module_init(&opts, &ctx.path(&dir), ctx)
        }
        Command::State(CorridorState::Common(cmd)) => super::state::run(Kind::Corridor, *cmd, ctx),
        Command::State(CorridorState::HeadCommitment { chain }) => head_commitment(&chain, ctx),
    }
}

fn module_init(opts: &InitOptions, dir: &Path, ctx: &Ctx) -> super::Result<ExitCode> {
    let module = CorridorModule::init(dir, opts)?;
    if let Some(repo) = Repo::find(&module.dir)? {
        let t = msez::artifact::ArtifactType::new("vc").expect("valid type");
        repo.put_json(
            &t,
            &read_json(&module.dir.join(&module.config.definition_vc_path))?,
        )?;
        for p in &module.config.agreement_vc_paths {
            repo.put_json(&t, &read_json(&module.dir.join(p))?)?;
        }
    }
    let g = &module.genesis;
    let value = serde_json::json!({
        "corridor_id": module.corridor_id(), "module": module.dir,
        "genesis_root": module.genesis_root,
        "definition_payload_sha256": g.definition_payload_sha256,
        "agreement_set_sha256": g.agreement_set_sha256.map(|d| d.to_hex()).unwrap_or_default(),
        "lawpack_digest_set": g.lawpack_digest_set, "ruleset_digest_set": g.ruleset_digest_set,
        "rulesets": module.rulesets_source,
    });
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{}\n{}", module.genesis_root, module.dir.display())
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn head_commitment(args: &ChainArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let o = open(Kind::Corridor, args, ctx)?;
    let s = ops::summary(o.repo.as_ref(), &o.chain, &o.opts, !args.from_files)?;
    let digest = msez::chain::corridor::head_commitment(&s)?;
    let value = serde_json::json!({
        "corridor_id": s.owner, "genesis_root": s.genesis_root,
        "receipt_count": s.receipt_count, "final_state_root": s.final_root,
        "mmr_root": s.mmr.root, "head_commitment_sha256": digest,
    });
    written(ctx.out.emit(&value, |w| writeln!(w, "{digest}")))?;
    Ok(ExitCode::SUCCESS)
}
