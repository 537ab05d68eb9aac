//! Dynamic completion: `msez __complete remotes|refs|modules` prints the candidates one per
//! line, and `msez __complete context WORD...` those that fit after the words typed so far (the
//! shell functions `msez generate completions bash|zsh|fish` install pass them, so which
//! argument takes a remote, a ref or a module id is decided here, once, for every shell; the
//! static script clap generates knows the commands and flags, not what is in the repository).
//! Never fails: outside a repository, or where no such argument fits, it prints nothing.

use std::process::ExitCode;

use super::{Ctx, written};

/// `msez __complete KIND` (hidden).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// remotes, refs or modules; or context, followed by the words typed after `msez`.
    #[arg(value_parser = ["remotes", "refs", "modules", "context"])]
    pub kind: String,
    /// With context: the words before the one being completed (`-C DIR` among them counts).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

/// Which kind of candidate fits the next word after `words` (the words after `msez`), and the
/// `-C` directory among them.
fn context(words: &[String]) -> (Option<&'static str>, Option<&str>) {
    let (mut positional, mut dir) = (Vec::new(), None);
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w == "-C" {
            dir = it.next().map(String::as_str);
        } else if !w.starts_with('-') {
            positional.push(w.as_str());
        }
    }
    let sub = positional.get(1).copied().unwrap_or_default();
    let kind = match (
        positional.first().copied().unwrap_or_default(),
        positional.len(),
    ) {
        ("push" | "fetch" | "pull" | "ls-remote" | "gc", 1) => Some("remotes"),
        ("remote", 2) if matches!(sub, "show" | "rename" | "set-url" | "remove") => Some("remotes"),
        ("log" | "show" | "reflog" | "update-ref", 1) => Some("refs"),
        ("checkout", 1) => Some("modules"),
        ("add", _) => Some("assets"),
        ("asset", 3) if matches!(sub, "state" | "module") => Some("assets"),
        ("corridor", 3) if sub == "state" => Some("corridors"),
        _ => None,
    };
    (kind, dir)
}

/// The candidates of `kind` in the repository enclosing `cwd`.
fn candidates(kind: &str, cwd: &std::path::Path) -> Vec<String> {
    let Ok(Some(repo)) = msez::odb::Repo::find(cwd) else {
        return Vec::new();
    };
    match kind {
        "remotes" => repo.config().remote.keys().cloned().collect(),
        "refs" => repo
            .refs()
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(n, _)| {
                let full = n.to_string();
                let short = full.strip_prefix("refs/").unwrap_or(&full).to_string();
                [full, short]
            })
            .collect(),
        _ => {
            // Module ids: asset_ids, corridor ids, or (for `checkout`) both.
            let mut ids = Vec::new();
            let mut folders = |dir: &str, file: &str| {
                if let Ok(entries) = std::fs::read_dir(repo.worktree().join(dir)) {
                    ids.extend(
                        entries
                            .flatten()
                            .filter(|e| e.path().join(file).is_file())
                            .filter_map(|e| e.file_name().to_str().map(str::to_string)),
                    );
                }
            };
            if kind != "corridors" {
                folders(msez::chain::module::ASSETS_DIR, "asset.yaml");
            }
            if kind != "assets" {
                folders(msez::chain::corridor::CORRIDORS_DIR, "corridor.yaml");
            }
            if kind != "corridors" {
                ids.extend(msez::chain::checkout::asset_ids(&repo).unwrap_or_default());
            }
            if kind != "assets" {
                ids.extend(msez::chain::corridor_object::corridor_ids(&repo).unwrap_or_default());
            }
            ids.sort();
            ids.dedup();
            ids
        }
    }
}

/// Prints the candidates.
pub fn run(args: Args, ctx: &Ctx) -> super::Result<ExitCode> {
    let list = match (args.kind.as_str(), context(&args.words)) {
        ("context", (Some(kind), dir)) => {
            candidates(kind, &ctx.path(std::path::Path::new(dir.unwrap_or("."))))
        }
        ("context", (None, _)) => Vec::new(),
        (kind, _) => candidates(kind, &ctx.cwd),
    };
    written(ctx.out.emit(&list, |w| {
        for c in &list {
            writeln!(w, "{c}")?;
        }
        Ok(())
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// The bash function that completes remotes, refs and module ids by asking msez, then falls
/// back to clap's static `_msez`.
pub const BASH: &str = r#"
# Dynamic completion (msez __complete): remotes, refs and module ids from the repository.
_msez_dynamic() {
    local cur=${COMP_WORDS[COMP_CWORD]} found
    if [[ $cur != -* ]]; then
        found=$(msez __complete context "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)
        if [[ -n $found ]]; then
            COMPREPLY=($(compgen -W "$found" -- "$cur"))
            return 0
        fi
    fi
    _msez "$@"
}
complete -F _msez_dynamic -o nosort -o bashdefault -o default msez
"#;

/// The zsh function: the same, over clap's `_msez`.
pub const ZSH: &str = r#"
# Dynamic completion (msez __complete): remotes, refs and module ids from the repository.
_msez_dynamic() {
    local -a found
    if [[ ${words[CURRENT]} != -* ]]; then
        found=(${(f)"$(msez __complete context ${words[2,CURRENT-1]} 2>/dev/null)"})
    fi
    if (( ${#found} )); then
        compadd -a found
    else
        _msez "$@"
    fi
}
compdef _msez_dynamic msez
"#;

/// The fish completions: candidates beside clap's static ones.
pub const FISH: &str = r#"
# Dynamic completion (msez __complete): remotes, refs and module ids from the repository.
function __msez_dynamic
    msez __complete context (commandline -opc)[2..-1] 2>/dev/null
end
complete -c msez -f -n 'test (count (__msez_dynamic)) -gt 0' -a '(__msez_dynamic)'
"#;
