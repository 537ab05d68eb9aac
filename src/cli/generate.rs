//! `msez generate man DIR` and `msez generate completions SHELL`: man pages and shell
//! completions rendered from the same clap definitions that parse the arguments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    let mut root = super::command();
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
            let dynamic = match shell {
                clap_complete::Shell::Bash => super::complete::BASH,
                clap_complete::Shell::Zsh => super::complete::ZSH,
                clap_complete::Shell::Fish => super::complete::FISH,
                _ => "",
            };
            script.extend_from_slice(dynamic.as_bytes());
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
    let out = render_page(cmd).map_err(|e| msez::Error::io("rendering a man page", &path, e))?;
    msez::fs::write(&path, &out, msez::fs::PUBLIC)
        .map_err(|e| msez::Error::io("writing a man page", &path, e.source))?;
    pages.push(file);
    // clap's own `help` subcommand is left out: `msez help X` is `man msez-X`.
    let subs = cmd.get_subcommands();
    for sub in subs.filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        write_pages(sub, dir, pages)?;
    }
    Ok(())
}

/// The variables every page documents (docs/cli.md, "Global flags").
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "MSEZ_CHDIR",
        "as -C DIR: run as if msez was started in DIR.",
    ),
    (
        "MSEZ_JSON",
        "as --json (on unless empty, 0, false, no, off, n or f).",
    ),
    ("MSEZ_QUIET", "as -q."),
    ("MSEZ_VERBOSE", "as -v."),
    ("MSEZ_NO_PROGRESS", "as --no-progress."),
    (
        "NO_COLOR",
        "any value: no colour in help and errors, even with CLICOLOR_FORCE.",
    ),
    (
        "AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE, AWS_ALLOW_HTTP",
        "S3 remotes: endpoint and credentials (docs/credentials.md).",
    ),
    (
        "SOURCE_DATE_EPOCH",
        "the default receipt and checkpoint timestamp.",
    ),
    (
        "MSEZ_DIR, MSEZ_REF, MSEZ_OLD, MSEZ_NEW, MSEZ_EVENT, MSEZ_REASON",
        "set by msez for hooks (docs/hooks.md); not read as flags.",
    ),
];

/// The example lines of a command: its after-help (or long about) from an `Example:` line on.
fn examples(cmd: &clap::Command) -> Vec<String> {
    let mut texts = Vec::new();
    for t in [
        cmd.get_after_long_help(),
        cmd.get_after_help(),
        cmd.get_long_about(),
    ]
    .into_iter()
    .flatten()
    {
        texts.push(t.to_string());
    }
    for text in texts {
        let mut out = Vec::new();
        let mut on = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(rest) = trimmed
                .strip_prefix("Examples:")
                .or_else(|| trimmed.strip_prefix("Example:"))
            {
                on = true;
                let rest = rest.trim().trim_matches('`');
                if !rest.is_empty() {
                    out.push(rest.to_string());
                }
            } else if on {
                if trimmed.is_empty() && !out.is_empty() {
                    break;
                }
                if !trimmed.is_empty() {
                    out.push(trimmed.to_string());
                }
            }
        }
        if !out.is_empty() {
            return out;
        }
    }
    Vec::new()
}

/// One man page: clap_mangen's sections, then EXAMPLES (the command's examples) and
/// ENVIRONMENT, where mangen would put its free-form EXTRA section.
fn render_page(cmd: &clap::Command) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out)?;
    }
    let ex = examples(cmd);
    let mut text = String::new();
    if !ex.is_empty() {
        text.push_str(".SH EXAMPLES\n.nf\n");
        for line in &ex {
            text.push_str(&roff_line(line));
        }
        text.push_str(".fi\n");
    }
    text.push_str(".SH ENVIRONMENT\n");
    for (name, what) in ENVIRONMENT {
        text.push_str(".TP\n");
        text.push_str(&format!("\\fB{}\\fR\n", roff_escape(name)));
        text.push_str(&roff_line(what));
    }
    out.extend_from_slice(text.as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// Text made safe for roff: backslashes escaped, minus signs as `\-` (so a copied example
/// has ASCII hyphens).
fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// One line of roff text (a leading `.` or `'` would be a request).
fn roff_line(text: &str) -> String {
    let t = roff_escape(text);
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}\n")
    } else {
        format!("{t}\n")
    }
}
