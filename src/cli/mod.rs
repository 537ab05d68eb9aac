//! The command line: clap definitions, argument resolution, and rendering. No hashing here.

/// `eprintln!` for every command module: a closed stderr (`msez ... 2>&1 | head -3`) makes the
/// line vanish instead of panicking (std's panics, and the panic message then fails too,
/// exit 101). Declared before the modules so it shadows std's in all of them.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod artifact;
pub mod asset;
mod audit;
mod bundle;
mod canon;
mod car;
mod checkout;
mod complete;
mod corridor;
mod gc;
mod generate;
mod help;
mod key;
mod mmr;
mod mount;
mod output;
mod picture;
mod progress;
mod quickstart;
mod recover;
mod registry;
mod remote;
mod remote_stats;
mod repack;
mod repo;
mod share;
mod signals;
mod state;
mod sync;
mod tlog;
mod tlog_inclusion;
mod tlog_remote;
mod vc;
mod worktree;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::FalseyValueParser;
use clap::{Parser, Subcommand};

pub use output::Out;

/// msez: a content-addressed store for signed, hash-chained records.
#[derive(Debug, Parser)]
#[command(name = "msez", version, about, long_about = None, propagate_version = true)]
pub struct Args {
    /// Run as if msez was started in DIR.
    #[arg(
        short = 'C',
        global = true,
        value_name = "DIR",
        env = "MSEZ_CHDIR",
        help_heading = "Global options"
    )]
    pub chdir: Option<PathBuf>,
    /// Print one JSON document on stdout and nothing else there.
    #[arg(long, global = true, env = "MSEZ_JSON", help_heading = "Global options", value_parser = FalseyValueParser::new())]
    pub json: bool,
    /// Drop progress, notes, warnings and confirmations; results and errors still print.
    #[arg(short, long, global = true, env = "MSEZ_QUIET", help_heading = "Global options", value_parser = FalseyValueParser::new())]
    pub quiet: bool,
    /// Say more on stderr.
    #[arg(short, long, global = true, env = "MSEZ_VERBOSE", help_heading = "Global options", value_parser = FalseyValueParser::new())]
    pub verbose: bool,
    /// Never draw progress bars.
    #[arg(long, global = true, env = "MSEZ_NO_PROGRESS", help_heading = "Global options", value_parser = FalseyValueParser::new())]
    pub no_progress: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Every command family.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a repository (DIR/.msez); refuses to clobber one.
    Init(repo::InitArgs),
    /// Run the whole operator flow on the embedded default and print what it made.
    Quickstart(quickstart::Args),
    /// Store, fetch and resolve artifacts.
    #[command(subcommand)]
    Artifact(artifact::Command),
    /// Print the canonical bytes (MSEZ JCS subset) of a JSON document.
    Canon(canon::CanonArgs),
    /// Print the semantic digest of one artifact.
    Digest(canon::DigestArgs),
    /// Plumbing: move a ref under its lock, compare-and-swap on the old value.
    UpdateRef(repo::UpdateRefArgs),
    /// List refs and what they point at.
    Refs(repo::RefsArgs),
    /// Show one object (with the union of its proofs).
    Show(repo::ShowArgs),
    /// Show the reflog of a ref (every move, newest first).
    Reflog(repo::ReflogArgs),
    /// Walk a receipt chain newest-first (sequence, next_root, timestamp, signers).
    Log(worktree::LogArgs),
    /// Per chain: module files not in .msez, ahead/behind each remote, kept forks.
    Status(worktree::StatusArgs),
    /// Import receipts and checkpoints made by other tools, after verifying them.
    Add(worktree::AddArgs),
    /// Write a module's working tree (asset.yaml and genesis, or corridor.yaml and its VCs; receipts, checkpoints) from .msez.
    Checkout(checkout::Args),
    /// Check the repository: digests, proofs (--strict), refs, temp files.
    Fsck(repo::FsckArgs),
    /// Complete appends and checkpoints a crash interrupted after their journal; rebuild MMR state.
    Recover(recover::RecoverArgs),
    /// The whole auditor checklist for a bundle, module directory or repository.
    Audit(audit::Args),
    /// Smart assets: module layout and receipt chains.
    #[command(subcommand)]
    Asset(asset::Command),
    /// Corridors: module layout and receipt chains.
    #[command(subcommand)]
    Corridor(corridor::Command),
    /// Ed25519 keys.
    #[command(subcommand)]
    Key(key::Command),
    /// Verifiable credentials: sign and verify MsezEd25519Signature2025 proofs.
    #[command(subcommand)]
    Vc(vc::Command),
    /// Registries: the transition-type lock (Layer 1).
    #[command(subcommand)]
    Registry(registry::Command),
    /// Merkle Mountain Range plumbing (RFC 6962 / 9162 compatible).
    #[command(subcommand)]
    Mmr(mmr::Command),
    /// Named remotes: add, remove, list, show, rename, set-url; `remote -v` (docs/remotes.md).
    Remote(remote::Args),
    /// List the refs a remote holds now (default: origin).
    LsRemote(remote::LsRemoteArgs),
    /// Send objects, proofs and refs to a remote; refs move last, by conditional writes.
    Push(sync::PushArgs),
    /// Download and verify what a remote has; move refs/remotes/NAME/...
    Fetch(sync::FetchArgs),
    /// fetch, then fast-forward local refs (a diverged ref: exit 69, both kept).
    Pull(sync::FetchArgs),
    /// Create a repository from a remote: init, remote origin, pull.
    Clone(sync::CloneArgs),
    /// Mount a repository or a remote read-only (FUSE) for ls, cat, jq, sha256sum, diff.
    Mount(mount::Args),
    /// Completion candidates for the shell (remotes, refs, module ids), one per line.
    #[command(name = "__complete", hide = true)]
    Complete(complete::Args),
    /// Man pages and shell completions from these definitions (for packagers).
    #[command(subcommand, hide = true)]
    Generate(generate::Command),
    /// Transparency-log interop: C2SP checkpoint notes, static tiles, their client (docs/tlog.md).
    #[command(subcommand)]
    Tlog(tlog::Command),
    /// A tlog-witness: cosign logs' checkpoints that extend what it cosigned (docs/tlog.md).
    #[command(subcommand)]
    Witness(tlog::WitnessCommand),
    /// Delete unreachable objects (locally or on a remote), in two phases: mark, then sweep.
    Gc(gc::GcArgs),
    /// Consolidate every pack (and loose JSON object) into one pack, with a multi-pack index.
    Repack(repack::RepackArgs),
}

