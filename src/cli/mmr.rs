//! `msez mmr`: Merkle Mountain Range plumbing (RFC 6962 / 9162 compatible). No hashing here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use msez::Classify;
use msez::mmr::{self, Hash, MemStore};
use msez::taxonomy::Class;

use super::{Ctx, read_input, written};

/// `msez mmr` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the root and peaks of a tree.
    ///
    /// Example: `msez mmr root --leaves next_roots.txt`
    Root(RootArgs),
    /// Print the MSEZ inclusion-proof object of one leaf as JSON.
    ///
    /// Example: `msez mmr prove --leaves next_roots.txt --index 3 > proof.json`
    Prove(ProveArgs),
    /// Verify an MSEZ inclusion-proof object (exit 0 valid, 66 mismatch, 65 malformed).
    ///
    /// Example: `msez mmr verify --proof proof.json`
    Verify(VerifyArgs),
    /// Verify an RFC 6962 audit path (FILE: a JSON array of 64-hex hashes).
    ///
    /// Example: `msez mmr verify-inclusion --size 8 --index 5 --leaf-data 40414243 --root HEX --proof path.json`
    VerifyInclusion(VerifyInclusionArgs),
    /// Print the RFC 9162 consistency proof between two sizes as a JSON array of 64-hex hashes.
    ///
    /// Example: `msez mmr consistency --leaves next_roots.txt --old 6 --new 8`
    Consistency(ConsistencyArgs),
    /// Verify an RFC 9162 consistency proof (FILE: a JSON array of 64-hex hashes).
    ///
    /// Example: `msez mmr verify-consistency --old 6 --old-root HEX --new 8 --new-root HEX --proof c.json`
    VerifyConsistency(VerifyConsistencyArgs),
}

/// Where the leaves come from: MSEZ next_roots or RFC 6962 leaf data.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct LeavesArgs {
    /// One 64-hex receipt next_root per line (leaf hash = SHA256(0x00 || next_root)).
    #[arg(long, value_name = "FILE")]
    pub leaves: Option<PathBuf>,
    /// Hex leaf data, one leaf per line, an empty line is an empty leaf (RFC 6962 form).
    #[arg(long, value_name = "FILE")]
    pub leaf_data: Option<PathBuf>,
}

/// `msez mmr root (--leaves FILE | --leaf-data FILE)`.
#[derive(Debug, clap::Args)]
pub struct RootArgs {
    #[command(flatten)]
    pub input: LeavesArgs,
}

/// `msez mmr prove --leaves FILE --index I`.
#[derive(Debug, clap::Args)]
pub struct ProveArgs {
    /// One 64-hex receipt next_root per line.
    #[arg(long, value_name = "FILE")]
    pub leaves: PathBuf,
    /// The leaf to prove (0-based; the receipt's position in the chain).
    #[arg(long, value_name = "I")]
    pub index: u64,
}

/// `msez mmr verify --proof FILE`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The proof object (default: stdin).
    #[arg(long, value_name = "FILE")]
    pub proof: Option<PathBuf>,
}

/// `msez mmr verify-inclusion --size N --index I --leaf-data HEX --root HEX --proof FILE`.
#[derive(Debug, clap::Args)]
pub struct VerifyInclusionArgs {
    /// Tree size.
    #[arg(long, value_name = "N")]
    pub size: u64,
    /// Leaf index.
    #[arg(long, value_name = "I")]
    pub index: u64,
    /// The leaf data in hex (may be empty).
    #[arg(long, value_name = "HEX")]
    pub leaf_data: String,
    /// The trusted root.
    #[arg(long, value_name = "HEX")]
    pub root: String,
    /// The audit path: a JSON array of 64-hex hashes, leaf first.
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
}

/// `msez mmr consistency (--leaves FILE | --leaf-data FILE) --old M --new N`.
#[derive(Debug, clap::Args)]
pub struct ConsistencyArgs {
    #[command(flatten)]
    pub input: LeavesArgs,
    /// The old size.
    #[arg(long, value_name = "M")]
    pub old: u64,
    /// The new size.
    #[arg(long, value_name = "N")]
    pub new: u64,
}

/// `msez mmr verify-consistency --old M --old-root HEX --new N --new-root HEX --proof FILE`.
#[derive(Debug, clap::Args)]
pub struct VerifyConsistencyArgs {
    /// The old size.
    #[arg(long, value_name = "M")]
    pub old: u64,
    /// The old root.
    #[arg(long, value_name = "HEX")]
    pub old_root: String,
    /// The new size.
    #[arg(long, value_name = "N")]
    pub new: u64,
    /// The new root.
    #[arg(long, value_name = "HEX")]
    pub new_root: String,
    /// The proof: a JSON array of 64-hex hashes in RFC 9162 order.
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
}

