//! The chain picture: genesis, receipts and collapsed runs in a line, a gap or fork marks after
//! it, every competing candidate at a fork point beside the receipt it competes with,
//! checkpoints as tags above the receipt they cover up to, anchors as badges below, a legend.
//!
//! The layout crate ([`super::layout`]) places the whole graph left to right: ranks, the side a
//! branch goes, the curves of the links. A long line would then be one very wide row, so the
//! placed picture is folded like text: up to six ranks make a band (one fewer when a fork point
//! would open the next band, so that a fork and the receipt it extends stay side by side as the
//! crate drew them), bands stack downwards, and a link from a band's last rank to the next
//! band's first runs round the gap between them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::layout::{self, Graph, Rect};
use super::svg::{
    AMBER, Anchor, BLUE, BOX_H, BOX_W, Branch, ChainPicture, Checkpoint, GRAY, GREEN, INK, ORANGE,
    PAD, PURPLE, RED, Slot, Status, TOP, esc, open, rect, short, slots, text, trim,
};

/// Ranks per band, at most.
const COLS: usize = 6;
/// Space between ranks, and between boxes of one rank (room for a tag above and a label
/// below each box).
const GAP_X: f64 = 40.0;
const GAP_Y: f64 = 64.0;
/// Room a band keeps above and below its boxes for tags, badges and labels.
const DECO: i64 = 26;
/// Space between two bands (the wrap links run through it).
const BAND_GAP: i64 = 22;
/// Left and right margin: the wrap links turn in it.
const MARGIN: i64 = PAD + 18;
/// A white outline under a label below a box, so that a link the layout curves past it does
/// not cross its letters.
const HALO: &str = " stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\"";
/// The narrowest picture: the legend's four columns need it.
const MIN_W: i64 = 1080;

/// A link to draw: its ends (node indexes), colour and dash.
struct Link {
    from: usize,
    to: usize,
    color: &'static str,
    dash: bool,
}

/// The graph handed to the layout crate: one node per cell of the line, then one per fork
/// point for its competing candidates; `rank` is each node's column.
struct Model<'a> {
    slots: Vec<Slot>,
    rank: Vec<usize>,
    links: Vec<Link>,
    branches: Vec<(usize, Vec<&'a Branch>)>,
    /// The band of each rank.
    band: Vec<usize>,
}

fn model(p: &ChainPicture) -> Model<'_> {
    let slots = slots(p);
    let mut rank: Vec<usize> = (0..slots.len()).collect();
    let mut links = Vec::new();
    for (i, slot) in slots.iter().enumerate().skip(1) {
        let broken = matches!(slot, Slot::Missing(_) | Slot::Beyond(_) | Slot::Fork(_));
        let color = if broken { RED } else { GRAY };
        links.push(Link {
            from: i - 1,
            to: i,
            color,
            dash: broken,
        });
    }
    let mut branches = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let (Slot::Receipt(seq), Some(prev)) = (slot, i.checked_sub(1)) else {
            continue;
        };
        let here: Vec<&Branch> = p.branches.iter().filter(|b| b.sequence == *seq).collect();
        let Some(first) = here.first() else { continue };
        let node = rank.len();
        rank.push(i);
        links.push(Link {
            from: prev,
            to: node,
            color: if first.resolved { ORANGE } else { RED },
            dash: true,
        });
        branches.push((node, here));
    }
    let forks: BTreeSet<usize> = branches.iter().map(|(n, _)| rank[*n]).collect();
    Model {
        band: bands(slots.len(), &forks),
        slots,
        rank,
        links,
        branches,
    }
}

/// The band of each of `ranks` ranks: [`COLS`] a band, one fewer where a fork point would
/// start the next.
fn bands(ranks: usize, forks: &BTreeSet<usize>) -> Vec<usize> {
    let mut out = Vec::with_capacity(ranks);
    let mut start = 0;
    while start < ranks {
        let mut end = start + COLS;
        if forks.contains(&end) && end - 1 > start + 1 {
            end -= 1;
        }
        let band = out.last().map_or(0, |b| b + 1);
        out.extend(std::iter::repeat_n(band, end.min(ranks) - start));
        start = end;
    }
    out
}

/// The placed picture folded into bands: each node's box, and each band's shift and extent.
struct Fold {
    boxes: Vec<(i64, i64)>,
    /// Per band: (dx, dy) applied to the crate's coordinates, and the bottom of its boxes.
    bands: Vec<(f64, f64, i64)>,
    width: i64,
    bottom: i64,
}

