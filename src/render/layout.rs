//! Graph layout by the layout-rs crate (lib `layout`): layered (Sugiyama) ranks, crossing
//! reduction, Brandes–Köpf placement and curved edge routes, with no external program.
//!
//! msez hands it boxes and links, and reads back where each box went and how each link runs;
//! the drawing (styles, labels, the legend) stays msez's, so the crate's own SVG writer is not
//! used (it names font classes in hash-map order, which would make two runs differ). Every
//! number the pictures print is rounded here, so the same graph gives the same bytes.

use layout::core::base::Orientation;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::{Point, Position};
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;

/// A box's place: its top-left corner and size, in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// Boxes and links to lay out left to right.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    sizes: Vec<(f64, f64)>,
    links: Vec<(usize, usize)>,
    gap: (f64, f64),
}

/// Where the crate put a [`Graph`]'s boxes and how it routed its links.
#[derive(Clone, Debug, Default)]
pub struct Placed {
    /// Each box, by the index [`Graph::node`] returned.
    pub boxes: Vec<Rect>,
    /// Each link's route as the crate's cubic Bézier chain, by the index [`Graph::link`]
    /// returned: the start and its control point, then (control point, point) per segment.
    pub routes: Vec<Vec<(f64, f64)>>,
}

impl Graph {
    /// An empty graph whose boxes keep `gap_x` apart along a rank's links and `gap_y` across.
    pub fn new(gap_x: f64, gap_y: f64) -> Graph {
        Graph {
            gap: (gap_x, gap_y),
            ..Graph::default()
        }
    }

    /// Adds a box of `w` × `h`; returns its index.
    pub fn node(&mut self, w: f64, h: f64) -> usize {
        self.sizes.push((w, h));
        self.sizes.len() - 1
    }

    /// Adds a link between two boxes; returns its index.
    pub fn link(&mut self, from: usize, to: usize) -> usize {
        self.links.push((from, to));
        self.links.len() - 1
    }

    /// Lays the graph out (ranks run left to right).
    pub fn place(&self) -> Placed {
        // The crate panics on an empty graph ("Sorting an empty graph").
        if self.sizes.is_empty() {
            return Placed::default();
        }
        let o = Orientation::LeftToRight;
        let mut vg = VisualGraph::new(o);
        let handles: Vec<_> = self
            .sizes
            .iter()
            .map(|&(w, h)| {
                let size = Point::new(w, h);
                let mut e = Element::create(ShapeKind::new_box(""), StyleAttr::simple(), o, size);
                let halo = Point::new(self.gap.0, self.gap.1);
                e.pos = Position::new(Point::zero(), size, Point::zero(), halo);
                vg.add_node(e)
            })
            .collect();
        for (i, &(a, b)) in self.links.iter().enumerate() {
            let (Some(&from), Some(&to)) = (handles.get(a), handles.get(b)) else {
                continue;
            };
            let arrow = Arrow {
                properties: Some(i.to_string()),
                ..Arrow::default()
            };
            vg.add_edge(arrow, from, to);
        }
        let mut routes = Routes(vec![Vec::new(); self.links.len()]);
        vg.do_it(false, false, false, &mut routes);
        let boxes = handles
            .iter()
            .map(|&h| {
                let (tl, br) = vg.pos(h).bbox(false);
                Rect {
                    x: round(tl.x),
                    y: round(tl.y),
                    w: round(br.x - tl.x),
                    h: round(br.y - tl.y),
                }
            })
            .collect();
        Placed {
            boxes,
            routes: routes.0,
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A link's route shifted by (dx, dy), as an SVG path (the crate's own curve form).
pub fn path(route: &[(f64, f64)], dx: f64, dy: f64) -> String {
    let p = |i: usize| {
        route
            .get(i)
            .map(|&(x, y)| format!("{} {}", round(x + dx), round(y + dy)))
            .unwrap_or_default()
    };
    if route.len() < 4 {
        return String::new();
    }
    let mut d = format!("M {} C {}, {}, {}", p(0), p(1), p(2), p(3));
    let mut i = 4;
    while i + 1 < route.len() {
        d.push_str(&format!(" S {}, {}", p(i), p(i + 1)));
        i += 2;
    }
    d
}

/// A render backend that keeps only the link routes (boxes are read from their positions).
struct Routes(Vec<Vec<(f64, f64)>>);

impl RenderBackend for Routes {
    fn draw_rect(
        &mut self,
        _: Point,
        _: Point,
        _: &StyleAttr,
        _: Option<String>,
        _: Option<ClipHandle>,
    ) {
    }

    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_text(&mut self, _: Point, _: &str, _: &StyleAttr) {}

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _: bool,
        _: (bool, bool),
        _: &StyleAttr,
        properties: Option<String>,
        _: &str,
    ) {
        let Some(slot) = properties
            .and_then(|p| p.parse::<usize>().ok())
            .and_then(|i| self.0.get_mut(i))
        else {
            return;
        };
        *slot = path
            .iter()
            .flat_map(|(a, b)| [(round(a.x), round(a.y)), (round(b.x), round(b.y))])
            .collect();
    }

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line of `n` boxes with a side box at every seventh; the crate must neither panic nor
    /// place two boxes over each other, and must give the same answer twice.
    fn line(n: usize) -> Graph {
        let mut g = Graph::new(40.0, 60.0);
        let mut prev = g.node(132.0, 50.0);
        for i in 1..n {
            let b = g.node(132.0, 50.0);
            g.link(prev, b);
            if i % 7 == 3 {
                let side = g.node(132.0, 50.0);
                g.link(prev, side);
            }
            prev = b;
        }
        g
    }

    #[test]
    fn the_crate_places_lines_with_branches_without_overlap_and_deterministically() {
        for n in [1, 2, 3, 9, 40, 210] {
            let g = line(n);
            let a = g.place();
            assert_eq!(a.boxes.len(), g.sizes.len());
            for (i, p) in a.boxes.iter().enumerate() {
                for q in &a.boxes[i + 1..] {
                    let apart = p.x + p.w <= q.x
                        || q.x + q.w <= p.x
                        || p.y + p.h <= q.y
                        || q.y + q.h <= p.y;
                    assert!(apart, "{n}: {p:?} overlaps {q:?}");
                }
            }
            assert!(
                a.routes.iter().all(|r| r.len() >= 4),
                "{n}: a link not routed"
            );
            let b = g.place();
            assert_eq!(a.boxes, b.boxes);
            assert_eq!(a.routes, b.routes);
        }
        assert!(Graph::new(1.0, 1.0).place().boxes.is_empty());
    }
}