/// Runs one `msez mmr` subcommand.
pub fn run(command: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    match command {
        Command::Root(a) => root(a, ctx),
        Command::Prove(a) => prove(a, ctx),
        Command::Verify(a) => verify(a, ctx),
        Command::VerifyInclusion(a) => verify_inclusion(a, ctx),
        Command::Consistency(a) => consistency(a, ctx),
        Command::VerifyConsistency(a) => verify_consistency(a, ctx),
    }
}

fn root(args: RootArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let (store, msez_form) = load_store(&args.input, ctx)?;
    if msez_form && store.size() == 0 {
        return Err(mmr::Error::EmptyTree.into());
    }
    let value = mmr::MmrRoot::read(&store, store.size())?;
    written(ctx.out.emit(&value, |w| writeln!(w, "{}", value.root)))?;
    Ok(ExitCode::SUCCESS)
}

fn prove(args: ProveArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let next_roots = read_next_roots(&args.leaves, ctx)?;
    let proof = mmr::build_inclusion_proof(&next_roots, args.index)?;
    written(ctx.out.emit(&proof, |w| json_line(w, &proof)))?;
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let bytes = read_input(args.proof.as_deref(), ctx)?;
    let value = msez::canon::parse(&bytes)?;
    let proof = match mmr::InclusionProof::from_value(&value) {
        Ok(p) => p,
        Err(e) => return verdict(ctx, Err(e)),
    };
    // Every comparison once the path is followed (docs/verdicts.md), and the root it leads to.
    let (errors, root) = proof.check();
    if errors.is_empty() && ctx.out.verbose {
        ctx.out.note(format_args!(
            "leaf {} ({}) is in the tree of size {} with root {}",
            proof.leaf_index, proof.receipt_next_root, proof.size, proof.root
        ));
    }
    let mut findings = msez::verdict::Findings::default();
    findings.extend(&errors);
    let computed = serde_json::json!({
        "size": proof.size,
        "leaf_index": proof.leaf_index,
        "root": root,
    });
    report(ctx, &findings, computed)
}