fn fold(placed: &[Rect], m: &Model) -> Fold {
    let band_of = |node: usize| m.band.get(m.rank[node]).copied().unwrap_or(0);
    let count = m.band.last().map_or(0, |b| b + 1);
    let mut bands = Vec::with_capacity(count);
    let mut y = TOP + DECO;
    let mut width = MIN_W;
    for b in 0..count {
        let mine: Vec<&Rect> = placed
            .iter()
            .enumerate()
            .filter(|(i, _)| band_of(*i) == b)
            .map(|(_, p)| p)
            .collect();
        let min_x = mine.iter().map(|p| p.x).fold(f64::MAX, f64::min);
        let max_x = mine.iter().map(|p| p.x + p.w).fold(f64::MIN, f64::max);
        let min_y = mine.iter().map(|p| p.y).fold(f64::MAX, f64::min);
        let max_y = mine.iter().map(|p| p.y + p.h).fold(f64::MIN, f64::max);
        let (dx, dy) = (MARGIN as f64 - min_x, y as f64 - min_y);
        let bottom = (max_y + dy).round() as i64;
        width = width.max((max_x - min_x).round() as i64 + 2 * MARGIN);
        bands.push((dx, dy, bottom));
        y = bottom + 2 * DECO + BAND_GAP;
    }
    let boxes = placed
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (dx, dy, _) = bands[band_of(i)];
            ((p.x + dx).round() as i64, (p.y + dy).round() as i64)
        })
        .collect();
    Fold {
        boxes,
        width,
        bottom: y - DECO - BAND_GAP,
        bands,
    }
}

/// Draws a chain as SVG.
pub fn chain(p: &ChainPicture) -> String {
    let m = model(p);
    let mut g = Graph::new(GAP_X, GAP_Y);
    for _ in &m.rank {
        g.node(BOX_W as f64, BOX_H as f64);
    }
    for l in &m.links {
        g.link(l.from, l.to);
    }
    let placed = g.place();
    let f = fold(&placed.boxes, &m);
    let forked = !p.branches.is_empty();
    let legend_y = f.bottom + 12;
    let height = legend_y + if forked { 120 } else { 96 };
    let mut s = String::new();
    open(&mut s, f.width, height, &p.title);
    let _ = write!(
        s,
        "<text x=\"{PAD}\" y=\"26\" font-size=\"16\" font-weight=\"600\" fill=\"{INK}\">{}</text><text x=\"{PAD}\" y=\"46\" font-size=\"12\" fill=\"{GRAY}\">{}</text>",
        esc(&p.title),
        esc(&subtitle(p, &m.slots))
    );
    for (l, route) in m.links.iter().zip(&placed.routes) {
        let (band_a, band_b) = (m.band[m.rank[l.from]], m.band[m.rank[l.to]]);
        let d = if band_a == band_b {
            let (dx, dy, _) = f.bands[band_a];
            layout::path(route, dx, dy)
        } else {
            let lane = l.to >= m.slots.len();
            wrap(f.boxes[l.from], f.boxes[l.to], f.bands[band_a].2, lane)
        };
        let dash = if l.dash {
            " stroke-dasharray=\"5 4\""
        } else {
            ""
        };
        let _ = write!(
            s,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" marker-end=\"url(#arrow)\"{dash}/>",
            l.color
        );
    }
    cells(&mut s, p, &m.slots, &f.boxes);
    for (node, here) in &m.branches {
        branch_box(&mut s, here, f.boxes[*node]);
    }
    legend(&mut s, legend_y, f.width, forked);
    s.push_str("</svg>");
    s
}

/// A link from a band's last rank to the next band's first: out to the right, back left
/// through the gap below the band, then into the box from its left. A branch takes an outer
/// lane so that it does not run over the line's own link.
fn wrap(a: (i64, i64), b: (i64, i64), band_bottom: i64, outer: bool) -> String {
    let shift = if outer { 10 } else { 0 };
    let out = a.0 + BOX_W + 14 + shift;
    let lane = band_bottom + DECO + BAND_GAP / 2 + shift;
    let back = b.0 - 14 - shift;
    format!(
        "M {} {} H {out} V {lane} H {back} V {} H {}",
        a.0 + BOX_W,
        a.1 + BOX_H / 2,
        b.1 + BOX_H / 2,
        b.0 - 2
    )
}

