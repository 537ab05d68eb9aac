//! A chain picture as a Graphviz cluster, for `artifact graph verify --from-bundle --format
//! dot`: the same cells as the SVG (genesis, receipts, collapsed runs, a gap, fork marks),
//! with checkpoints and anchors as notes, so DOT shows a bundle's receipts and links too.

use std::fmt::Write;

use super::svg::{ChainPicture, Slot, Status, slots};

fn quote(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

fn color(s: Status) -> &'static str {
    match s {
        Status::Ok => "darkgreen",
        Status::Unknown => "darkgoldenrod",
        Status::Bad => "red",
    }
}

/// The chain `p` as `subgraph cluster_chain_<n>`, its node ids prefixed `chain<n>:`.
pub fn chain_cluster(p: &ChainPicture, n: usize) -> String {
    let id = |what: &str| quote(&format!("chain{n}:{what}"));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  subgraph cluster_chain_{n} {{\n    label={}; fontname=sans; color=gray70;\n    node [shape=box, fontname=monospace, fontsize=10];",
        quote(&format!("{} ({} receipts)", p.title, p.receipt_count))
    );
    let head = p.receipt_count.checked_sub(1);
    let mut prev: Option<String> = None;
    for slot in slots(p) {
        let (node, attrs) = match &slot {
            Slot::Genesis => (
                id("genesis"),
                "label=\"genesis\", shape=ellipse".to_string(),
            ),
            Slot::Receipt(seq) => {
                let root = p.roots.get(seq).map(|r| r.get(..12).unwrap_or(r));
                let style = if p.bad.contains(seq) {
                    ", color=red, style=filled, fillcolor=\"#ffebe9\""
                } else if Some(*seq) == head && p.gap.is_none() {
                    ", color=blue, penwidth=2"
                } else {
                    ""
                };
                (
                    id(&format!("r{seq}")),
                    format!(
                        "label={}{style}",
                        quote(&format!("#{seq}\n{}", root.unwrap_or_default()))
                    ),
                )
            }
            Slot::Run(a, b) => (
                id(&format!("run{a}")),
                format!(
                    "label={}, style=\"dashed,rounded\", color=gray40",
                    quote(&format!("… {} receipts\n#{a} – #{b}", b - a + 1))
                ),
            ),
            Slot::Missing(seq) => (
                id("missing"),
                format!(
                    "label={}, style=dashed, color=red",
                    quote(&format!("#{seq} MISSING"))
                ),
            ),
            Slot::Beyond(k) => (
                id("beyond"),
                format!(
                    "label={}, style=dashed, color=darkgoldenrod",
                    quote(&format!("{k} receipt(s) beyond the gap"))
                ),
            ),
            Slot::Fork(k) => (
                id(&format!("fork{k}")),
                format!(
                    "label=\"FORK\", color=red, tooltip={}",
                    quote(p.forks.get(*k).map(String::as_str).unwrap_or_default())
                ),
            ),
        };
        let _ = writeln!(s, "    {node} [{attrs}];");
        if let Some(from) = prev {
            let broken = matches!(slot, Slot::Missing(_) | Slot::Beyond(_) | Slot::Fork(_));
            let style = if broken {
                " [style=dashed, color=red]"
            } else {
                ""
            };
            let _ = writeln!(s, "    {from} -> {node}{style};");
        }
        prev = Some(node);
    }
    for c in &p.checkpoints {
        let at = id(&format!("r{}", c.size.saturating_sub(1)));
        let note = id(&format!("ckpt{}", c.size));
        let _ = writeln!(
            s,
            "    {note} [label={}, shape=note, color={}];\n    {note} -> {at} [style=dotted, arrowhead=none];",
            quote(&format!("checkpoint {}", c.size)),
            color(c.status)
        );
    }
    for (i, a) in p.anchors.iter().enumerate() {
        let note = id(&format!("anchor{i}"));
        let _ = writeln!(
            s,
            "    {note} [label={}, shape=cds, color={}];\n    {} -> {note} [style=dotted, arrowhead=none];",
            quote(&format!("anchors {}", a.label)),
            match a.status {
                Status::Ok => "purple",
                other => color(other),
            },
            id(&format!("r{}", a.sequence))
        );
    }
    s.push_str("  }\n");
    s
}

/// `dot` (a whole digraph) with the clusters added before its closing brace.
pub fn with_clusters(dot: &str, clusters: &[String]) -> String {
    let body = dot.trim_end().strip_suffix('}').unwrap_or(dot);
    let mut s = body.to_string();
    for c in clusters {
        s.push_str(c);
    }
    s.push_str("}\n");
    s
}
