//! The pictures' model and the SVG they share: what a chain picture shows ([`ChainPicture`]),
//! which receipts it draws one by one (long runs collapse so that any chain draws at most about
//! [`MAX_NODES`] nodes), the palette, and the few SVG primitives the drawings use.
//!
//! Boxes are placed by the layout crate ([`super::layout`]); [`chain`] and [`closure`] draw
//! them. The output has no scripts, no external references and no fonts beyond the browser's
//! generic families, so an HTML page that inlines it works offline.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

pub use super::chain::chain;
pub use super::closure::{ClosurePicture, closure};

/// The most nodes a chain picture draws (receipts plus collapsed runs), about.
pub const MAX_NODES: usize = 200;

/// Chains up to this many receipts are drawn whole.
pub const FULL: u64 = 46;

/// How a mark on the picture turned out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Checked and matching.
    Ok,
    /// Could not be decided.
    Unknown,
    /// A definite failure.
    Bad,
}

impl Status {
    pub(super) fn color(self) -> &'static str {
        match self {
            Status::Ok => GREEN,
            Status::Unknown => AMBER,
            Status::Bad => RED,
        }
    }
}

/// A checkpoint drawn on a chain: it covers receipts `0..size`.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Its `receipt_count`.
    pub size: u64,
    /// Whether it matched the chain.
    pub status: Status,
}

/// An anchor found in a corridor receipt.
#[derive(Clone, Debug)]
pub struct Anchor {
    /// The corridor receipt's sequence.
    pub sequence: u64,
    /// A short label (the anchored asset and size).
    pub label: String,
    /// Whether it was checked against the anchored chain.
    pub status: Status,
}

/// Everything a chain picture shows.
#[derive(Clone, Debug, Default)]
pub struct ChainPicture {
    /// The title (module, owner, purpose).
    pub title: String,
    /// Receipts linked from genesis.
    pub receipt_count: u64,
    /// The next_root of receipts the picture shows (see [`kept_positions`]), by sequence.
    pub roots: BTreeMap<u64, String>,
    /// Receipts with a definite failure of their own.
    pub bad: BTreeSet<u64>,
    /// Checkpoints.
    pub checkpoints: Vec<Checkpoint>,
    /// The first missing sequence and how many receipts lie beyond it.
    pub gap: Option<(u64, u64)>,
    /// Fork findings (their messages).
    pub forks: Vec<String>,
    /// Anchors carried by the chain's receipts.
    pub anchors: Vec<Anchor>,
    /// The other candidates at fork points of the drawn line (fork-inspect), drawn below it.
    pub branches: Vec<Branch>,
    /// The line's end is no head: an unresolved fork leaves nothing selected.
    pub headless: bool,
}

/// A competing candidate at a fork point: the line holds one receipt at `sequence`, this is
/// another on the same prev_root.
#[derive(Clone, Debug)]
pub struct Branch {
    /// The fork point's sequence.
    pub sequence: u64,
    /// This candidate's next_root.
    pub next_root: String,
    /// Receipts on this branch from the fork point on (its longest path).
    pub length: u64,
    /// Whether a counted resolution chose the line's candidate (this one lost).
    pub resolved: bool,
}

/// One cell of the laid-out line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Slot {
    Genesis,
    Receipt(u64),
    Run(u64, u64),
    Missing(u64),
    Beyond(u64),
    Fork(usize),
}

/// The receipt positions a chain of `n` receipts shows: all of them up to [`FULL`], else
/// the ends, every marked position (checkpoint ends, anchors, failures) and their neighbours.
pub fn kept_positions(n: u64, marks: &BTreeSet<u64>) -> BTreeSet<u64> {
    let budget = (MAX_NODES as u64).saturating_sub(10);
    // Past eight rows a picture is read by its marks, not receipt by receipt.
    if n <= FULL {
        return (0..n).collect();
    }
    let mut keep: BTreeSet<u64> = [0, 1, 2, n - 3, n - 2, n - 1].into_iter().collect();
    // Each marked position costs up to three receipts and two runs.
    for m in marks
        .iter()
        .filter(|m| **m < n)
        .take((budget as usize - 12) / 5)
    {
        keep.insert(*m);
        if *m > 0 {
            keep.insert(m - 1);
        }
        if m + 1 < n {
            keep.insert(m + 1);
        }
    }
    keep
}

fn marks(p: &ChainPicture) -> BTreeSet<u64> {
    let mut m: BTreeSet<u64> = p
        .checkpoints
        .iter()
        .filter(|c| c.size > 0)
        .map(|c| c.size - 1)
        .collect();
    m.extend(p.anchors.iter().map(|a| a.sequence));
    m.extend(p.bad.iter().copied());
    m.extend(p.branches.iter().map(|b| b.sequence));
    m
}

/// The positions [`chain`] needs roots for.
pub fn wanted_roots(p: &ChainPicture) -> BTreeSet<u64> {
    kept_positions(p.receipt_count, &marks(p))
}

