//! Self-contained SVG pictures, laid out here without graphviz or any external tool.
//!
//! A receipt chain is a line, so its layout is a hand-written layered one: boxes in rows that
//! snake left-right then right-left (every link joins neighbours), with checkpoints as tags
//! above the receipt they cover up to, anchors as badges below, and a gap or a fork drawn
//! after the last linked receipt. Long runs collapse into one box so that any chain draws at
//! most about [`MAX_NODES`] nodes. Every picture carries its legend. The output has no
//! scripts, no external references and no fonts beyond the browser's generic families, so an
//! HTML page that inlines it works offline.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

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
    fn color(self) -> &'static str {
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

const GREEN: &str = "#1a7f37";
const RED: &str = "#cf222e";
const AMBER: &str = "#9a6700";
const BLUE: &str = "#0969da";
const PURPLE: &str = "#8250df";
const GRAY: &str = "#57606a";
const ORANGE: &str = "#bc4c00";
const INK: &str = "#1f2328";

const COLS: usize = 6;
const BOX_W: i64 = 132;
const BOX_H: i64 = 50;
const GAP_X: i64 = 40;
const ROW_H: i64 = 112;
/// Rows are taller when fork branches hang below them.
const ROW_H_FORK: i64 = 196;
/// How far below its fork point a branch box sits.
const BRANCH_DY: i64 = BOX_H + 52;
const PAD: i64 = 24;
const TOP: i64 = 58;

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

fn short(hex: &str) -> String {
    if hex.len() > 12 {
        format!("{}…", &hex[..12])
    } else {
        hex.to_string()
    }
}

/// The top-left corner of cell `i` (rows snake so that every link joins neighbours).
fn cell(i: usize, row_h: i64) -> (i64, i64) {
    let row = i / COLS;
    let col = i % COLS;
    let col = if row % 2 == 0 { col } else { COLS - 1 - col };
    (
        PAD + col as i64 * (BOX_W + GAP_X),
        TOP + row as i64 * row_h + 22,
    )
}

