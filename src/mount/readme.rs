//! `README.txt` at the root of every mount: what is mounted, its chains, and for each kind of
//! file the one ordinary-tool command (sha256sum, jq) that checks it, run from the mount root.

use std::fmt::Write;

use crate::canon::{self, DigestRule};

use super::chains::Summary;
use super::store::digest_input_skip;

/// What a mount shows.
#[derive(Clone, Debug)]
pub enum Mounted {
    /// A repository, by its work tree.
    Repository(String),
    /// A witness bundle: its file or URL (redacted) and manifest digest.
    Bundle {
        /// The file or URL.
        source: String,
        /// SHA256(JCS(manifest.json)), when the manifest parses.
        manifest_digest: Option<String>,
    },
    /// A remote, by its URL (redacted).
    Remote(String),
}

/// The text of `README.txt`.
pub fn render(
    what: &Mounted,
    chains: &[Summary],
    problems: &[String],
    types: &[String],
) -> Vec<u8> {
    let mut o = String::new();
    let _ = match what {
        Mounted::Repository(p) => writeln!(o, "msez mount of the repository {p}"),
        Mounted::Bundle {
            source,
            manifest_digest,
        } => writeln!(
            o,
            "msez mount of the witness bundle {source}\nmanifest digest (SHA-256 of its canonical JSON): {}",
            manifest_digest
                .as_deref()
                .unwrap_or("(manifest.json does not parse)")
        ),
        Mounted::Remote(u) => writeln!(o, "msez mount of the remote {u}"),
    };
    o.push_str(
        "\nRead-only. Receipt and checkpoint files carry their document's timestamp as mtime;\n\
         head.json the head receipt's; everything else the newest of those (docs/mount.md).\n",
    );
    chain_lines(&mut o, chains);
    if !problems.is_empty() {
        o.push_str("\nChains not shown, because reading them failed:\n");
        for p in problems {
            let _ = writeln!(o, "  {p}");
        }
    }
    o.push_str(
        "\nChecking what you see. Run each command from this directory: it prints OK lines\n\
         (or nothing) and exits 0, or names what failed and exits non-zero. jq -cjS prints the\n\
         canonical JSON msez hashes for documents without integers beyond 2^53 or U+007F;\n\
         `msez canon FILE` prints it exactly. Signatures and the MMR: `msez asset state verify`.\n",
    );
    if let Mounted::Bundle { .. } = what {
        o.push_str(
            "\nbundle entries (raw/ is the zip as stored; the manifest lists each entry's SHA-256):\n  \
             jq -r '.bundle.entries[] | \"\\(.sha256)  \\(.path)\"' manifest.json | (cd raw && sha256sum -c --quiet) && echo \"entries OK\"\n\
             manifest digest (what attestations sign):\n  \
             msez canon manifest.json | sha256sum\n\
             a fresh offline verification of the whole bundle:\n  \
             jq -r .verdict verify-report.json\n",
        );
    }
    for s in chains {
        chain_checks(&mut o, s);
    }
    for t in types {
        let _ = writeln!(o, "\n{}", object_check(t));
    }
    o.into_bytes()
}