/// The cells of the line: genesis, receipts and collapsed runs, then a gap and fork marks.
pub(crate) fn slots(p: &ChainPicture) -> Vec<Slot> {
    let keep = kept_positions(p.receipt_count, &marks(p));
    let mut out = vec![Slot::Genesis];
    let mut next = 0u64;
    for k in keep {
        if k > next {
            out.push(Slot::Run(next, k - 1));
        }
        out.push(Slot::Receipt(k));
        next = k + 1;
    }
    if next < p.receipt_count {
        out.push(Slot::Run(next, p.receipt_count - 1));
    }
    if let Some((missing, beyond)) = p.gap {
        out.push(Slot::Missing(missing));
        if beyond > 0 {
            out.push(Slot::Beyond(beyond));
        }
    }
    out.extend((0..p.forks.len().min(3)).map(Slot::Fork));
    out
}

pub(super) const GREEN: &str = "#1a7f37";
pub(super) const RED: &str = "#cf222e";
pub(super) const AMBER: &str = "#9a6700";
pub(super) const BLUE: &str = "#0969da";
pub(super) const PURPLE: &str = "#8250df";
pub(super) const GRAY: &str = "#57606a";
pub(super) const ORANGE: &str = "#bc4c00";
pub(super) const INK: &str = "#1f2328";

/// A receipt box's size (every cell of the line has it).
pub(super) const BOX_W: i64 = 132;
pub(super) const BOX_H: i64 = 50;
pub(super) const PAD: i64 = 24;
pub(super) const TOP: i64 = 58;

/// Escapes text for SVG and HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn short(hex: &str) -> String {
    if hex.len() > 12 {
        format!("{}…", &hex[..12])
    } else {
        hex.to_string()
    }
}

pub(super) fn rect(
    s: &mut String,
    x: i64,
    y: i64,
    fill: &str,
    stroke: &str,
    width: f32,
    dash: bool,
) {
    let dash = if dash {
        " stroke-dasharray=\"6 4\""
    } else {
        ""
    };
    let _ = write!(
        s,
        "<rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"8\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/>"
    );
}

pub(super) fn text(
    s: &mut String,
    x: i64,
    y: i64,
    size: u32,
    color: &str,
    extra: &str,
    body: &str,
) {
    let _ = write!(
        s,
        "<text x=\"{x}\" y=\"{y}\" font-size=\"{size}\" fill=\"{color}\" text-anchor=\"middle\"{extra}>{}</text>",
        esc(body)
    );
}

pub(super) fn defs(s: &mut String) {
    let _ = write!(
        s,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{GRAY}\"/></marker></defs>"
    );
}

pub(super) fn open(s: &mut String, w: i64, h: i64, label: &str) {
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" style=\"max-width:100%;height:auto\" role=\"img\" aria-label=\"{}\" font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\">",
        esc(label)
    );
    defs(s);
    let _ = write!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>"
    );
}

pub(super) fn trim(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    } else {
        s.to_string()
    }
}

/// Stacks pictures of this module vertically into one SVG document.
pub fn stack(pictures: &[String]) -> String {
    let size = |svg: &str, attr: &str| -> i64 {
        let key = format!("{attr}=\"");
        svg.find(&key)
            .and_then(|i| {
                let rest = &svg[i + key.len()..];
                rest.find('"').and_then(|j| rest[..j].parse().ok())
            })
            .unwrap_or(0)
    };
    let width = pictures.iter().map(|p| size(p, "width")).max().unwrap_or(0);
    let height: i64 = pictures.iter().map(|p| size(p, "height")).sum();
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">"
    );
    let mut y = 0;
    for p in pictures {
        // Nested <svg> elements position each picture; their markers keep their own ids.
        let body = p.replacen("<svg ", &format!("<svg y=\"{y}\" "), 1);
        s.push_str(&body);
        y += size(p, "height");
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_chain_collapses_to_about_max_nodes() {
        let mut p = ChainPicture {
            title: "t".into(),
            receipt_count: 1_000_000,
            ..Default::default()
        };
        for i in 0..500 {
            p.checkpoints.push(Checkpoint {
                size: i * 1000 + 7,
                status: Status::Ok,
            });
        }
        let n = slots(&p).len();
        assert!(n <= MAX_NODES + 10, "{n} nodes");
        let svg = chain(&p);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("receipt #999999") && svg.contains("receipts</text>"));
    }

    #[test]
    fn a_fork_branch_keeps_its_point_and_is_drawn_beside_it_with_the_fork_legend() {
        let p = ChainPicture {
            title: "t".into(),
            receipt_count: 5_000,
            branches: vec![Branch {
                sequence: 3_000,
                next_root: "ab".repeat(32),
                length: 7,
                resolved: true,
            }],
            ..Default::default()
        };
        let kept = wanted_roots(&p);
        assert!(kept.contains(&2_999) && kept.contains(&3_000));
        let svg = chain(&p);
        assert!(svg.contains("receipt #3000<") && svg.contains("abababababab…"));
        assert!(svg.contains("losing branch: 7 receipt(s)"));
        assert!(svg.contains("✓ chosen by a resolution") && svg.contains("fork: losing branch"));
        assert!(svg.contains("1 fork point(s), 0 unresolved"));
    }

    #[test]
    fn a_short_chain_draws_every_receipt_and_its_gap() {
        let p = ChainPicture {
            title: "a <b>".into(),
            receipt_count: 2,
            gap: Some((2, 3)),
            ..Default::default()
        };
        let svg = chain(&p);
        assert!(svg.contains("receipt #0") && svg.contains("receipt #1"));
        assert!(svg.contains("#2 MISSING") && svg.contains("3 receipt(s)"));
        assert!(svg.contains("a &lt;b&gt;"));
    }
}
