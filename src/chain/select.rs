//! Deterministic chain selection (§8.2): from a start point, follow the one receipt whose
//! (sequence, prev_root) continues the chain; a fork needs a resolution, never a tie-break.
//!
//! Pure and compact: a receipt is a [`Link`] (sequence, prev_root, next_root), 72 bytes, so a
//! million-receipt chain selects in well under 100 MB.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::canon::Digest;

/// One receipt as selection sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Link {
    /// The receipt's sequence.
    pub sequence: u64,
    /// The root it extends.
    pub prev_root: Digest,
    /// Its own root.
    pub next_root: Digest,
}

impl AsRef<Link> for Link {
    fn as_ref(&self) -> &Link {
        self
    }
}

/// Chosen next_roots by (sequence, prev_root).
pub type Resolutions = BTreeMap<(u64, Digest), Digest>;

/// A point where several receipts extend the same (sequence, prev_root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkPoint {
    /// The contested sequence.
    pub sequence: u64,
    /// The contested prev_root.
    pub prev_root: Digest,
    /// The distinct next_roots, sorted.
    pub candidates: Vec<Digest>,
    /// The resolution's choice, if any.
    pub chosen: Option<Digest>,
}

/// The selected chain and what was left aside.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Indices into the deduplicated links, in chain order.
    pub chain: Vec<usize>,
    /// Fork points met on the way (all resolved, or selection fails).
    pub resolved: Vec<ForkPoint>,
    /// Links on losing branches of resolved forks (and their descendants).
    pub fork_branches: Vec<usize>,
    /// Links that connect to nothing selected.
    pub unreachable: Vec<usize>,
}

/// Why no chain could be selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// An unresolved fork.
    Fork(ForkPoint),
    /// A resolution chose a next_root that is not a candidate.
    NotACandidate(ForkPoint),
}

/// Sorts and deduplicates links (identical receipts are one link; their proofs merge elsewhere).
pub fn dedup(mut links: Vec<Link>) -> Vec<Link> {
    links.sort_unstable();
    links.dedup();
    links
}

/// Selects the chain from `start` over deduplicated, sorted `links`.
pub fn select<L: AsRef<Link>>(
    links: &[L],
    start: (u64, Digest),
    resolutions: &Resolutions,
) -> Result<Selection, Stop> {
    let link = |i: usize| links[i].as_ref();
    let mut sel = Selection::default();
    let (mut seq, mut prev) = start;
    loop {
        let lo =
            links.partition_point(|l| (l.as_ref().sequence, l.as_ref().prev_root) < (seq, prev));
        let hi =
            links.partition_point(|l| (l.as_ref().sequence, l.as_ref().prev_root) <= (seq, prev));
        let pick = match hi - lo {
            0 => break,
            1 => lo,
            _ => {
                let point = ForkPoint {
                    sequence: seq,
                    prev_root: prev,
                    candidates: (lo..hi).map(|i| link(i).next_root).collect(),
                    chosen: resolutions.get(&(seq, prev)).copied(),
                };
                let Some(want) = point.chosen else {
                    return Err(Stop::Fork(point));
                };
                let Some(i) = (lo..hi).find(|&i| link(i).next_root == want) else {
                    return Err(Stop::NotACandidate(point));
                };
                sel.resolved.push(point);
                i
            }
        };
        sel.chain.push(pick);
        prev = link(pick).next_root;
        seq += 1;
    }
    classify_rest(links, &mut sel);
    Ok(sel)
}

