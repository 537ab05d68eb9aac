//! `msez artifact put|get|resolve` (graph and bundle commands live in cli/bundle.rs).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use msez::artifact::{ArtifactType, ObjectId};
use msez::chain::names;
use msez::odb::Repo;
use msez::remote::root::StoreRoots;

use super::repo::open_repo;
use super::{Ctx, written};

/// `msez artifact` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store a file (streamed; JSON types are canonicalized); prints TYPE:DIGEST.
    Put {
        /// The file (`-` for stdin).
        file: PathBuf,
        /// The artifact type (decides the digest rule).
        #[arg(long = "type", value_name = "TYPE")]
        artifact_type: String,
    },
    /// Write an object's bytes to stdout or FILE (checked against its digest).
    Get {
        /// `TYPE:DIGEST`.
        object: String,
        /// Write here instead of stdout (atomically; nothing is left on a mismatch).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the path of the one file holding TYPE:DIGEST in the store roots.
    Resolve {
        /// `TYPE:DIGEST`.
        object: String,
        /// A store root to search (repeatable); replaces the default list. A remote URL
        /// (s3://, ipfs://, file://) is read lazily: only what is asked for is fetched, checked.
        #[arg(long = "store-root", value_name = "DIR|URL")]
        store_roots: Vec<String>,
    },
    /// Artifact graph: closure walks and verification.
    #[command(subcommand)]
    Graph(super::bundle::GraphCommand),
    /// Witness bundles: attest, verify, extract.
    #[command(subcommand)]
    Bundle(super::bundle::BundleCommand),
    /// Print a presigned URL of an object on an S3 remote (anyone can GET it until it expires).
    Share(super::share::ShareArgs),
}

/// Runs one `msez artifact` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Put {
            file,
            artifact_type,
        } => put(&file, &artifact_type, ctx),
        Command::Get { object, out } => get(&object, out.as_deref(), ctx),
        Command::Resolve {
            object,
            store_roots,
        } => resolve(&object, &store_roots, ctx),
        Command::Graph(c) => super::bundle::graph(c, ctx),
        Command::Bundle(c) => super::bundle::bundle(c, ctx),
        Command::Share(a) => super::share::run(a, ctx),
    }
}

fn put(file: &std::path::Path, artifact_type: &str, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    let artifact_type = ArtifactType::new(artifact_type)?;
    let put = if file.as_os_str() == "-" {
        repo.put_reader(&artifact_type, std::io::stdin().lock())?
    } else {
        let path = ctx.path(file);
        let f = std::fs::File::open(&path).map_err(|e| msez::Error::io("opening", &path, e))?;
        repo.put_reader(&artifact_type, f)?
    };
    written(ctx.out.emit(&put, |w| writeln!(w, "{}", put.id)))?;
    Ok(ExitCode::SUCCESS)
}

fn get(object: &str, out: Option<&std::path::Path>, ctx: &Ctx) -> super::Result<ExitCode> {
    let repo = open_repo(ctx)?;
    // A digest that is a prefix resolves among the stored objects; any other bad digest keeps
    // its own error (schema.bad_digest, 65).
    let id: ObjectId = match object.parse() {
        Ok(id) => id,
        Err(_)
            if object
                .split_once(':')
                .is_some_and(|(_, d)| names::is_prefix(d)) =>
        {
            names::object(&repo, object)?
        }
        Err(e) => return Err(e.into()),
    };
    let Some(out) = out else {
        write_object(&repo, &id, &mut std::io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    };
    let dest = ctx.path(out);
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = msez::fs::Staged::new_in(dir, ".tmp", msez::fs::PRIVATE)
        .map_err(|e| e.lift(msez::Error::io))?;
    let size = write_object(&repo, &id, tmp.as_file_mut())?;
    tmp.commit(&dest).map_err(|e| e.lift(msez::Error::io))?;
    if ctx.out.json {
        written(ctx.out.emit(
            &serde_json::json!({"id": id.to_string(), "out": dest, "size": size}),
            |_| Ok(()),
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes an object's stored bytes (JSON: canonical + LF with the union of its proofs).
fn write_object(repo: &Repo, id: &ObjectId, out: &mut impl std::io::Write) -> super::Result<u64> {
    match repo.object(id)?.value {
        Some(value) => {
            let mut bytes = msez::canon::to_bytes(&value)?;
            bytes.push(b'\n');
            out.write_all(&bytes)
                .map_err(|e| msez::Error::io("writing", "<output>", e))?;
            Ok(bytes.len() as u64)
        }
        None => Ok(repo.copy_raw(id, out)?),
    }
}

/// The default store roots: the repository's objects, `MSEZ_ARTIFACT_STORE_DIRS`, `dist/artifacts`.
pub fn default_store_roots(ctx: &Ctx) -> super::Result<Vec<PathBuf>> {
    let mut roots = Vec::new();
    if let Some(repo) = Repo::find(&ctx.cwd)? {
        roots.push(repo.objects_dir());
    }
    if let Some(dirs) = std::env::var_os("MSEZ_ARTIFACT_STORE_DIRS") {
        roots.extend(
            std::env::split_paths(&dirs)
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| ctx.path(&p)),
        );
    }
    let dist = ctx.cwd.join("dist").join("artifacts");
    if !roots.contains(&dist) {
        roots.push(dist);
    }
    Ok(roots)
}

fn resolve(object: &str, store_roots: &[String], ctx: &Ctx) -> super::Result<ExitCode> {
    let id: ObjectId = object.parse()?;
    let roots = if store_roots.is_empty() {
        StoreRoots::dirs(default_store_roots(ctx)?)
    } else {
        StoreRoots::parse(store_roots, &ctx.cwd, msez::remote::Retry::default())?
    };
    let found = roots.resolve(&id)?;
    // A remote match lives in a temp copy that goes when we exit: name the remote key.
    let shown = found
        .remote
        .clone()
        .unwrap_or_else(|| found.path.display().to_string());
    written(ctx.out.emit(
        &serde_json::json!({"id": id.to_string(), "path": shown, "remote": found.remote.is_some()}),
        |w| writeln!(w, "{shown}"),
    ))?;
    Ok(ExitCode::SUCCESS)
}