fn rect(s: &mut String, x: i64, y: i64, fill: &str, stroke: &str, width: f32, dash: bool) {
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

fn text(s: &mut String, x: i64, y: i64, size: u32, color: &str, extra: &str, body: &str) {
    let _ = write!(
        s,
        "<text x=\"{x}\" y=\"{y}\" font-size=\"{size}\" fill=\"{color}\" text-anchor=\"middle\"{extra}>{}</text>",
        esc(body)
    );
}

fn link(s: &mut String, a: (i64, i64), b: (i64, i64), color: &str, dash: bool) {
    let dash = if dash {
        " stroke-dasharray=\"5 4\""
    } else {
        ""
    };
    let d = if a.1 == b.1 {
        if a.0 < b.0 {
            format!("M {} {} H {}", a.0 + BOX_W, a.1 + BOX_H / 2, b.0 - 3)
        } else {
            format!("M {} {} H {}", a.0, a.1 + BOX_H / 2, b.0 + BOX_W + 3)
        }
    } else {
        // A snake turn goes round the outer side, clear of the tags and badges on top.
        let (edge, out, end) = if on_right(a.0) {
            (a.0 + BOX_W, a.0 + BOX_W + 10, b.0 + BOX_W + 3)
        } else {
            (a.0, a.0 - 10, b.0 - 3)
        };
        format!(
            "M {edge} {} H {out} V {} H {end}",
            a.1 + BOX_H / 2,
            b.1 + BOX_H / 2
        )
    };
    let _ = write!(
        s,
        "<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" marker-end=\"url(#arrow)\"{dash}/>"
    );
}

/// Whether a cell at `x` is in the right half of a row.
fn on_right(x: i64) -> bool {
    x > PAD + 2 * (BOX_W + GAP_X)
}

fn defs(s: &mut String) {
    let _ = write!(
        s,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{GRAY}\"/></marker></defs>"
    );
}

fn open(s: &mut String, w: i64, h: i64, label: &str) {
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

/// Draws a chain as SVG.
pub fn chain(p: &ChainPicture) -> String {
    let slots = slots(p);
    let rows = slots.len().div_ceil(COLS) as i64;
    let width = PAD * 2 + COLS as i64 * BOX_W + (COLS as i64 - 1) * GAP_X;
    let forked = !p.branches.is_empty();
    let row_h = if forked { ROW_H_FORK } else { ROW_H };
    let legend_y = TOP + rows * row_h + 20;
    let height = legend_y + if forked { 120 } else { 96 };
    let mut s = String::new();
    open(&mut s, width, height, &p.title);
    let subtitle = subtitle(p, &slots);
    let _ = write!(
        s,
        "<text x=\"{PAD}\" y=\"26\" font-size=\"16\" font-weight=\"600\" fill=\"{INK}\">{}</text><text x=\"{PAD}\" y=\"46\" font-size=\"12\" fill=\"{GRAY}\">{}</text>",
        esc(&p.title),
        esc(&subtitle)
    );
    let mut checkpoints: BTreeMap<u64, Vec<&Checkpoint>> = BTreeMap::new();
    for c in &p.checkpoints {
        checkpoints
            .entry(c.size.saturating_sub(1))
            .or_default()
            .push(c);
    }
    let mut anchors: BTreeMap<u64, Vec<&Anchor>> = BTreeMap::new();
    for a in &p.anchors {
        anchors.entry(a.sequence).or_default().push(a);
    }
    // A checkpoint beyond the linked receipts is drawn on the gap (or the last box).
    let last_linked = p.receipt_count.checked_sub(1);
    let beyond: Vec<&Checkpoint> = p
        .checkpoints
        .iter()
        .filter(|c| last_linked.is_none_or(|l| c.size.saturating_sub(1) > l))
        .collect();
    let tag_at = slots
        .iter()
        .position(|x| matches!(x, Slot::Missing(_)))
        .unwrap_or(slots.len() - 1);
    for (i, slot) in slots.iter().enumerate() {
        let (x, y) = cell(i, row_h);
        if i == tag_at && !beyond.is_empty() {
            tag(&mut s, x, y, &beyond);
        }
        if i > 0 {
            let broken = matches!(slot, Slot::Missing(_) | Slot::Beyond(_) | Slot::Fork(_));
            link(
                &mut s,
                cell(i - 1, row_h),
                (x, y),
                if broken { RED } else { GRAY },
                broken,
            );
        }
        let cx = x + BOX_W / 2;
        match slot {
            Slot::Genesis => {
                rect(&mut s, x, y, "#f6f8fa", GRAY, 1.5, false);
                text(
                    &mut s,
                    cx,
                    y + 21,
                    13,
                    INK,
                    " font-weight=\"600\"",
                    "genesis",
                );
                text(&mut s, cx, y + 38, 11, GRAY, "", "genesis_root");
            }
            Slot::Receipt(seq) => receipt_box(&mut s, p, *seq, (x, y), &checkpoints, &anchors),
            Slot::Run(a, b) => {
                rect(&mut s, x, y, "#f6f8fa", GRAY, 1.2, true);
                text(
                    &mut s,
                    cx,
                    y + 21,
                    13,
                    INK,
                    "",
                    &format!("… {} receipts", b - a + 1),
                );
                text(&mut s, cx, y + 38, 11, GRAY, "", &format!("#{a} – #{b}"));
            }
            Slot::Missing(seq) => {
                rect(&mut s, x, y, "#ffebe9", RED, 2.0, true);
                text(
                    &mut s,
                    cx,
                    y + 21,
                    13,
                    RED,
                    " font-weight=\"600\"",
                    &format!("#{seq} MISSING"),
                );
                text(&mut s, cx, y + 38, 11, RED, "", "gap in the chain");
            }
            Slot::Beyond(n) => {
                rect(&mut s, x, y, "#fff8c5", AMBER, 1.5, true);
                text(&mut s, cx, y + 21, 13, INK, "", &format!("{n} receipt(s)"));
                text(&mut s, cx, y + 38, 11, AMBER, "", "beyond the gap");
            }
            Slot::Fork(k) => {
                rect(&mut s, x, y, "#ffebe9", RED, 2.0, false);
                text(&mut s, cx, y + 21, 13, RED, " font-weight=\"600\"", "FORK");
                let _ = write!(
                    s,
                    "<title>{}</title>",
                    esc(p.forks.get(*k).map(String::as_str).unwrap_or_default())
                );
                text(&mut s, cx, y + 38, 11, RED, "", "two receipts, one seq");
            }
        }
    }
    for (i, slot) in slots.iter().enumerate() {
        if let (Slot::Receipt(seq), Some(prev)) = (slot, i.checked_sub(1)) {
            let here: Vec<&Branch> = p.branches.iter().filter(|b| b.sequence == *seq).collect();
            if !here.is_empty() {
                // The row's last cell has the link to the next row below it: shift inward.
                let turn = i % COLS == COLS - 1 && i + 1 < slots.len();
                branch_box(&mut s, &here, cell(prev, row_h), cell(i, row_h), turn);
            }
        }
    }
    legend(&mut s, legend_y, width, forked);
    s.push_str("</svg>");
    s
}

/// The line under the title: how many receipts, how many drawn, the fork points.
fn subtitle(p: &ChainPicture, slots: &[Slot]) -> String {
    let shown = slots
        .iter()
        .filter(|x| matches!(x, Slot::Receipt(_)))
        .count();
    let mut subtitle = if shown as u64 == p.receipt_count {
        format!("{} receipt(s) linked from genesis", p.receipt_count)
    } else {
        format!(
            "{} receipt(s) linked from genesis; {} shown, long runs collapsed",
            p.receipt_count, shown
        )
    };
    if !p.branches.is_empty() {
        let points: BTreeSet<u64> = p.branches.iter().map(|b| b.sequence).collect();
        let open: BTreeSet<u64> = p
            .branches
            .iter()
            .filter(|b| !b.resolved)
            .map(|b| b.sequence)
            .collect();
        let _ = write!(
            subtitle,
            "; {} fork point(s), {} unresolved",
            points.len(),
            open.len()
        );
    }
    subtitle
}

/// The competing candidates at one fork point, below the line's receipt at `at`, linked from
/// the receipt they extend (at `prev`).
fn branch_box(s: &mut String, here: &[&Branch], prev: (i64, i64), at: (i64, i64), turn: bool) {
    let b = here[0];
    let color = if b.resolved { ORANGE } else { RED };
    let shift = if !turn {
        0
    } else if on_right(at.0) {
        -(BOX_W + GAP_X) / 2
    } else {
        (BOX_W + GAP_X) / 2
    };
    let (x, y) = (at.0 + shift, at.1 + BRANCH_DY);
    let mid = y + BOX_H / 2;
    let d = if prev.1 == at.1 {
        let end = if prev.0 < x { x - 3 } else { x + BOX_W + 3 };
        format!(
            "M {} {} V {mid} H {end}",
            prev.0 + BOX_W / 2,
            prev.1 + BOX_H
        )
    } else if on_right(at.0) {
        // A snake turn: the receipt extended is right above; go round the outer side, outside
        // the line's own link.
        let out = at.0 + BOX_W + 20;
        format!(
            "M {} {} H {out} V {mid} H {}",
            prev.0 + BOX_W,
            prev.1 + BOX_H / 2,
            x + BOX_W + 3
        )
    } else {
        let out = at.0 - 20;
        format!(
            "M {} {} H {out} V {mid} H {}",
            prev.0,
            prev.1 + BOX_H / 2,
            x - 3
        )
    };
    let _ = write!(
        s,
        "<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"5 4\" marker-end=\"url(#arrow)\"/>"
    );
    let _ = write!(
        s,
        "<rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"8\" fill=\"{}\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>",
        if b.resolved { "#fff1e5" } else { "#ffebe9" }
    );
    let cx = x + BOX_W / 2;
    let _ = write!(
        s,
        "<title>{}</title>",
        esc(&format!(
            "fork at #{}: competing next_root {}",
            b.sequence, b.next_root
        ))
    );
    text(
        s,
        cx,
        y + 21,
        13,
        color,
        " font-weight=\"600\"",
        &format!("receipt #{}", b.sequence),
    );
    text(
        s,
        cx,
        y + 38,
        11,
        GRAY,
        " font-family=\"ui-monospace, monospace\"",
        &short(&b.next_root),
    );
    let what = if b.resolved {
        "losing branch"
    } else {
        "competing"
    };
    let more = if here.len() > 1 {
        format!(" (+{} more)", here.len() - 1)
    } else {
        String::new()
    };
    text(
        s,
        cx,
        y + BOX_H + 16,
        11,
        color,
        "",
        &format!("{what}: {} receipt(s){more}", b.length),
    );
}

/// One receipt's box: its root, the HEAD badge, its checkpoint tag and its anchor mark.
fn receipt_box(
    s: &mut String,
    p: &ChainPicture,
    seq: u64,
    (x, y): (i64, i64),
    checkpoints: &BTreeMap<u64, Vec<&Checkpoint>>,
    anchors: &BTreeMap<u64, Vec<&Anchor>>,
) {
    let seq = &seq;
    let head = p.receipt_count.checked_sub(1).filter(|_| !p.headless);
    let cx = x + BOX_W / 2;
    let is_head = Some(*seq) == head && p.gap.is_none();
    let bad = p.bad.contains(seq);
    let fork = p.branches.iter().find(|b| b.sequence == *seq);
    let (fill, stroke, w) = if bad {
        ("#ffebe9", RED, 2.0)
    } else if let Some(b) = fork {
        let color = if b.resolved { GREEN } else { RED };
        let label = if b.resolved {
            "✓ chosen by a resolution"
        } else {
            "✗ fork, unresolved"
        };
        text(
            s,
            cx,
            y + BOX_H + 16,
            11,
            color,
            " font-weight=\"600\"",
            label,
        );
        ("#ffffff", color, 3.0)
    } else if is_head {
        ("#ddf4ff", BLUE, 3.0)
    } else {
        ("#ffffff", INK, 1.2)
    };
    rect(s, x, y, fill, stroke, w, false);
    text(
        s,
        cx,
        y + 21,
        13,
        INK,
        " font-weight=\"600\"",
        &format!("receipt #{seq}"),
    );
    let root = p.roots.get(seq).map(|r| short(r)).unwrap_or_default();
    text(
        s,
        cx,
        y + 38,
        11,
        GRAY,
        " font-family=\"ui-monospace, monospace\"",
        &root,
    );
    if Some(*seq) == head {
        // Under a checkpoint tag the badge moves to the bottom edge.
        let by = if checkpoints.contains_key(seq) {
            y + BOX_H - 9
        } else {
            y - 9
        };
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{by}\" width=\"44\" height=\"18\" rx=\"9\" fill=\"{BLUE}\"/>",
            x + BOX_W - 50,
        );
        text(
            s,
            x + BOX_W - 28,
            by + 13,
            11,
            "#ffffff",
            " font-weight=\"700\"",
            "HEAD",
        );
    }
    if let Some(cks) = checkpoints.get(seq) {
        tag(s, x, y, cks);
    }
    if let Some(list) = anchors.get(seq) {
        let a = list[0];
        let color = match a.status {
            Status::Ok => PURPLE,
            other => other.color(),
        };
        let _ = write!(
            s,
            "<circle cx=\"{}\" cy=\"{}\" r=\"7\" fill=\"{color}\"/>",
            x + 10,
            y + BOX_H + 14
        );
        let more = if list.len() > 1 {
            format!(" +{}", list.len() - 1)
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"{color}\">{}</text>",
            x + 21,
            y + BOX_H + 18,
            esc(&format!("{}{more}", trim(&a.label, 18)))
        );
    }
}

/// A checkpoint tag above the box at (x, y): the worst status of the checkpoints there.
fn tag(s: &mut String, x: i64, y: i64, cks: &[&Checkpoint]) {
    let worst = cks
        .iter()
        .map(|c| c.status)
        .max_by_key(|s| match s {
            Status::Ok => 0,
            Status::Unknown => 1,
            Status::Bad => 2,
        })
        .unwrap_or(Status::Ok);
    let color = worst.color();
    let label = format!("ckpt {}", cks[0].size);
    let more = if cks.len() > 1 {
        format!(" +{}", cks.len() - 1)
    } else {
        String::new()
    };
    // About 6.5 px a character at 11 px, plus the mark and the margins.
    let w = 26 + (label.len() + more.len()) as i64 * 13 / 2;
    let _ = write!(
        s,
        "<path d=\"M {x0} {y0} h {w} l 8 9 l -8 9 h -{w} z\" fill=\"{color}\"/>",
        x0 = x + 4,
        y0 = y - 20,
    );
    let mark = match worst {
        Status::Ok => "✓",
        Status::Unknown => "?",
        Status::Bad => "✗",
    };
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#ffffff\" font-weight=\"600\">{}</text>",
        x + 9,
        y - 7,
        esc(&format!("{mark} {label}{more}"))
    );
}

