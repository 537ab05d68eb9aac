//! Graphviz rendering of a report (`artifact graph verify --format dot`).

use std::fmt::Write;

use super::Report;

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Quoted DOT label for `TYPE:DIGEST`: the type, a line break, the first 12 hex digits.
fn short(id: &str) -> String {
    match id.split_once(':') {
        // Node ids come from validated refs: `[a-z0-9-]` types and hex, nothing to escape.
        Some((t, d)) if d.len() > 12 => format!("\"{t}\\n{}…\"", &d[..12]),
        _ => quote(id),
    }
}

/// The report as a DOT digraph: missing nodes dashed red, mismatched nodes filled red, seeds
/// (root documents) as boxes; edges carry their labels when they are not plain embedded refs.
pub fn to_dot(report: &Report) -> String {
    let mut out = String::from(
        "digraph artifact_graph {\n  rankdir=LR;\n  node [shape=ellipse, fontsize=10];\n",
    );
    let bad: std::collections::HashSet<String> = report
        .digest_mismatches
        .iter()
        .map(|m| format!("{}:{}", m.artifact_type, m.digest_sha256))
        .collect();
    for n in &report.nodes {
        let style = if !n.resolved {
            ", style=dashed, color=red"
        } else if bad.contains(&n.id) {
            ", style=filled, fillcolor=\"#f4b6b6\""
        } else {
            ""
        };
        let _ = writeln!(out, "  {} [label={}{style}];", quote(&n.id), short(&n.id));
    }
    let mut seeds = std::collections::BTreeSet::new();
    for e in report.edges.iter().flatten() {
        if !e.from.contains(':') || e.from.starts_with("dir:") || e.from.starts_with("file:") {
            seeds.insert(e.from.clone());
        }
        let label = if e.label == super::EMBEDDED {
            String::new()
        } else {
            format!(" [label={}]", quote(&e.label))
        };
        let _ = writeln!(out, "  {} -> {}{label};", quote(&e.from), quote(&e.to));
    }
    for s in seeds {
        let _ = writeln!(out, "  {} [shape=box, fontsize=9];", quote(&s));
    }
    out.push_str("}\n");
    out
}
