//! `msez generate`: man pages and shell completions cover every command that `--help` lists.

use crate::util::Dir;

/// Every command path (`["asset", "state"]`, ...) reachable through the `Commands:` sections
/// of `--help`, found by walking the help text (not the generator's own list).
fn command_paths(dir: &Dir) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = dir.run(&args);
        let help = run.ok();
        // `Commands:`, or the groups of the top-level help (`Inspect:` ...): every section
        // whose heading is not one of clap's other headings.
        let mut commands = Vec::new();
        let mut in_section = false;
        for line in help.lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                in_section = !matches!(
                    line,
                    "Options:" | "Global options:" | "Arguments:" | "Example:" | "Examples:"
                );
                continue;
            }
            if in_section {
                commands.push(line);
            }
        }
        for line in commands {
            // Command lines are indented two spaces; a section ends at its first blank line.
            let Some(name) = line
                .strip_prefix("  ")
                .and_then(|l| l.split_whitespace().next())
            else {
                continue;
            };
            if name == "help" {
                continue;
            }
            let mut sub = path.clone();
            sub.push(name.to_string());
            found.push(sub.clone());
            todo.push(sub);
        }
    }
    found
}

#[test]
fn man_pages_and_bash_completions_cover_every_subcommand() {
    let dir = Dir::new();
    let paths = command_paths(&dir);
    assert!(paths.len() > 40, "too few commands found: {paths:?}");
    assert!(paths.contains(&vec!["asset".into(), "state".into(), "receipt-init".into()]));

    let run = dir.run(&["--json", "generate", "man", "man"]);
    let pages = run.json()["pages"].clone();
    assert!(dir.join("man/msez.1").is_file());
    for path in &paths {
        let file = format!("msez-{}.1", path.join("-"));
        let text = std::fs::read_to_string(dir.join("man").join(&file))
            .unwrap_or_else(|e| panic!("no man page {file}: {e}"));
        assert!(text.contains(".SH NAME"), "{file} is not a man page");
        assert!(text.contains(&format!("msez {}", path.join(" ")).replace('-', "\\-")));
        assert!(pages.as_array().unwrap().iter().any(|p| p == file.as_str()));
    }

    let run = dir.run(&["generate", "completions", "bash"]);
    let bash = run.ok();
    assert!(
        bash.contains("complete -F _msez"),
        "not a bash completion script"
    );
    for path in &paths {
        let name = path.last().unwrap();
        assert!(bash.contains(name.as_str()), "bash completions miss {name}");
        // The script has a case arm for every command path.
        let arm = format!("msez__subcmd__{}", path.join("__subcmd__")).replace('-', "__subcmd__");
        assert!(bash.contains(&arm), "bash completions miss {arm}");
    }
    // The generator is hidden from users' help.
    assert!(!dir.run(&["--help"]).ok().contains("generate"));
}
