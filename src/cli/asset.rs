//! `msez asset module ...` and `msez asset state ...` (seed v0.4.32).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::canon::{Digest, Value};
use msez::chain::Kind;
use msez::chain::module::{ASSETS_DIR, AssetModule};
use msez::odb::Repo;

use super::state::{StateCommand, read_json};
use super::{Ctx, written};

/// `msez asset` subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Asset module layout.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// Receipt chains of an asset module.
    #[command(subcommand)]
    State(Box<StateCommand>),
}

/// `msez asset module` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Create modules/smart-assets/<asset_id>/ from a genesis document.
    Init {
        /// The SmartAssetGenesis JSON (asset_id = SHA256(JCS(genesis − asset_id))).
        #[arg(long)]
        genesis: PathBuf,
        /// A chain purpose (repeatable; the first is the default; default: core).
        #[arg(long = "purpose")]
        purposes: Vec<String>,
        /// Where modules live.
        #[arg(long, default_value = ASSETS_DIR)]
        dir: PathBuf,
        /// Trust anchors file, recorded in asset.yaml (relative to the module).
        #[arg(long)]
        trust_anchors: Option<String>,
    },
    /// Bundle the module's closure (strict) into a deterministic witness bundle.
    ///
    /// Example: msez asset module witness-bundle modules/smart-assets/<id> --out asset.zip
    WitnessBundle {
        /// The module directory or bare asset_id.
        module: PathBuf,
        /// The bundle (default: MODULE/witness/asset.witness-bundle.zip).
        #[arg(long, value_name = "BUNDLE.zip")]
        out: Option<PathBuf>,
        /// A store root searched after the module's dist/artifacts (repeatable).
        #[arg(long = "store-root", value_name = "DIR")]
        store_roots: Vec<PathBuf>,
        /// Stop after this many nodes and root files.
        #[arg(long, default_value_t = 1_000_000)]
        max_nodes: usize,
    },
}

/// Runs one `msez asset` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Module(ModuleCommand::Init {
            genesis,
            purposes,
            dir,
            trust_anchors,
        }) => module_init(&genesis, &purposes, &dir, trust_anchors, ctx),
        Command::Module(ModuleCommand::WitnessBundle {
            module,
            out,
            store_roots,
            max_nodes,
        }) => super::bundle::witness_bundle(&module, out.as_deref(), &store_roots, max_nodes, ctx),
        Command::State(cmd) => super::state::run(Kind::Asset, *cmd, ctx),
    }
}

fn module_init(
    genesis: &Path,
    purposes: &[String],
    dir: &Path,
    trust_anchors: Option<String>,
    ctx: &Ctx,
) -> super::Result<ExitCode> {
    let doc = read_json(&ctx.path(genesis))?;
    let module = AssetModule::init(&ctx.path(dir), &doc, purposes, trust_anchors)?;
    if let Some(repo) = Repo::find(&module.dir)? {
        let t = msez::artifact::ArtifactType::new("smart-asset-genesis").expect("valid type");
        repo.put_json(&t, &doc_with_id(&doc, &module.asset_id))?;
    }
    let value = serde_json::json!({"asset_id": module.asset_id, "module": module.dir, "purposes": module.config.purposes});
    written(ctx.out.emit(&value, |w| {
        writeln!(w, "{}\n{}", module.asset_id, module.dir.display())
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn doc_with_id(doc: &Value, asset_id: &Digest) -> Value {
    let mut d = doc.clone();
    if let Some(m) = d.as_object_mut() {
        m.insert("asset_id".into(), asset_id.to_hex().into());
    }
    d
}