/// What every command gets: where it runs and how to talk.
pub struct Ctx {
    /// The working directory (after `-C`).
    pub cwd: PathBuf,
    /// The output policy.
    pub out: Out,
}

impl Ctx {
    /// Resolves a user-given path against the working directory.
    pub fn path(&self, p: &std::path::Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.cwd.join(p)
        }
    }
}

/// A command's result: its exit code, or the error that stopped it.
pub type Result<T = ExitCode> = std::result::Result<T, msez::Error>;

/// Parses the arguments, runs the command, prints errors once, and returns the exit code.
/// Raises the soft limit on open files to the hard one (as Go programs do at start): a batch
/// keeps each new working-tree file open until its commit links them all. Past the limit it
/// stages named temp files instead, so this only makes large batches cheaper.
fn raise_open_file_limit() {
    // SAFETY: `lim` is a zeroed rlimit (plain integers) filled by getrlimit before it is read,
    // and a valid pointer for both calls.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

pub fn main() -> ExitCode {
    signals::install();
    let args = match command()
        .try_get_matches()
        .and_then(|m| <Args as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(args) => args,
        Err(e) => return usage_error(e),
    };
    raise_open_file_limit();
    let out = Out::new(args.json, args.quiet, args.verbose, args.no_progress);
    let cwd = match std::env::current_dir() {
        Ok(cwd) => args.chdir.as_ref().map(|d| cwd.join(d)).unwrap_or(cwd),
        Err(e) => {
            out.error(&msez::Error::io("reading the current directory", ".", e));
            return ExitCode::from(msez::Class::Io.exit_code());
        }
    };
    let ctx = Ctx { cwd, out };
    let result = match args.command {
        Command::Init(a) => repo::init(a, &ctx),
        Command::Quickstart(a) => quickstart::run(a, &ctx),
        Command::Artifact(c) => artifact::run(c, &ctx),
        Command::Canon(a) => canon::canon(a, &ctx),
        Command::Digest(a) => canon::digest(a, &ctx),
        Command::UpdateRef(a) => repo::update_ref(a, &ctx),
        Command::Refs(a) => repo::refs(a, &ctx),
        Command::Show(a) => repo::show(a, &ctx),
        Command::Reflog(a) => repo::reflog(a, &ctx),
        Command::Log(a) => worktree::log(a, &ctx),
        Command::Status(a) => worktree::status(a, &ctx),
        Command::Add(a) => worktree::add(a, &ctx),
        Command::Checkout(a) => checkout::run(a, &ctx),
        Command::Fsck(a) => repo::fsck(a, &ctx),
        Command::Recover(a) => recover::recover(a, &ctx),
        Command::Audit(a) => audit::run(a, &ctx),
        Command::Asset(c) => asset::run(c, &ctx),
        Command::Corridor(c) => corridor::run(c, &ctx),
        Command::Key(c) => key::run(c, &ctx),
        Command::Vc(c) => vc::run(c, &ctx),
        Command::Mmr(c) => mmr::run(c, &ctx),
        Command::Registry(c) => registry::run(c, &ctx),
        Command::Remote(c) => remote::run(c, &ctx),
        Command::LsRemote(a) => remote::ls_remote(a, &ctx),
        Command::Push(a) => sync::push(a, &ctx),
        Command::Fetch(a) => sync::fetch(a, &ctx),
        Command::Pull(a) => sync::pull(a, &ctx),
        Command::Clone(a) => sync::clone(a, &ctx),
        Command::Mount(a) => mount::run(a, &ctx),
        Command::Complete(a) => complete::run(a, &ctx),
        Command::Generate(c) => generate::run(c, &ctx),
        Command::Gc(a) => gc::run(a, &ctx),
        Command::Repack(a) => repack::run(a, &ctx),
        Command::Tlog(c) => tlog::run(c, &ctx),
        Command::Witness(c) => tlog::run_witness(c, &ctx),
    };
    if signals::interrupted() {
        // A command that stops at a safe point on Ctrl-C: it left nothing half-written.
        ctx.out.error(&msez::Error::Usage(
            "interrupted (Ctrl-C); nothing half-written".into(),
        ));
        return ExitCode::from(signals::EXIT_INTERRUPTED);
    }
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            ctx.out.error(&err);
            ExitCode::from(msez::Classify::class(&err).exit_code())
        }
    }
}