/// Renders a verifier's findings: `OK`, or each finding on stderr; `--json`: the verdict, its
/// exit code, the findings, the computed values and (when invalid) `reason`, the first finding,
/// as the single-finding verdict had it.
fn report(
    ctx: &Ctx,
    findings: &msez::verdict::Findings,
    computed: serde_json::Value,
) -> super::Result<ExitCode> {
    let code = findings.exit_code();
    let mut value = serde_json::json!({
        "verdict": findings.verdict(),
        "exit_code": code,
        "findings": findings.items(),
        "computed": computed,
    });
    if let Some(first) = findings.0.first() {
        value["reason"] = serde_json::to_value(first).unwrap_or_default();
    }
    if ctx.out.json {
        written(ctx.out.emit(&value, |_| Ok(())))?;
    } else if findings.is_empty() {
        written(ctx.out.emit(&value, |w| writeln!(w, "OK")))?;
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

fn verify_inclusion(args: VerifyInclusionArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let data = hex::decode(&args.leaf_data)
        .map_err(|e| msez::Error::Usage(format!("--leaf-data is not hex: {e}")))?;
    let root = flag_hash(&args.root, "--root")?;
    let path = read_hash_array(&args.proof, ctx)?;
    let leaf = mmr::rfc6962_leaf_hash(&data);
    verdict(
        ctx,
        mmr::verify_inclusion(args.index, args.size, &leaf, &path, &root),
    )
}

fn consistency(args: ConsistencyArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let (store, _) = load_store(&args.input, ctx)?;
    if args.new > store.size() {
        return Err(msez::Error::Usage(format!(
            "--new {} is larger than the {} leaves given",
            args.new,
            store.size()
        )));
    }
    let proof = mmr::consistency_proof(&store, args.old, args.new)?;
    written(ctx.out.emit(&proof, |w| json_line(w, &proof)))?;
    Ok(ExitCode::SUCCESS)
}

fn verify_consistency(args: VerifyConsistencyArgs, ctx: &Ctx) -> super::Result<ExitCode> {
    let old_root = flag_hash(&args.old_root, "--old-root")?;
    let new_root = flag_hash(&args.new_root, "--new-root")?;
    let proof = read_hash_array(&args.proof, ctx)?;
    // A proof that cannot be followed yields no roots to compare: that is its one finding.
    let (old_found, new_found) =
        match mmr::roots_from_consistency(args.old, args.new, &old_root, &proof) {
            Ok(roots) => roots,
            Err(e) => return verdict(ctx, Err(e)),
        };
    // Both roots are compared (docs/verdicts.md): a wrong old root never hides a wrong new one.
    let mut findings = msez::verdict::Findings::default();
    for (size, expected, found) in [
        (args.old, old_root, old_found),
        (args.new, new_root, new_found),
    ] {
        if expected != found {
            findings.push(&mmr::Error::RootMismatch {
                size,
                expected,
                found,
            });
        }
    }
    let computed = serde_json::json!({
        "old_size": args.old,
        "old_root": old_found,
        "new_size": args.new,
        "new_root": new_found,
    });
    report(ctx, &findings, computed)
}

/// Turns a verifier's answer into output and an exit code: a mismatch or a malformed proof is
/// an `invalid` verdict; anything else (bad arguments, I/O) stays an error.
fn verdict(ctx: &Ctx, result: Result<(), mmr::Error>) -> super::Result<ExitCode> {
    match result {
        Ok(()) => report(
            ctx,
            &msez::verdict::Findings::default(),
            serde_json::Value::Null,
        ),
        Err(e) if matches!(e.class(), Class::Digest | Class::Schema) => {
            let mut findings = msez::verdict::Findings::default();
            findings.push(&e);
            report(ctx, &findings, serde_json::Value::Null)
        }
        Err(e) => Err(e.into()),
    }
}

fn json_line<T: serde::Serialize>(w: &mut dyn std::io::Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::other)?;
    writeln!(w)
}

fn flag_hash(s: &str, flag: &str) -> super::Result<Hash> {
    mmr::parse_hash(s, flag).map_err(|e| msez::Error::Usage(e.to_string()))
}

/// Loads leaves into a store; the flag says whether they were MSEZ next_roots.
fn load_store(input: &LeavesArgs, ctx: &Ctx) -> super::Result<(MemStore, bool)> {
    match (&input.leaves, &input.leaf_data) {
        (Some(file), _) => {
            let next_roots = read_next_roots(file, ctx)?;
            let bar = Progress::new(ctx, next_roots.len());
            let mut store = MemStore::new();
            for next_root in &next_roots {
                store.append(mmr::leaf_hash(next_root));
                bar.tick();
            }
            Ok((store, true))
        }
        (None, Some(file)) => {
            let lines = lines(file, ctx)?;
            let bar = Progress::new(ctx, lines.len());
            let mut store = MemStore::new();
            for (i, line) in lines.iter().enumerate() {
                let data = hex::decode(line).map_err(|_| mmr::Error::BadHash {
                    what: format!("{} line {}", file.display(), i + 1),
                    found: line.chars().take(80).collect(),
                })?;
                store.append(mmr::rfc6962_leaf_hash(&data));
                bar.tick();
            }
            Ok((store, false))
        }
        (None, None) => Err(msez::Error::Usage("give --leaves or --leaf-data".into())),
    }
}

fn read_next_roots(file: &Path, ctx: &Ctx) -> super::Result<Vec<Hash>> {
    lines(file, ctx)?
        .iter()
        .enumerate()
        .map(|(i, line)| {
            Ok(mmr::parse_hash(
                line,
                &format!("{} line {}", file.display(), i + 1),
            )?)
        })
        .collect()
}

/// The lines of a text file: `\n` or `\r\n` separated, a final newline ends the last line.
fn lines(file: &Path, ctx: &Ctx) -> super::Result<Vec<String>> {
    let bytes = read_input(Some(file), ctx)?;
    let text = String::from_utf8(bytes).map_err(|_| mmr::Error::BadHash {
        what: file.display().to_string(),
        found: "<not UTF-8>".into(),
    })?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let body = text.strip_suffix('\n').unwrap_or(&text);
    Ok(body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect())
}

fn read_hash_array(file: &Path, ctx: &Ctx) -> super::Result<Vec<Hash>> {
    let bytes = read_input(Some(file), ctx)?;
    let value = msez::canon::parse(&bytes)?;
    let items = value.as_array().ok_or_else(|| mmr::Error::MalformedProof {
        field: file.display().to_string(),
        reason: "must be a JSON array of 64-hex strings".into(),
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let what = format!("{}[{i}]", file.display());
            match item.as_str() {
                Some(s) => Ok(mmr::parse_hash(s, &what)?),
                None => Err(mmr::Error::MalformedProof {
                    field: what,
                    reason: "must be a 64-hex string".into(),
                }
                .into()),
            }
        })
        .collect()
}

/// A progress bar on stderr while a large tree is built; drawn only when the output policy allows.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    /// Below this many leaves the tree is built before a bar could be seen.
    const MIN_LEAVES: usize = 1 << 18;

    fn new(ctx: &Ctx, leaves: usize) -> Self {
        let show = ctx.out.progress && leaves >= Self::MIN_LEAVES;
        Progress(show.then(|| indicatif::ProgressBar::new(leaves as u64)))
    }

    fn tick(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
