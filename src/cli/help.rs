//! `msez --help` grouped as git's: what to type to start, record, verify, share and inspect,
//! then the plumbing. The groups name commands; each line's text is the command's own `about`,
//! so the listing cannot drift from the definitions (a test checks every visible command is in
//! exactly one group). A name msez does not have is left out.

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
    ("verify", &["audit", "fsck", "artifact", "tlog", "witness"]),
    (
        "share: remotes and mounts",
        &["remote", "ls-remote", "push", "fetch", "pull", "mount"],
    ),
    ("inspect", &["status", "log", "show", "refs", "reflog"]),
    (
        "plumbing and maintenance",
        &[
            "update-ref",
            "canon",
            "digest",
            "mmr",
            "gc",
            "repack",
            "recover",
        ],
    ),
];

/// One example per top-level command, shown at the end of its `--help` and as the EXAMPLES of
/// its man page (`checkout` and `remote` carry their own). A name msez does not have is skipped.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("init", "msez init"),
    ("quickstart", "msez quickstart demo"),
    ("canon", "msez canon genesis.json | sha256sum"),
    (
        "digest",
        "msez digest --type smart-asset-genesis genesis.json",
    ),
    (
        "update-ref",
        "msez update-ref refs/tags/audited 3f2a9c1 --old none",
    ),
    ("refs", "msez refs"),
    ("reflog", "msez reflog assets/<asset_id>/core/head"),
    ("log", "msez log assets/<asset_id>/core/head -n 10"),
    ("status", "msez status"),
    ("add", "msez add modules/smart-assets/<asset_id>"),
    ("fsck", "msez fsck --strict"),
    ("audit", "msez audit asset.zip --html report.html"),
    ("key", "msez key gen --out operator.jwk"),
    ("mmr", "msez mmr root --leaves next_roots.txt"),
    ("push", "msez push origin"),
    ("fetch", "msez fetch origin"),
    ("pull", "msez pull origin"),
    ("clone", "msez clone s3://audit-bucket/msez work"),
    ("mount", "msez mount . /mnt/msez --foreground"),
    ("generate", "msez generate man /usr/local/share/man/man1"),
    ("gc", "msez gc --dry-run"),
    ("repack", "msez repack"),
    (
        "artifact",
        "msez artifact put report.pdf --type blob\n  msez artifact get blob:3f2a9c1 --out copy.pdf",
    ),
    (
        "show",
        "msez show assets/<asset_id>/core/head\n  msez show 3f2a9c1",
    ),
    (
        "asset",
        "msez asset module init --genesis genesis.json\n  msez asset state receipt-init <asset_id> --transition t.json --key operator.jwk",
    ),
    (
        "corridor",
        "msez corridor state verify modules/corridors/<corridor_id>",
    ),
    (
        "vc",
        "msez vc sign credential.json --key operator.jwk --out signed.json",
    ),
    (
        "registry",
        "msez registry transition-types lock registries/transition-types.yaml",
    ),
    ("recover", "msez recover"),
    (
        "tlog",
        "msez tlog publish modules/smart-assets/<asset_id> /srv/log --key operator.jwk",
    ),
    (
        "witness",
        "msez witness serve --key w.jwk --name example.org/w1 --state w1/",
    ),
];

/// The root command with the grouped listing as its help, and each command's example.
pub fn grouped(mut cmd: clap::Command) -> clap::Command {
    for (name, example) in EXAMPLES {
        if cmd.find_subcommand(name).is_some() {
            cmd = cmd.mut_subcommand(name, |c| c.after_help(format!("Example:\n  {example}")));
        }
    }
    let mut text = String::new();
    for (title, names) in GROUPS {
        text.push_str(&format!("{}:\n", capitalize(title)));
        for name in names.iter().filter(|n| cmd.find_subcommand(n).is_some()) {
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