/// The command line's definition, with the grouped top-level help.
pub fn command() -> clap::Command {
    help::grouped(<Args as clap::CommandFactory>::command())
}

/// Whether `--json` (or MSEZ_JSON) asked for JSON, read from the raw arguments: for errors
/// of the arguments themselves, before clap has parsed them.
fn json_requested() -> bool {
    let env = std::env::var_os("MSEZ_JSON").is_some_and(|v| {
        !v.is_empty()
            && !["0", "false", "no", "off", "n", "f"]
                .iter()
                .any(|f| v.eq_ignore_ascii_case(f))
    });
    env || std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// Renders a clap error: help and version as clap prints them (exit 0), anything else as
/// usage (64), as the JSON error document when JSON was asked for.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    // Help and version are what was asked for, whatever the output mode.
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if json_requested() {
        // clap's text, without its styling and its trailing "For more information" line.
        let text = e.render().to_string();
        let message = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
            .map(|l| l.strip_prefix("error: ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        Out::new(true, false, false, true).error(&msez::Error::Usage(message));
    } else {
        let _ = e.print();
    }
    ExitCode::from(msez::Class::Usage.exit_code())
}

fn is_broken_pipe(err: &msez::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        source = e.source();
    }
    false
}

/// Turns an output error (stdout closed, disk full) into a library error.
pub fn written(r: std::io::Result<()>) -> Result<()> {
    r.map_err(|e| msez::Error::io("writing output to", "<stdout>", e))
}

/// Reads a file argument, or stdin for `-` / none.
pub fn read_input(path: Option<&std::path::Path>, ctx: &Ctx) -> Result<Vec<u8>> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let p = ctx.path(p);
            std::fs::read(&p).map_err(|e| msez::Error::io("reading", p, e))
        }
        _ => {
            use std::io::Read;
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| msez::Error::io("reading", "<stdin>", e))?;
            Ok(buf)
        }
    }
}
