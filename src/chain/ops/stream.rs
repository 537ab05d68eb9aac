//! Streaming verification: the same checks, findings and result as [`verify::verify`] over a
//! module's receipt files, in memory bounded by forks and the MMR peaks rather than by the
//! chain's length.
//!
//! The receipts folder is read entry by entry: files named as msez names them
//! (`<stem>.<seq>.json`) are remembered as one bit per sequence, any other name in full (they
//! are few). Those others are checked first, then the named ones in sequence order, in windows
//! of a few thousand checked on every core; the chain is selected as the pass goes, holding only
//! the receipts not yet reached (a fork's candidates, a misplaced file), the MMR peaks, the
//! roots at the sizes asked for, the unreachable links and the first [`FINDINGS_KEPT`] receipt
//! findings in file order (the rest counted). A receipt met after its sequence was decided (a
//! named file holding another sequence's receipt) cannot be placed by one pass: the whole
//! verification then runs again the way [`verify::verify`] does, so every result is its.
//! Resolutions and key lifecycles (checkpoint-dependent standing) also take that path.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::canon::Digest;
use crate::chain::receipt::FileList;
use crate::chain::select::Link;
use crate::chain::verify::{
    self, ChainResult, Dropped, FINDINGS_KEPT, One, Outcome, Sets, check_one,
};
use crate::chain::{Error, Kind};
use crate::mmr;

use super::Chain;

/// Files checked per window (a window's results are all that is held of them).
const WINDOW: usize = 4096;

/// The highest sequence remembered as a bit (one byte per 8 sequences); a file named past it
/// is held by name.
const MAX_BIT: u64 = 1 << 30;

/// Verifies the module's receipts as [`super::verify`] does, in bounded memory, keeping the
/// MMR roots at `sizes` (the checkpoint notes' sizes) in [`ChainResult::roots`] instead of
/// every next_root; receipt findings past [`FINDINGS_KEPT`] are counted in
/// [`Outcome::dropped`].
pub fn verify_stream(chain: &Chain, base: &verify::Options, sizes: &BTreeSet<u64>) -> Outcome {
    let opts = chain.options(base);
    if opts.store_suffices() {
        match stream(chain, &opts, sizes) {
            Ok(Some(out)) => return out,
            Ok(None) => {}
            Err(e) => {
                return Outcome {
                    result: None,
                    errors: vec![e],
                    dropped: Dropped::default(),
                };
            }
        }
    }
    let mut out = match FileList::scan(&chain.receipts_dir) {
        Ok(files) => verify::verify_capped(
            chain.kind,
            &chain.owner,
            chain.genesis_root,
            &files,
            &opts,
            Some(FINDINGS_KEPT),
        ),
        Err(e) => Outcome {
            result: None,
            errors: vec![e],
            dropped: Dropped::default(),
        },
    };
    if let Some(r) = &mut out.result {
        let mut acc = mmr::AppendState::new();
        for root in &r.next_roots {
            acc.append(mmr::leaf_hash(root));
            if sizes.contains(&acc.size()) {
                if let Some(at) = acc.root() {
                    r.roots.insert(acc.size(), at);
                }
            }
        }
    }
    out
}

/// The receipts folder as read entry by entry: named files as bits, others by name.
#[derive(Default)]
struct Listing {
    bits: Vec<u64>,
    others: Vec<String>,
    total: usize,
}

impl Listing {
    fn read(dir: &Path, stem: &str) -> Result<Listing, Error> {
        let mut out = Listing::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io("listing", dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !(name.ends_with(".json") && entry.file_type().is_ok_and(|t| t.is_file())) {
                continue;
            }
            out.total += 1;
            match named_seq(name, stem) {
                Some(n) => {
                    let (w, b) = ((n / 64) as usize, n % 64);
                    if out.bits.len() <= w {
                        out.bits.resize(w + 1, 0);
                    }
                    out.bits[w] |= 1 << b;
                }
                None => out.others.push(name.to_string()),
            }
        }
        out.others.sort_unstable();
        Ok(out)
    }

    /// The named files' sequences, ascending.
    fn sequences(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, &word)| {
            (0..64u64)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| w as u64 * 64 + b)
        })
    }
}

/// The sequence of a file named exactly `<stem>.<seq>.json` (the seq written as msez writes it).
fn named_seq(name: &str, stem: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(stem)?
        .strip_prefix('.')?
        .strip_suffix(".json")?;
    let n: u64 = digits.parse().ok()?;
    (n < MAX_BIT && n.to_string() == digits).then_some(n)
}

/// The first [`FINDINGS_KEPT`] receipt findings by (file name, order within the file).
#[derive(Default)]
struct Kept {
    errors: BTreeMap<(String, u32), Error>,
    dropped: Dropped,
}

