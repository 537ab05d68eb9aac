//! The closure picture (`artifact graph verify --format svg`): the root, one box per artifact
//! type it reaches (and the missing, altered or cut-short ones), placed by the layout crate
//! ([`super::layout`]) as a fan from the root; the links are msez's curves from side to side.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::layout::Graph;
use super::svg::{AMBER, BLUE, GRAY, GREEN, INK, PAD, RED, TOP, esc, open, text, trim};

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
    let rows = rows(p);
    let mut g = Graph::new(170.0, 14.0);
    let root = g.node(220.0, 50.0);
    for _ in &rows {
        let n = g.node(300.0, 44.0);
        g.link(root, n);
    }
    let placed = g.place();
    let min_x = placed.boxes.iter().map(|b| b.x).fold(f64::MAX, f64::min);
    let min_y = placed.boxes.iter().map(|b| b.y).fold(f64::MAX, f64::min);
    let (dx, dy) = (PAD as f64 - min_x, (TOP + 4) as f64 - min_y);
    let at = |i: usize| {
        placed.boxes.get(i).map_or((0, 0), |b| {
            ((b.x + dx).round() as i64, (b.y + dy).round() as i64)
        })
    };
    let right = placed
        .boxes
        .iter()
        .map(|b| b.x + b.w + dx)
        .fold(0.0, f64::max);
    let bottom = placed
        .boxes
        .iter()
        .map(|b| b.y + b.h + dy)
        .fold(0.0, f64::max);
    let width = (right.round() as i64 + PAD).max(760);
    let height = (bottom.round() as i64 + PAD).max(TOP + 110);
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
    let (rx, ry) = at(root);
    // The crate aims a link at a box's centre, which through a wide, flat box crosses its
    // neighbours; a fan reads better as curves from side to side, so msez draws them.
    for (i, (_, _, color, dash)) in rows.iter().enumerate() {
        let (bx, by) = at(i + 1);
        let (ax, ay, by) = (rx + 220, ry + 25, by + 22);
        let _ = write!(
            s,
            "<path d=\"M {ax} {ay} C {} {ay}, {} {by}, {} {by}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" marker-end=\"url(#arrow)\"{}/>",
            ax + 80,
            bx - 90,
            bx - 3,
            if *dash {
                " stroke-dasharray=\"5 4\""
            } else {
                ""
            }
        );
    }
    let _ = write!(
        s,
        "<rect x=\"{rx}\" y=\"{ry}\" width=\"220\" height=\"50\" rx=\"8\" fill=\"#ddf4ff\" stroke=\"{BLUE}\" stroke-width=\"2\"/>"
    );
    text(
        &mut s,
        rx + 110,
        ry + 21,
        13,
        INK,
        " font-weight=\"600\"",
        "root",
    );
    text(&mut s, rx + 110, ry + 38, 11, GRAY, "", &trim(&p.root, 32));
    for (i, (label, count, color, dash)) in rows.iter().enumerate() {
        let (bx, y) = at(i + 1);
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

/// One box per artifact type (at most 13), then the missing, altered and cut-short marks:
/// (label, count, colour, dashed).
fn rows(p: &ClosurePicture) -> Vec<(String, String, &'static str, bool)> {
    let mut rows: Vec<(String, String, &'static str, bool)> = Vec::new();
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
    rows
}
