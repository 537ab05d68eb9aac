//! Dynamic completion: `msez __complete remotes|refs|modules` prints the candidates one per
//! line for the shell function `msez generate completions bash` installs (the static script
//! clap generates knows the commands and flags, not what is in the repository). Never fails:
//! outside a repository it prints nothing.

use std::process::ExitCode;

use super::{Ctx, written};

/// `msez __complete KIND` (hidden).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// remotes, refs or modules.
    #[arg(value_parser = ["remotes", "refs", "modules"])]
    pub kind: String,
}

/// The candidates of `kind` in the repository enclosing the working directory.
fn candidates(kind: &str, ctx: &Ctx) -> Vec<String> {
    let Ok(Some(repo)) = msez::odb::Repo::find(&ctx.cwd) else {
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
            let mut ids = msez::chain::checkout::asset_ids(&repo).unwrap_or_default();
            let dir = repo.worktree().join(msez::chain::module::ASSETS_DIR);
            if let Ok(entries) = std::fs::read_dir(dir) {
                ids.extend(
                    entries
                        .flatten()
                        .filter(|e| e.path().join("asset.yaml").is_file())
                        .filter_map(|e| e.file_name().to_str().map(str::to_string)),
                );
            }
            ids.sort();
            ids.dedup();
            ids
        }
    }
}

/// Prints the candidates.
pub fn run(args: Args, ctx: &Ctx) -> super::Result<ExitCode> {
    let list = candidates(&args.kind, ctx);
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
    local cur=${COMP_WORDS[COMP_CWORD]} kind="" cmd="" sub="" cdir="" pos=0 i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -C) ((i++)); cdir=${COMP_WORDS[i]} ;;
            -*) ;;
            *)
                if [[ -z $cmd ]]; then cmd=${COMP_WORDS[i]}
                elif [[ -z $sub ]]; then sub=${COMP_WORDS[i]}
                fi
                ((pos++)) ;;
        esac
    done
    case "$cmd:$pos" in
        push:1 | fetch:1 | pull:1 | ls-remote:1 | gc:1) kind=remotes ;;
        remote:2) case $sub in show | rename | set-url | remove) kind=remotes ;; esac ;;
        log:1 | show:1 | reflog:1 | update-ref:1) kind=refs ;;
        checkout:1 | add:*) kind=modules ;;
        asset:3) [[ $sub == state || $sub == module ]] && kind=modules ;;
    esac
    if [[ -n $kind && $cur != -* ]]; then
        COMPREPLY=($(compgen -W "$(msez ${cdir:+-C "$cdir"} __complete "$kind" 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _msez "$@"
}
complete -F _msez_dynamic -o nosort -o bashdefault -o default msez
"#;
