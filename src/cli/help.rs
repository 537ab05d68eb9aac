//! `msez --help` grouped as git's: what to type to start, record, verify, share and inspect,
//! then the plumbing. The groups name commands; each line's text is the command's own `about`,
//! so the listing cannot drift from the definitions (a test checks every visible command is in
//! exactly one group).

/// The groups, in the order shown.
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "start a repository or a working tree",
        &["init", "quickstart", "clone", "checkout"],
    ),
    (
        "record: append, sign and import",
        &["asset", "corridor", "add", "key", "vc", "registry"],
    ),
    ("verify", &["fsck", "artifact"]),
    (
        "share: remotes and mounts",
        &["remote", "ls-remote", "push", "fetch", "pull", "mount"],
    ),
    ("inspect", &["status", "log", "show", "refs", "reflog"]),
    (
        "plumbing and maintenance",
        &["update-ref", "canon", "digest", "mmr", "gc"],
    ),
];

/// The root command with the grouped listing as its help.
pub fn grouped(cmd: clap::Command) -> clap::Command {
    let mut text = String::new();
    for (title, names) in GROUPS {
        text.push_str(&format!("{}:\n", capitalize(title)));
        for name in *names {
            let about = cmd
                .find_subcommand(name)
                .and_then(|c| c.get_about())
                .map(|a| a.to_string())
                .unwrap_or_default();
            text.push_str(&format!("  {name:<12} {about}\n"));
        }
        text.push('\n');
    }
    let template = format!(
        "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{text}Options:\n{{options}}\n{{after-help}}"
    );
    cmd.help_template(template).after_help(
        "Examples:\n  msez quickstart demo           the whole flow, with a summary\n  msez clone /srv/msez-remote work && cd work && msez checkout 3f2a9c1\n  msez status\n\n'msez help COMMAND' or 'msez COMMAND --help' for a command; man msez-COMMAND.",
    )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