/// Every cell of the line at its folded place, with the checkpoint tags and anchor badges.
fn cells(s: &mut String, p: &ChainPicture, slots: &[Slot], boxes: &[(i64, i64)]) {
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
        .unwrap_or(slots.len().saturating_sub(1));
    for (i, (slot, &(x, y))) in slots.iter().zip(boxes).enumerate() {
        if i == tag_at && !beyond.is_empty() {
            tag(s, x, y, &beyond);
        }
        let cx = x + BOX_W / 2;
        let mut two = |fill,
                       stroke,
                       width,
                       dash,
                       (t1, c1, bold): (&str, &str, bool),
                       (t2, c2): (&str, &str)| {
            rect(s, x, y, fill, stroke, width, dash);
            let weight = if bold { " font-weight=\"600\"" } else { "" };
            text(s, cx, y + 21, 13, c1, weight, t1);
            text(s, cx, y + 38, 11, c2, "", t2);
        };
        match slot {
            Slot::Genesis => two(
                "#f6f8fa",
                GRAY,
                1.5,
                false,
                ("genesis", INK, true),
                ("genesis_root", GRAY),
            ),
            Slot::Receipt(seq) => receipt_box(s, p, *seq, (x, y), &checkpoints, &anchors),
            Slot::Run(a, b) => two(
                "#f6f8fa",
                GRAY,
                1.2,
                true,
                (&format!("… {} receipts", b - a + 1), INK, false),
                (&format!("#{a} – #{b}"), GRAY),
            ),
            Slot::Missing(seq) => two(
                "#ffebe9",
                RED,
                2.0,
                true,
                (&format!("#{seq} MISSING"), RED, true),
                ("gap in the chain", RED),
            ),
            Slot::Beyond(n) => two(
                "#fff8c5",
                AMBER,
                1.5,
                true,
                (&format!("{n} receipt(s)"), INK, false),
                ("beyond the gap", AMBER),
            ),
            Slot::Fork(k) => {
                two(
                    "#ffebe9",
                    RED,
                    2.0,
                    false,
                    ("FORK", RED, true),
                    ("two receipts, one seq", RED),
                );
                let _ = write!(
                    s,
                    "<title>{}</title>",
                    esc(p.forks.get(*k).map(String::as_str).unwrap_or_default())
                );
            }
        }
    }
}

/// The competing candidates at one fork point (the first drawn, the others counted), in the
/// box the layout placed beside the line's receipt.
fn branch_box(s: &mut String, here: &[&Branch], (x, y): (i64, i64)) {
    let Some(b) = here.first() else { return };
    let color = if b.resolved { ORANGE } else { RED };
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
        HALO,
        &format!("{what}: {} receipt(s){more}", b.length),
    );
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
        let points: std::collections::BTreeSet<u64> =
            p.branches.iter().map(|b| b.sequence).collect();
        let open: std::collections::BTreeSet<u64> = p
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
            &format!(" font-weight=\"600\"{HALO}"),
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
        // Under a fork's label the badge takes the next line.
        let y = if fork.is_some() { y + 16 } else { y };
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

#[cfg(test)]
mod tests {
    use super::super::svg::{Anchor, Checkpoint};
    use super::*;

    /// Six fork points (two of them side by side, one with two losers), anchors, checkpoints,
    /// a failure, a gap and a fork mark after it.
    fn busy() -> ChainPicture {
        let mut p = ChainPicture {
            title: "busy".into(),
            receipt_count: 30,
            gap: Some((30, 4)),
            forks: vec!["fork at 31".into()],
            ..Default::default()
        };
        for (k, resolved) in [
            (3, true),
            (4, false),
            (11, true),
            (17, false),
            (18, false),
            (24, true),
        ] {
            p.branches.push(Branch {
                sequence: k,
                next_root: format!("{k:02}").repeat(32),
                length: k % 4 + 1,
                resolved,
            });
        }
        p.branches.push(Branch {
            sequence: 11,
            next_root: "ff".repeat(32),
            length: 2,
            resolved: true,
        });
        for (sequence, status) in [(6, Status::Ok), (11, Status::Unknown)] {
            p.anchors.push(Anchor {
                sequence,
                label: format!("aad76c06 @{sequence}"),
                status,
            });
        }
        for (size, status) in [(12, Status::Ok), (5, Status::Bad), (33, Status::Unknown)] {
            p.checkpoints.push(Checkpoint { size, status });
        }
        p.bad.insert(20);
        p
    }

    #[test]
    fn a_fork_point_never_opens_a_band_and_folded_boxes_never_overlap() {
        let p = busy();
        let m = model(&p);
        for (node, _) in &m.branches {
            let r = m.rank[*node];
            assert_eq!(m.band[r], m.band[r - 1], "fork at rank {r} starts a band");
        }
        assert!(m.band.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1));
        let mut g = Graph::new(GAP_X, GAP_Y);
        for _ in &m.rank {
            g.node(BOX_W as f64, BOX_H as f64);
        }
        for l in &m.links {
            g.link(l.from, l.to);
        }
        let f = fold(&g.place().boxes, &m);
        for (i, a) in f.boxes.iter().enumerate() {
            for b in &f.boxes[i + 1..] {
                let apart = a.0 + BOX_W <= b.0
                    || b.0 + BOX_W <= a.0
                    || a.1 + BOX_H + DECO <= b.1
                    || b.1 + BOX_H + DECO <= a.1;
                assert!(apart, "{a:?} and {b:?} too close");
            }
            assert!(
                a.0 >= MARGIN && a.0 + BOX_W + MARGIN <= f.width,
                "{a:?} outside"
            );
        }
        let svg = chain(&p);
        assert_eq!(svg, chain(&p), "two drawings differ");
        for want in [
            "LEGEND",
            "losing branch: 4 receipt(s) (+1 more)",
            "#30 MISSING",
            "? ckpt 33",
        ] {
            assert!(svg.contains(want), "lacks {want:?}");
        }
    }
}