/// Splits the links off the chain into losing fork branches and plain unreachable ones.
fn classify_rest<L: AsRef<Link>>(links: &[L], sel: &mut Selection) {
    let mut on_chain = vec![false; links.len()];
    for &i in &sel.chain {
        on_chain[i] = true;
    }
    let mut by_prev: HashMap<Digest, Vec<usize>> = HashMap::new();
    for (i, l) in links.iter().enumerate() {
        if !on_chain[i] {
            by_prev.entry(l.as_ref().prev_root).or_default().push(i);
        }
    }
    let mut branch: HashSet<usize> = HashSet::new();
    let mut stack: Vec<usize> = Vec::new();
    for point in &sel.resolved {
        let lo = links.partition_point(|l| {
            (l.as_ref().sequence, l.as_ref().prev_root) < (point.sequence, point.prev_root)
        });
        let hi = links.partition_point(|l| {
            (l.as_ref().sequence, l.as_ref().prev_root) <= (point.sequence, point.prev_root)
        });
        stack.extend((lo..hi).filter(|&i| Some(links[i].as_ref().next_root) != point.chosen));
    }
    while let Some(i) = stack.pop() {
        if branch.insert(i) {
            if let Some(children) = by_prev.get(&links[i].as_ref().next_root) {
                stack.extend(children.iter().copied());
            }
        }
    }
    for (i, &on) in on_chain.iter().enumerate() {
        if on {
            continue;
        }
        if branch.contains(&i) {
            sel.fork_branches.push(i)
        } else {
            sel.unreachable.push(i)
        }
    }
}

/// Every fork point in a set of links, sorted by (sequence, prev_root).
pub fn fork_points(links: &[Link], resolutions: &Resolutions) -> Vec<ForkPoint> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < links.len() {
        let key = (links[i].sequence, links[i].prev_root);
        let mut j = i;
        while j < links.len() && (links[j].sequence, links[j].prev_root) == key {
            j += 1;
        }
        if j - i > 1 {
            out.push(ForkPoint {
                sequence: key.0,
                prev_root: key.1,
                candidates: links[i..j].iter().map(|l| l.next_root).collect(),
                chosen: resolutions.get(&key).copied(),
            });
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        Digest([n; 32])
    }

    fn l(seq: u64, prev: u8, next: u8) -> Link {
        Link {
            sequence: seq,
            prev_root: d(prev),
            next_root: d(next),
        }
    }

    #[test]
    fn a_linear_chain_selects_itself() {
        let links = dedup(vec![l(1, 1, 2), l(0, 0, 1), l(2, 2, 3), l(0, 0, 1)]);
        let sel = select(&links, (0, d(0)), &Resolutions::new()).unwrap();
        let roots: Vec<Digest> = sel.chain.iter().map(|&i| links[i].next_root).collect();
        assert_eq!(roots, vec![d(1), d(2), d(3)]);
        assert!(sel.unreachable.is_empty() && sel.resolved.is_empty());
    }

    #[test]
    fn an_unresolved_fork_stops_selection() {
        let links = dedup(vec![l(0, 0, 1), l(1, 1, 2), l(1, 1, 9)]);
        match select(&links, (0, d(0)), &Resolutions::new()) {
            Err(Stop::Fork(p)) => assert_eq!((p.sequence, p.candidates.len()), (1, 2)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_resolution_picks_a_branch_and_the_loser_is_a_fork_branch() {
        let links = dedup(vec![
            l(0, 0, 1),
            l(1, 1, 2),
            l(1, 1, 9),
            l(2, 9, 10),
            l(2, 2, 3),
        ]);
        let res: Resolutions = [((1, d(1)), d(2))].into_iter().collect();
        let sel = select(&links, (0, d(0)), &res).unwrap();
        assert_eq!(sel.chain.len(), 3);
        assert_eq!(sel.fork_branches.len(), 2);
        assert!(sel.unreachable.is_empty());
        let bad: Resolutions = [((1, d(1)), d(7))].into_iter().collect();
        assert!(matches!(
            select(&links, (0, d(0)), &bad),
            Err(Stop::NotACandidate(_))
        ));
    }

    #[test]
    fn a_gap_leaves_later_receipts_unreachable() {
        let links = dedup(vec![l(0, 0, 1), l(2, 2, 3)]);
        let sel = select(&links, (0, d(0)), &Resolutions::new()).unwrap();
        assert_eq!((sel.chain.len(), sel.unreachable.len()), (1, 1));
    }
}