impl Kept {
    fn add(&mut self, name: &str, found: Vec<Error>) {
        for (k, e) in (0u32..).zip(found) {
            let key = (name.to_string(), k);
            if self.errors.len() >= FINDINGS_KEPT {
                match self.errors.last_key_value() {
                    Some((last, _)) if *last > key => {
                        if let Some((_, out)) = self.errors.pop_last() {
                            self.dropped.add(&out);
                        }
                    }
                    _ => {
                        self.dropped.add(&e);
                        continue;
                    }
                }
            }
            self.errors.insert(key, e);
        }
    }
}

/// A receipt met after its sequence was decided: one pass cannot place it.
struct Late;

/// The chain selected as the receipts arrive (no resolutions: a fork stops it).
struct Walker<'a> {
    sizes: &'a BTreeSet<u64>,
    /// The next sequence and the root it must extend.
    seq: u64,
    prev: Digest,
    /// Receipts not yet reached, by sequence.
    pending: BTreeMap<u64, Vec<(Link, Sets)>>,
    /// Sequences up to this one are decided (None: none yet).
    decided: Option<u64>,
    /// No receipt continues the chain (or a fork stopped it).
    ended: bool,
    fork: Option<(u64, Digest, usize)>,
    unreachable: HashSet<Link>,
    any: bool,
    any_initial: bool,
    acc: mmr::AppendState,
    result: ChainResult,
    lawpacks: BTreeSet<Digest>,
    rulesets: BTreeSet<Digest>,
}

