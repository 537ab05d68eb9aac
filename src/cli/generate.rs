//! `msez generate man DIR` and `msez generate completions SHELL`: man pages and shell
//! completions rendered from the same clap definitions that parse the arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

use super::{Ctx, written};

/// `msez generate` (hidden: for packagers, not for day-to-day use).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write one roff man page per command and subcommand (msez.1, msez-asset-state.1, ...).
    Man {
        /// The directory to write into (created if missing).
        dir: PathBuf,
    },
    /// Print the completion script of SHELL on stdout.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Runs `msez generate ...`.
pub fn run(cmd: Command, ctx: &Ctx) -> super::Result<ExitCode> {
    let mut root = super::Args::command();
    root.build();
    match cmd {
        Command::Man { dir } => {
            let dir = ctx.path(&dir);
            std::fs::create_dir_all(&dir)
                .map_err(|e| msez::Error::io("creating the man directory", &dir, e))?;
            let mut pages = Vec::new();
            write_pages(&root, &dir, &mut pages)?;
            let value = serde_json::json!({"dir": dir, "pages": pages});
            written(ctx.out.emit(&value, |w| {
                for p in &pages {
                    writeln!(w, "{p}")?;
                }
                Ok(())
            }))?;
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut root, "msez", &mut script);
            written(ctx.out.raw(&script))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the page of `cmd` and of every visible subcommand below it, recording the file names
/// in `pages`.
fn write_pages(cmd: &clap::Command, dir: &Path, pages: &mut Vec<String>) -> super::Result<()> {
    // A built command's display name is its full path (`msez-asset-state`), as man expects.
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let file = format!("{name}.1");
    let path = dir.join(&file);
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .map_err(|e| msez::Error::io("rendering a man page", &path, e))?;
    std::fs::write(&path, out).map_err(|e| msez::Error::io("writing a man page", &path, e))?;
    pages.push(file);
    // clap's own `help` subcommand is left out: `msez help X` is `man msez-X`.
    let subs = cmd.get_subcommands();
    for sub in subs.filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        write_pages(sub, dir, pages)?;
    }
    Ok(())
}
