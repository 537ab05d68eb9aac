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

    /// A distinct digest per node number (0 is the genesis).
    fn node(n: usize) -> Digest {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&(n as u64).to_le_bytes());
        Digest(b)
    }

    /// A random tree from the genesis: node i+1 hangs under an earlier node, so a node with
    /// several children is a fork point; `choose` picks a resolution for each fork point.
    fn tree(parents: &[proptest::sample::Index]) -> (Vec<Link>, Vec<(usize, u64)>) {
        let mut depth = vec![(0usize, 0u64)]; // (node, sequence of its children)
        let mut links = Vec::new();
        for (i, p) in parents.iter().enumerate() {
            let (parent, seq) = depth[p.index(depth.len())];
            links.push(Link {
                sequence: seq,
                prev_root: node(parent),
                next_root: node(i + 1),
            });
            depth.push((i + 1, seq + 1));
        }
        (links, depth)
    }

    /// What selection decided, in a form independent of link positions.
    fn outcome(links: Vec<Link>, res: &Resolutions) -> Result<(Vec<Digest>, Vec<Digest>), Stop> {
        let links = dedup(links);
        let sel = select(&links, (0, node(0)), res)?;
        let chain = sel.chain.iter().map(|&i| links[i].next_root).collect();
        let mut off: Vec<Digest> = sel
            .unreachable
            .iter()
            .chain(&sel.fork_branches)
            .map(|&i| links[i].next_root)
            .collect();
        off.sort();
        Ok((chain, off))
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn selection_is_independent_of_file_order_and_duplicates(
            parents in prop::collection::vec(any::<prop::sample::Index>(), 1..40),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 40),
            order in prop::collection::vec(any::<u64>(), 80),
            dups in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let (links, _) = tree(&parents);
            let sorted = dedup(links.clone());
            // Resolve every fork point with a candidate picked at random.
            let res: Resolutions = fork_points(&sorted, &Resolutions::new())
                .iter()
                .zip(&picks)
                .map(|(p, pick)| ((p.sequence, p.prev_root), p.candidates[pick.index(p.candidates.len())]))
                .collect();
            let mut shuffled: Vec<(u64, Link)> =
                links.iter().zip(&order).map(|(l, k)| (*k, *l)).collect();
            shuffled.extend(dups.iter().zip(&order[40..]).map(|(d, k)| (*k, links[d.index(links.len())])));
            shuffled.sort_by_key(|(k, _)| *k);
            let shuffled: Vec<Link> = shuffled.into_iter().map(|(_, l)| l).collect();
            prop_assert_eq!(outcome(links.clone(), &res), outcome(shuffled.clone(), &res));
            prop_assert_eq!(outcome(links, &Resolutions::new()), outcome(shuffled, &Resolutions::new()));
        }

        #[test]
        fn a_chain_without_forks_selects_itself_whatever_the_resolutions(
            n in 1usize..40,
            resolved in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..10),
        ) {
            let links: Vec<Link> = (0..n)
                .map(|i| Link { sequence: i as u64, prev_root: node(i), next_root: node(i + 1) })
                .collect();
            let res: Resolutions = resolved
                .iter()
                .map(|(i, b)| {
                    let l = links[i.index(n)];
                    ((l.sequence, l.prev_root), Digest([*b; 32]))
                })
                .collect();
            let plain = outcome(links.clone(), &Resolutions::new());
            let expected: Vec<Digest> = (1..=n).map(node).collect();
            prop_assert_eq!(plain.clone(), Ok((expected, Vec::new())));
            prop_assert_eq!(outcome(links, &res), plain);
        }
    }
}