impl<'a> Walker<'a> {
    fn new(chain: &Chain, sizes: &'a BTreeSet<u64>) -> Walker<'a> {
        Walker {
            sizes,
            seq: 0,
            prev: chain.genesis_root,
            pending: BTreeMap::new(),
            decided: None,
            ended: false,
            fork: None,
            unreachable: HashSet::new(),
            any: false,
            any_initial: false,
            acc: mmr::AppendState::new(),
            result: ChainResult {
                kind: chain.kind,
                owner: chain.owner.clone(),
                genesis_root: chain.genesis_root,
                next_roots: Vec::new(),
                roots: BTreeMap::new(),
                files: FileList::default(),
                chain_files: Vec::new(),
                receipt_count: 0,
                final_root: chain.genesis_root,
                mmr: None,
                lawpack_digest_set: Vec::new(),
                ruleset_digest_set: Vec::new(),
                first_lawpack_digest_set: Vec::new(),
                first_ruleset_digest_set: Vec::new(),
                receipts_read: 0,
                warnings: Vec::new(),
            },
            lawpacks: BTreeSet::new(),
            rulesets: BTreeSet::new(),
        }
    }

    fn feed(&mut self, link: Link, sets: Sets) -> Result<(), Late> {
        self.any = true;
        self.any_initial |= link.sequence == 0;
        if self.fork.is_some() {
            // A fork leaves no chain: only whether receipts and an initial one exist counts.
            return Ok(());
        }
        if self.decided.is_some_and(|d| link.sequence <= d) {
            return Err(Late);
        }
        if self.ended {
            self.unreachable.insert(link);
        } else {
            self.pending
                .entry(link.sequence)
                .or_default()
                .push((link, sets));
        }
        Ok(())
    }

    /// Decides every sequence up to `upto` (all of its receipts have arrived).
    fn advance(&mut self, upto: u64) {
        while !self.ended && self.seq <= upto {
            let mut here = self.pending.remove(&self.seq).unwrap_or_default();
            here.sort_unstable_by_key(|(l, _)| *l);
            here.dedup_by_key(|(l, _)| *l);
            let (on, off): (Vec<_>, Vec<_>) = here
                .into_iter()
                .partition(|(l, _)| l.prev_root == self.prev);
            self.unreachable.extend(off.into_iter().map(|(l, _)| l));
            self.decided = Some(self.seq);
            match on.len() {
                0 => self.ended = true,
                1 => {
                    let Some((link, sets)) = on.into_iter().next() else {
                        break;
                    };
                    self.extend(link, sets);
                }
                n => {
                    self.fork = Some((self.seq, self.prev, n));
                    self.ended = true;
                }
            }
        }
    }

    fn extend(&mut self, link: Link, sets: Sets) {
        if let Some(sets) = sets {
            if self.seq == 0 {
                self.result.first_lawpack_digest_set = sets.0.clone();
                self.result.first_ruleset_digest_set = sets.1.clone();
            }
            self.lawpacks.extend(sets.0.iter().copied());
            self.rulesets.extend(sets.1.iter().copied());
        }
        self.acc.append(mmr::leaf_hash(&link.next_root));
        if self.sizes.contains(&self.acc.size()) {
            if let Some(root) = self.acc.root() {
                self.result.roots.insert(self.acc.size(), root);
            }
        }
        self.result.receipt_count += 1;
        self.result.final_root = link.next_root;
        self.prev = link.next_root;
        self.seq += 1;
    }

    /// The chain-level findings and the result, as `verify::assemble` gives them.
    fn finish(mut self) -> (Option<ChainResult>, Vec<Error>) {
        self.advance(u64::MAX);
        let rest = std::mem::take(&mut self.pending);
        self.unreachable
            .extend(rest.into_values().flatten().map(|(l, _)| l));
        let mut errors = Vec::new();
        let no_initial = self.any && !self.any_initial;
        if no_initial {
            errors.push(Error::NoInitial);
        }
        if let Some((sequence, prev_root, candidates)) = self.fork {
            errors.push(Error::Fork {
                sequence,
                prev_root,
                candidates,
            });
            return (None, errors);
        }
        let count = self.result.receipt_count;
        if count == 0 && self.any && !no_initial {
            errors.push(Error::NoChainStart {
                genesis_root: self.result.genesis_root,
            });
        }
        let last = count as i64 - 1;
        let beyond = self
            .unreachable
            .iter()
            .filter(|l| l.sequence as i64 > last)
            .count();
        if beyond > 0 && count > 0 {
            errors.push(Error::Gap {
                last,
                missing: (last + 1) as u64,
                count: beyond,
            });
        }
        if !self.unreachable.is_empty() {
            let mut off: Vec<&Link> = self.unreachable.iter().collect();
            off.sort_unstable();
            let first: Vec<String> = off
                .iter()
                .take(5)
                .map(|l| format!("seq {} {}", l.sequence, l.next_root))
                .collect();
            self.result.warnings.push(format!("non-canonical receipts present (fork branches / unreachable segments): {}; first few: {first:?}", off.len()));
        }
        let r = &mut self.result;
        r.lawpack_digest_set = self.lawpacks.into_iter().collect();
        r.ruleset_digest_set = self.rulesets.into_iter().collect();
        if let Some(root) = self.acc.root() {
            r.mmr = Some(mmr::MmrRoot {
                size: self.acc.size(),
                root,
                peaks: self.acc.peaks(),
            });
        }
        (Some(self.result), errors)
    }
}

/// One pass over the folder; None when a receipt arrived after its sequence was decided.
fn stream(
    chain: &Chain,
    opts: &verify::Options,
    sizes: &BTreeSet<u64>,
) -> Result<Option<Outcome>, Error> {
    let listing = Listing::read(&chain.receipts_dir, chain.receipt_stem)?;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut walker = Walker::new(chain, sizes);
    let mut kept = Kept::default();
    let mut window: Vec<String> = Vec::with_capacity(WINDOW);
    let named = listing
        .sequences()
        .map(|n| (Some(n), format!("{}.{n}.json", chain.receipt_stem)));
    let others = listing.others.iter().map(|n| (None, n.clone()));
    let mut last_named = None;
    let mut all = others.chain(named).peekable();
    while all.peek().is_some() {
        window.clear();
        for (seq, name) in all.by_ref().take(WINDOW) {
            last_named = seq.or(last_named);
            window.push(name);
        }
        let checked = check_window(chain, &window, opts, threads);
        for (name, (one, found)) in window.iter().zip(checked) {
            // A receipt that links but fails a check adds no digest sets (as `verify` has it).
            let clean = found.is_empty();
            kept.add(name, found);
            if let Some(One { link, sets, .. }) = one {
                if walker.feed(link, sets.filter(|_| clean)).is_err() {
                    return Ok(None);
                }
            }
        }
        // Every receipt of a sequence up to the last named file read has arrived (the others
        // came first), unless a named file holds another's: that one is late, and caught.
        if let Some(n) = last_named {
            walker.advance(n);
        }
    }
    walker.result.receipts_read = listing.total;
    let (result, more) = walker.finish();
    let mut errors: Vec<Error> = kept.errors.into_values().collect();
    errors.extend(more);
    Ok(Some(Outcome {
        result,
        errors,
        dropped: kept.dropped,
    }))
}

/// Every check of each file of `names`, on `threads` threads, in order.
fn check_window(
    chain: &Chain,
    names: &[String],
    opts: &verify::Options,
    threads: usize,
) -> Vec<(Option<One>, Vec<Error>)> {
    let dir: &PathBuf = &chain.receipts_dir;
    let (kind, owner): (Kind, &str) = (chain.kind, &chain.owner);
    let chunk = names.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|name| check_one(kind, owner, &dir.join(name), opts))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a verify worker does not panic"))
            .collect()
    })
}