fn trim(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    } else {
        s.to_string()
    }
}

fn legend(s: &mut String, y: i64, width: i64, forked: bool) {
    let _ = write!(
        s,
        "<rect x=\"{PAD}\" y=\"{y}\" width=\"{}\" height=\"{}\" rx=\"8\" fill=\"#f6f8fa\" stroke=\"#d0d7de\"/>",
        width - 2 * PAD,
        if forked { 104 } else { 80 }
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" font-weight=\"600\" fill=\"{GRAY}\">LEGEND</text>",
        PAD + 12,
        y + 18
    );
    let mut items: Vec<(&str, &str, &str, bool)> = vec![
        ("#ffffff", INK, "receipt (next_root)", false),
        ("#ddf4ff", BLUE, "head", false),
        ("#f6f8fa", GRAY, "collapsed run", true),
        ("#ffebe9", RED, "missing / fork / failed", true),
        ("#fff8c5", AMBER, "unlinked receipts", true),
        (GREEN, GREEN, "checkpoint matches", false),
        (RED, RED, "checkpoint mismatch", false),
        (PURPLE, PURPLE, "anchor in receipt", false),
    ];
    if forked {
        items.extend([
            ("#ffffff", GREEN, "fork: chosen candidate", false),
            ("#fff1e5", ORANGE, "fork: losing branch", true),
            ("#ffebe9", RED, "fork: competing, unresolved", true),
        ]);
    }
    for (i, (fill, stroke, label, dash)) in items.iter().enumerate() {
        let col = (i % 4) as i64;
        let row = (i / 4) as i64;
        let x = PAD + 14 + col * ((width - 2 * PAD) / 4);
        let yy = y + 30 + row * 24;
        let dash = if *dash {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        if i == 7 {
            let _ = write!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"7\" fill=\"{fill}\"/>",
                x + 13,
                yy + 8
            );
        } else {
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{yy}\" width=\"26\" height=\"16\" rx=\"4\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"{dash}/>"
            );
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"{INK}\">{}</text>",
            x + 34,
            yy + 12,
            esc(label)
        );
    }
}