fn chain_lines(o: &mut String, chains: &[Summary]) {
    if chains.is_empty() {
        o.push_str("\nNo chains.\n");
        return;
    }
    o.push_str("\nChains (head.json in each directory says the same as JSON):\n");
    for s in chains {
        let name = s
            .asset_name
            .as_deref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let ck = s
            .checkpoints
            .keys()
            .last()
            .map(|n| format!(", checkpoint of {n}"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  {}/{name}: {} receipts, head {} {}{ck}",
            s.key.path(),
            s.size(),
            s.size().saturating_sub(1),
            s.next_root()
        );
    }
}

/// The checks of one chain's receipts and checkpoints.
fn chain_checks(o: &mut String, s: &Summary) {
    let dir = s.key.path();
    let _ = writeln!(
        o,
        "\n{dir}/receipts: each next_root is the SHA-256 of the receipt without proof and\n\
         next_root, and each prev_root is the next_root before it:\n  \
         (cd {dir}/receipts && for f in *.json; do test \"$(jq -cjS 'del(.proof, .next_root)' \"$f\" | sha256sum | cut -c1-64)\" = \"$(jq -r .next_root \"$f\")\" || {{ echo \"FAILED $f\"; exit 1; }}; done && echo \"next_root OK\")\n  \
         (cd {dir}/receipts && n=$(ls | wc -l) && for i in $(seq 1 $((n - 1))); do test \"$(jq -r .prev_root $i.json)\" = \"$(jq -r .next_root $((i - 1)).json)\" || {{ echo \"FAILED $i\"; exit 1; }}; done && echo \"links OK\")"
    );
    if let Some(n) = s.checkpoints.keys().last() {
        let field = crate::chain::checkpoint::final_field(s.key.kind);
        let _ = writeln!(
            o,
            "{dir}/checkpoints: a checkpoint of N receipts names receipt N-1's next_root:\n  \
             test \"$(jq -r .{field} {dir}/checkpoints/{n}.json)\" = \"$(jq -r .next_root {dir}/receipts/{}.json)\" && echo \"checkpoint {n} OK\"",
            n.saturating_sub(1)
        );
    }
}

/// The one command that checks the objects of `artifact_type` (from the mount root).
pub fn object_check(artifact_type: &str) -> String {
    let rule = canon::rule_for(artifact_type);
    let t = artifact_type;
    let each = |dir: &str| {
        format!(
            "(cd {dir}/{t} && for f in *; do echo \"${{f%%.*}}  $f\"; done | sha256sum -c --quiet && echo \"{t} OK\")"
        )
    };
    match (rule, digest_input_skip(rule)) {
        (DigestRule::Bytes, _) => format!(
            "objects/{t}: the SHA-256 of the file is its name:\n  {}",
            each("objects")
        ),
        (_, Some(skip)) => {
            let filter = match (rule, skip) {
                (DigestRule::TransitionTypesSnapshot, _) => ".snapshot".to_string(),
                (_, []) => ".".to_string(),
                (_, keys) => format!(
                    "del({})",
                    keys.iter()
                        .map(|k| format!(".{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            format!(
                "objects/{t}: the name is the SHA-256 of the canonical JSON of `jq '{filter}'` of the\n\
                 file ({}); digest-input/{t}/ shows exactly those bytes, so:\n  {}\n\
                 or for one file: jq -cjS '{filter}' objects/{t}/FILE | sha256sum",
                rule.method(),
                each("digest-input")
            )
        }
        (DigestRule::StateRoot, _) => format!(
            "objects/{t}: named by its own state_root_sha256 field (the state it commits to is not\n\
             in the file, so no hash of the file checks it):\n  \
             (cd objects/{t} && for f in *; do test \"$(jq -r .state_root_sha256 \"$f\").json\" = \"$f\" || {{ echo \"FAILED $f\"; exit 1; }}; done && echo \"{t} OK\")"
        ),
        _ => format!(
            "objects/{t}: named by the {} digest over its canonicalized parts, which no ordinary\n\
             tool computes:\n  \
             (cd objects/{t} && for f in *; do test \"$(msez digest --type {t} \"$f\")\" = \"${{f%%.*}}\" || {{ echo \"FAILED $f\"; exit 1; }}; done && echo \"{t} OK\")",
            rule.method()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_gets_its_own_check() {
        assert!(object_check("blob").contains("(cd objects/blob && "));
        let vc = object_check("vc");
        assert!(
            vc.contains("cd digest-input/vc") && vc.contains("del(.proof)"),
            "{vc}"
        );
        let r = object_check("smart-asset-receipt");
        assert!(r.contains("del(.proof, .next_root)"), "{r}");
        assert!(object_check("smart-asset-genesis").contains("del(.asset_id)"));
        assert!(object_check("schema").contains("jq -cjS '.'"));
        assert!(object_check("transition-types").contains(".snapshot"));
        assert!(object_check("smart-asset-checkpoint").contains("state_root_sha256"));
        assert!(object_check("lawpack").contains("msez digest --type lawpack"));
    }

    #[test]
    fn the_readme_names_the_source() {
        let problems = ["assets/x/core: object does not match its digest".to_string()];
        let text = render(
            &Mounted::Remote("s3://b/p".into()),
            &[],
            &problems,
            &["blob".into()],
        );
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with("msez mount of the remote s3://b/p\n"),
            "{text}"
        );
        assert!(text.contains("No chains."));
        assert!(text.contains("not shown, because reading them failed:\n  assets/x/core: object"));
        assert!(text.contains("objects/blob: the SHA-256 of the file is its name"));
    }
}
