//! A fork-inspect report as a picture: the line from genesis (the selected chain, or at an
//! unresolved fork the longest candidate) with every other candidate at its fork points as a
//! branch, as the SVG chain picture or as DOT. Both collapse long runs to about
//! [`svg::MAX_NODES`] nodes and carry a legend.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::canon::Digest;
use crate::chain::fork::Report;
use crate::chain::select::Link;

use super::svg::{self, Branch, ChainPicture};

/// The line and its branches, by index into the report's links.
struct Line<'a> {
    links: &'a [Link],
    /// The line's links, genesis first.
    main: Vec<usize>,
    /// Each link's longest descent, itself included.
    depth: Vec<u64>,
    /// (fork point's index on the line, the competing link, resolved).
    branches: Vec<(usize, usize, bool)>,
    /// Children by (sequence, prev_root).
    kids: BTreeMap<(u64, Digest), Vec<usize>>,
}

impl<'a> Line<'a> {
    fn new(report: &'a Report) -> Line<'a> {
        let links = &report.links[..];
        let mut kids: BTreeMap<(u64, Digest), Vec<usize>> = BTreeMap::new();
        for (i, l) in links.iter().enumerate() {
            kids.entry((l.sequence, l.prev_root)).or_default().push(i);
        }
        // Longest descent, children before parents (a child's sequence is one more).
        let mut order: Vec<usize> = (0..links.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(links[i].sequence));
        let mut depth = vec![1u64; links.len()];
        for i in order {
            let l = links[i];
            let below = kids
                .get(&(l.sequence + 1, l.next_root))
                .map(|k| k.iter().map(|&c| depth[c]).max().unwrap_or(0))
                .unwrap_or(0);
            depth[i] = 1 + below;
        }
        let chosen: BTreeMap<(u64, Digest), (Option<Digest>, bool)> = report
            .forks
            .points
            .iter()
            .map(|p| ((p.sequence, p.prev_root), (p.chosen_next_root, p.resolved)))
            .collect();
        let mut line = Line {
            links,
            main: Vec::new(),
            depth,
            branches: Vec::new(),
            kids,
        };
        let (mut seq, mut prev) = (0u64, report.genesis_root);
        while let Some(k) = line.kids.get(&(seq, prev)) {
            let resolution = chosen.get(&(seq, prev)).copied();
            let pick = k
                .iter()
                .copied()
                .find(|&i| report.selected.contains(&links[i].next_root))
                .or_else(|| {
                    let c = resolution.and_then(|r| r.0)?;
                    k.iter().copied().find(|&i| links[i].next_root == c)
                })
                .or_else(|| {
                    k.iter()
                        .copied()
                        .max_by_key(|&i| (line.depth[i], std::cmp::Reverse(links[i].next_root)))
                });
            let Some(pick) = pick else { break };
            let resolved = resolution.is_some_and(|r| r.1);
            for &other in k.iter().filter(|&&i| i != pick) {
                line.branches.push((line.main.len(), other, resolved));
            }
            line.main.push(pick);
            seq += 1;
            prev = links[pick].next_root;
        }
        line
    }

    /// The positions on the line drawn one by one.
    fn kept(&self) -> BTreeSet<u64> {
        let marks = self.branches.iter().map(|b| b.0 as u64).collect();
        svg::kept_positions(self.main.len() as u64, &marks)
    }

    /// The last link of the longest path from `start`, and how many links that path has.
    fn tip(&self, start: usize) -> (usize, u64) {
        let mut at = start;
        loop {
            let l = self.links[at];
            let next = self
                .kids
                .get(&(l.sequence + 1, l.next_root))
                .and_then(|k| k.iter().copied().max_by_key(|&c| self.depth[c]));
            match next {
                Some(n) => at = n,
                None => return (at, self.depth[start]),
            }
        }
    }
}

/// The SVG chain picture of a fork-inspect report.
pub fn picture(report: &Report, title: &str) -> ChainPicture {
    let line = Line::new(report);
    let kept = line.kept();
    ChainPicture {
        title: title.to_string(),
        receipt_count: line.main.len() as u64,
        roots: kept
            .iter()
            .filter_map(|&k| {
                let i = *line.main.get(k as usize)?;
                Some((k, line.links[i].next_root.to_hex()))
            })
            .collect(),
        branches: line
            .branches
            .iter()
            .map(|&(at, other, resolved)| Branch {
                sequence: at as u64,
                next_root: line.links[other].next_root.to_hex(),
                length: line.depth[other],
                resolved,
            })
            .collect(),
        headless: report.canonical_head.is_none(),
        ..ChainPicture::default()
    }
}

/// A Graphviz picture of the branches: the selected chain bold, losing branches dashed,
/// unresolved fork points red, long runs collapsed into one node, and a legend.
pub fn dot(report: &Report) -> String {
    let line = Line::new(report);
    let short = |d: &Digest| d.to_hex()[..12].to_string();
    let node = |i: usize| format!("\"{}\"", line.links[i].next_root);
    let mut s =
        String::from("digraph forks {\n  rankdir=LR;\n  node [shape=box, fontname=monospace];\n");
    let _ = writeln!(
        s,
        "  \"{}\" [label=\"genesis\\n{}\", shape=ellipse];",
        report.genesis_root,
        short(&report.genesis_root)
    );
    let on = |i: usize| report.selected.contains(&line.links[i].next_root);
    let fork_points: BTreeSet<usize> = line.branches.iter().map(|b| b.0).collect();
    let unresolved: BTreeSet<usize> = line.branches.iter().filter(|b| !b.2).map(|b| b.0).collect();
    let mut prev = format!("\"{}\"", report.genesis_root);
    let mut next = 0u64;
    let kept = line.kept();
    for &k in &kept {
        if k > next {
            let run = format!("\"run {next}-{}\"", k - 1);
            let _ = writeln!(
                s,
                "  {run} [label=\"… {} receipts\\n#{next} – #{}\", style=\"dashed,rounded\", color=gray40];",
                k - next,
                k - 1
            );
            let _ = writeln!(s, "  {prev} -> {run} [color=gray40];");
            prev = run;
        }
        let i = line.main[k as usize];
        let _ = writeln!(
            s,
            "  {} [label=\"seq {k}\\n{}\"{}];",
            node(i),
            short(&line.links[i].next_root),
            if unresolved.contains(&(k as usize)) {
                ", color=red, penwidth=2"
            } else if fork_points.contains(&(k as usize)) {
                ", color=darkgreen, penwidth=2"
            } else if on(i) {
                ", penwidth=2"
            } else {
                ""
            }
        );
        let style = if unresolved.contains(&(k as usize)) {
            " [color=red]"
        } else if fork_points.contains(&(k as usize)) {
            " [color=darkgreen, penwidth=2]"
        } else if on(i) {
            " [penwidth=2]"
        } else {
            ""
        };
        let _ = writeln!(s, "  {prev} -> {}{style};", node(i));
        prev = node(i);
        next = k + 1;
    }
    for &(at, other, resolved) in &line.branches {
        let from = match at.checked_sub(1) {
            Some(p) => node(line.main[p]),
            None => format!("\"{}\"", report.genesis_root),
        };
        let color = if resolved { "darkorange3" } else { "red" };
        let _ = writeln!(
            s,
            "  {} [label=\"seq {at}\\n{}\", style=dashed, color={color}];",
            node(other),
            short(&line.links[other].next_root)
        );
        let _ = writeln!(
            s,
            "  {from} -> {} [style=dashed, color={color}];",
            node(other)
        );
        let (tip, len) = line.tip(other);
        if len > 1 {
            let run = format!("\"branch {}\"", line.links[other].next_root);
            let _ = writeln!(
                s,
                "  {run} [label=\"… {} more on this branch\\nto #{}\", style=\"dashed,rounded\", color={color}];",
                len - 1,
                line.links[tip].sequence
            );
            let _ = writeln!(
                s,
                "  {} -> {run} [style=dashed, color={color}];",
                node(other)
            );
        }
    }
    legend(&mut s);
    s.push_str("}\n");
    s
}

fn legend(s: &mut String) {
    s.push_str(concat!(
        "  subgraph cluster_legend {\n",
        "    label=\"legend\"; fontname=sans; color=gray70;\n",
        "    node [fontname=sans];\n",
        "    \"legend selected\" [label=\"selected chain\", penwidth=2];\n",
        "    \"legend run\" [label=\"collapsed run\", style=\"dashed,rounded\", color=gray40];\n",
        "    \"legend chosen\" [label=\"fork: chosen candidate\", color=darkgreen, penwidth=2];\n",
        "    \"legend losing\" [label=\"fork: losing branch\", style=dashed, color=darkorange3];\n",
        "    \"legend open\" [label=\"fork: unresolved candidate\", style=dashed, color=red];\n",
        "    \"legend selected\" -> \"legend run\" -> \"legend chosen\" -> \"legend losing\" -> \"legend open\" [style=invis];\n",
        "  }\n",
    ));
}