/// What a closure picture shows: the root and the artifacts reached, by type.
#[derive(Clone, Debug, Default)]
pub struct ClosurePicture {
    /// The root's label (the bundle or module).
    pub root: String,
    /// Artifacts present and verified, by artifact_type.
    pub by_type: BTreeMap<String, u64>,
    /// Artifacts referenced but absent.
    pub missing: u64,
    /// Artifacts whose bytes do not match their digest.
    pub mismatched: u64,
    /// Whether the walk was cut short.
    pub cut_short: bool,
    /// Documents under the root that were scanned for references (a bundle's `root/`).
    pub root_files: u64,
}

/// Draws a closure as SVG: the root on the left, one box per artifact type on the right.
pub fn closure(p: &ClosurePicture) -> String {
    let mut rows: Vec<(String, String, &str, bool)> = Vec::new();
    if p.root_files > 0 {
        rows.push((
            "root documents".into(),
            format!("{} file(s) scanned for references", p.root_files),
            BLUE,
            false,
        ));
    }
    rows.extend(
        p.by_type
            .iter()
            .take(12)
            .map(|(t, n)| (t.clone(), format!("{n} verified"), GREEN, false)),
    );
    if p.by_type.len() > 12 {
        let rest: u64 = p.by_type.values().skip(12).sum();
        rows.push((
            "other types".into(),
            format!("{rest} verified"),
            GREEN,
            false,
        ));
    }
    if p.missing > 0 {
        rows.push((
            "missing".into(),
            format!("{} referenced, absent", p.missing),
            AMBER,
            true,
        ));
    }
    if p.mismatched > 0 {
        rows.push((
            "digest mismatch".into(),
            format!("{} altered", p.mismatched),
            RED,
            true,
        ));
    }
    if p.cut_short {
        rows.push((
            "walk cut short".into(),
            "at --max-nodes".into(),
            AMBER,
            true,
        ));
    }
    let row_h = 58i64;
    let width = 760i64;
    let height = (TOP + rows.len().max(1) as i64 * row_h + PAD).max(TOP + 110);
    let mut s = String::new();
    open(&mut s, width, height, "closure");
    let total: u64 = p.by_type.values().sum();
    let _ = write!(
        s,
        "<text x=\"{PAD}\" y=\"26\" font-size=\"16\" font-weight=\"600\" fill=\"{INK}\">closure</text><text x=\"{PAD}\" y=\"46\" font-size=\"12\" fill=\"{GRAY}\">{}</text>",
        esc(&format!(
            "{total} artifact(s) reached from the root by their references, by type"
        ))
    );
    let root_y = TOP + (rows.len().max(1) as i64 * row_h) / 2 - 30;
    let rx = PAD;
    let _ = write!(
        s,
        "<rect x=\"{rx}\" y=\"{root_y}\" width=\"220\" height=\"50\" rx=\"8\" fill=\"#ddf4ff\" stroke=\"{BLUE}\" stroke-width=\"2\"/>"
    );
    text(
        &mut s,
        rx + 110,
        root_y + 21,
        13,
        INK,
        " font-weight=\"600\"",
        "root",
    );
    text(
        &mut s,
        rx + 110,
        root_y + 38,
        11,
        GRAY,
        "",
        &trim(&p.root, 32),
    );
    let bx = 430i64;
    for (i, (label, count, color, dash)) in rows.iter().enumerate() {
        let y = TOP + i as i64 * row_h + 4;
        let _ = write!(
            s,
            "<path d=\"M {} {} C {} {}, {} {}, {} {}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" marker-end=\"url(#arrow)\"{}/>",
            rx + 220,
            root_y + 25,
            rx + 300,
            root_y + 25,
            bx - 90,
            y + 22,
            bx - 3,
            y + 22,
            if *dash {
                " stroke-dasharray=\"5 4\""
            } else {
                ""
            }
        );
        let fill = match *color {
            GREEN => "#dafbe1",
            RED => "#ffebe9",
            BLUE => "#ddf4ff",
            _ => "#fff8c5",
        };
        let _ = write!(
            s,
            "<rect x=\"{bx}\" y=\"{y}\" width=\"300\" height=\"44\" rx=\"8\" fill=\"{fill}\" stroke=\"{color}\" stroke-width=\"1.5\"{}/>",
            if *dash {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            }
        );
        text(
            &mut s,
            bx + 150,
            y + 19,
            13,
            INK,
            " font-weight=\"600\"",
            &trim(label, 40),
        );
        text(&mut s, bx + 150, y + 36, 11, GRAY, "", count);
    }
    s.push_str("</svg>");
    s
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
    fn a_fork_branch_keeps_its_point_and_is_drawn_below_with_the_fork_legend() {
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
