//! A chain's state inside `.msez`: its refs, and an append-only MMR node store with the running
//! peaks and digest-set unions, so appends, checkpoints and proofs cost O(log n) reads.
//!
//! ```text
//! .msez/mmr/assets/<asset_id>/<purpose>/   or   .msez/mmr/corridors/<corridor_id>/
//!   level-00 level-01 ...   32-byte node hashes; level L holds complete subtrees of 2^L leaves,
//!                           node i at offset 32*i (append-only; bytes past the state's size
//!                           are a crashed append and are truncated on open)
//!   next-roots              32 bytes per receipt: the chain's next_roots in order (seq -> root)
//!   state.json              {head, size, genesis_root, peaks, digest sets}, replaced atomically
//! ```
//! Write order: node files (fsync), state.json (atomic), then the head ref moves. The ref is
//! the truth: a state whose head differs from the ref is rebuilt from the receipts in `.msez`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{Digest, Value};
use crate::mmr::{self, AppendState, Hash, NodeId, NodeReader, Peak};
use crate::odb::{RefName, Repo};

use super::receipt::normalize_set;
use super::{Error, Kind};

/// Names one chain: an asset purpose or a corridor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainKey {
    /// Asset or corridor.
    pub kind: Kind,
    /// The asset_id (hex) or corridor id.
    pub owner: String,
    /// The purpose (assets only).
    pub purpose: Option<String>,
}

impl ChainKey {
    /// The chain a head ref names (`refs/assets/<id>/<purpose>/head`, `refs/corridors/<id>/head`).
    pub fn from_head_ref(name: &RefName) -> Option<ChainKey> {
        match name.as_str().split('/').collect::<Vec<_>>().as_slice() {
            ["refs", "assets", id, purpose, "head"] => Some(ChainKey {
                kind: Kind::Asset,
                owner: id.to_string(),
                purpose: Some(purpose.to_string()),
            }),
            ["refs", "corridors", id, "head"] => Some(ChainKey {
                kind: Kind::Corridor,
                owner: id.to_string(),
                purpose: None,
            }),
            _ => None,
        }
    }

    /// An asset chain.
    pub fn asset(asset_id: &Digest, purpose: &str) -> ChainKey {
        ChainKey {
            kind: Kind::Asset,
            owner: asset_id.to_hex(),
            purpose: Some(purpose.to_string()),
        }
    }

    /// A corridor chain.
    pub fn corridor(corridor_id: &str) -> ChainKey {
        ChainKey {
            kind: Kind::Corridor,
            owner: corridor_id.to_string(),
            purpose: None,
        }
    }

    /// `assets/<asset_id>/<purpose>` or `corridors/<corridor_id>`.
    pub fn path(&self) -> String {
        match (&self.kind, &self.purpose) {
            (Kind::Asset, Some(p)) => format!("assets/{}/{p}", self.owner),
            (Kind::Asset, None) => format!("assets/{}/core", self.owner),
            (Kind::Corridor, _) => format!("corridors/{}", self.owner),
        }
    }

    /// The head ref.
    pub fn head_ref(&self) -> Result<RefName, Error> {
        Ok(RefName::new(&format!("refs/{}/head", self.path()))?)
    }

    /// The checkpoint ref.
    pub fn checkpoint_ref(&self) -> Result<RefName, Error> {
        Ok(RefName::new(&format!("refs/{}/checkpoint", self.path()))?)
    }

    /// The ref that keeps a losing fork branch.
    pub fn fork_ref(&self, next_root: &Digest) -> Result<RefName, Error> {
        Ok(RefName::new(&format!(
            "refs/{}/forks/{next_root}",
            self.path()
        ))?)
    }
}

/// What is kept beside the head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// The head next_root (None for an empty chain).
    pub head: Option<Digest>,
    /// Number of receipts.
    pub size: u64,
    /// The genesis root the chain starts from.
    pub genesis_root: Digest,
    /// The MMR peaks at `size`.
    pub peaks: Vec<Peak>,
    /// Sorted union of every receipt's lawpack digests (asset checkpoints).
    pub lawpack_digest_set: Vec<Digest>,
    /// Sorted union of every receipt's ruleset digests.
    pub ruleset_digest_set: Vec<Digest>,
    /// The first receipt's lawpack digests (corridor checkpoints use receipts[0]).
    pub first_lawpack_digest_set: Vec<Digest>,
    /// The first receipt's ruleset digests.
    pub first_ruleset_digest_set: Vec<Digest>,
}

/// An open chain store.
pub struct ChainStore {
    dir: PathBuf,
    key: ChainKey,
    state: ChainState,
    append: AppendState,
    levels: Vec<NodeFile>,
    roots: Option<NodeFile>,
    /// The store's flock (see [`lock_store`]); None for a read-only [`ChainStore::inspect`].
    _lock: Option<File>,
}

/// Takes `mmr/<chain>.lock` exclusively, waiting for a holder: opening a store may truncate or
/// rebuild its node files, which must never happen under an append that is writing them (a
/// checkpoint or proof racing an append truncated the appender's new nodes). An appender
/// holds it from opening the store until its head ref has moved, so a reader sees the state
/// and the head ref agree. The lock is beside the directory, since a rebuild empties that.
fn lock_store(dir: &std::path::Path) -> Result<File, Error> {
    use std::os::unix::io::AsRawFd;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let path = dir.with_file_name(format!("{name}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("opening", &path, e))?;
    loop {
        // SAFETY: the descriptor is borrowed from the open `file`; flock takes no pointers.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(file);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::io("locking", &path, e));
        }
    }
}

/// An append-only file of 32-byte records; appends are buffered until [`NodeFile::write`], so
/// a batch of receipts costs a few writes, not a few per receipt.
struct NodeFile {
    file: File,
    /// Bytes in the file (the buffer follows them).
    written: u64,
    pending: Vec<u8>,
    /// Written but maybe not durable.
    unsynced: bool,
}

impl NodeFile {
    fn new(file: File) -> std::io::Result<NodeFile> {
        let written = file.metadata()?.len();
        Ok(NodeFile {
            file,
            written,
            pending: Vec::new(),
            unsynced: false,
        })
    }

    /// The length including buffered bytes.
    fn len(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        if offset < self.written {
            return self.file.read_exact_at(buf, offset);
        }
        let start = (offset - self.written) as usize;
        let src = self
            .pending
            .get(start..start + buf.len())
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.pending.clear();
        self.file.set_len(len)?;
        self.written = len;
        Ok(())
    }

    /// Writes the buffer out (not yet durable).
    fn write(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            (&self.file).write_all(&self.pending)?;
            self.written += self.pending.len() as u64;
            self.pending.clear();
            self.unsynced = true;
        }
        Ok(())
    }

    /// Writes the buffer and makes the file durable.
    fn sync(&mut self) -> std::io::Result<()> {
        self.write()?;
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }
}

/// The file of the chain's next_roots, 32 bytes each, in sequence order.
const ROOTS: &str = "next-roots";

fn level_name(level: usize) -> String {
    format!("level-{level:02}")
}

impl ChainStore {
    /// Opens (or creates) the store of `key`, rebuilding it from `.msez` when it does not match
    /// the head ref.
    pub fn open(repo: &Repo, key: &ChainKey, genesis_root: Digest) -> Result<ChainStore, Error> {
        let dir = repo.dir().join("mmr").join(key.path());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        let lock = lock_store(&dir)?;
        let head = repo.read_ref(&key.head_ref()?)?;
        let saved = read_state(&dir)?;
        // Derived data: anything that does not add up is rebuilt from the chain, never an
        // error (a bad size in state.json used to block every append until deleted by hand).
        let mut store = match saved {
            Some(state)
                if state.head == head
                    && state.genesis_root == genesis_root
                    && AppendState::from_peaks(state.size, &state.peaks).is_ok() =>
            {
                let store = ChainStore::load(dir.clone(), key, state, lock)?;
                // Peak nodes and lengths are O(log n) reads: a store whose files disagree with
                // its own state (a damaged or foreign file) is rebuilt rather than trusted.
                if store.consistent() {
                    store
                } else {
                    let lock = store._lock;
                    ChainStore::rebuild(repo, dir, key, genesis_root, head, lock)?
                }
            }
            _ => ChainStore::rebuild(repo, dir, key, genesis_root, head, Some(lock))?,
        };
        store.truncate_to_size()?;
        Ok(store)
    }

    /// Discards the node files and state of `key` and rebuilds them from `.msez`.
    pub fn rebuilt(repo: &Repo, key: &ChainKey, genesis_root: Digest) -> Result<ChainStore, Error> {
        let dir = repo.dir().join("mmr").join(key.path());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        let lock = lock_store(&dir)?;
        let head = repo.read_ref(&key.head_ref()?)?;
        ChainStore::rebuild(repo, dir, key, genesis_root, head, Some(lock))
    }

    /// Takes the chain's store lock for a reader that compares the store with the head ref
    /// (an appender holds it until its ref has moved); None when the chain has no store.
    pub fn lock_for_reading(repo: &Repo, key: &ChainKey) -> Result<Option<File>, Error> {
        let dir = repo.dir().join("mmr").join(key.path());
        if !dir.is_dir() {
            return Ok(None);
        }
        lock_store(&dir).map(Some)
    }

    /// Opens an existing store without creating, truncating or rebuilding anything (fsck).
    pub fn inspect(repo: &Repo, key: &ChainKey) -> Result<Option<ChainStore>, Error> {
        let dir = repo.dir().join("mmr").join(key.path());
        let Some(state) = read_state(&dir)? else {
            return Ok(None);
        };
        let append = AppendState::from_peaks(state.size, &state.peaks)?;
        let mut levels = Vec::new();
        for level in 0..64 {
            match File::open(dir.join(level_name(level))).and_then(NodeFile::new) {
                Ok(f) => levels.push(f),
                Err(_) => break,
            }
        }
        let roots = File::open(dir.join(ROOTS)).and_then(NodeFile::new).ok();
        Ok(Some(ChainStore {
            dir,
            key: key.clone(),
            state,
            append,
            levels,
            roots,
            _lock: None,
        }))
    }

    fn load(
        dir: PathBuf,
        key: &ChainKey,
        state: ChainState,
        lock: File,
    ) -> Result<ChainStore, Error> {
        let append = AppendState::from_peaks(state.size, &state.peaks)?;
        let mut store = ChainStore {
            dir,
            key: key.clone(),
            state,
            append,
            levels: Vec::new(),
            roots: None,
            _lock: Some(lock),
        };
        store.open_levels()?;
        Ok(store)
    }

    fn empty_state(genesis_root: Digest) -> ChainState {
        ChainState {
            head: None,
            size: 0,
            genesis_root,
            peaks: Vec::new(),
            lawpack_digest_set: Vec::new(),
            ruleset_digest_set: Vec::new(),
            first_lawpack_digest_set: Vec::new(),
            first_ruleset_digest_set: Vec::new(),
        }
    }

    /// Recreates the node files from the receipts in `.msez`, walking back from the head.
    fn rebuild(
        repo: &Repo,
        dir: PathBuf,
        key: &ChainKey,
        genesis_root: Digest,
        head: Option<Digest>,
        lock: Option<File>,
    ) -> Result<ChainStore, Error> {
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| Error::io("listing", &dir, e))?
            .flatten()
        {
            let _ = std::fs::remove_file(entry.path());
        }
        let mut receipts = Vec::new();
        let rtype =
            ArtifactType::new(key.kind.receipt_artifact()).expect("receipt types are valid");
        let mut cursor = head;
        while let Some(next_root) = cursor {
            let value = repo.read_json(&ObjectId::new(rtype.clone(), next_root))?;
            let prev = value
                .get("prev_root")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let prev = Digest::parse_loose(prev)?;
            receipts.push(value);
            cursor = if prev == genesis_root {
                None
            } else {
                Some(prev)
            };
            if receipts.len() as u64 > (1 << 40) {
                return Err(Error::schema(key.path(), "receipt chain loops"));
            }
        }
        receipts.reverse();
        let mut store = ChainStore {
            dir,
            key: key.clone(),
            state: Self::empty_state(genesis_root),
            append: AppendState::new(),
            levels: Vec::new(),
            roots: None,
            _lock: lock,
        };
        store.open_levels()?;
        for r in &receipts {
            store.append(r)?;
        }
        store.save()?;
        Ok(store)
    }

    fn open_levels(&mut self) -> Result<(), Error> {
        self.levels.clear();
        let path = self.dir.join(ROOTS);
        self.roots = Some(open_append(&path)?);
        for level in 0..64 {
            let path = self.dir.join(level_name(level));
            if level > 0 && !path.exists() && (self.state.size >> level) == 0 {
                break;
            }
            self.levels.push(open_append(&path)?);
        }
        Ok(())
    }

    /// Drops node bytes beyond what the saved size accounts for (a crashed append).
    fn truncate_to_size(&mut self) -> Result<(), Error> {
        if let Some(f) = &mut self.roots {
            if f.len() > self.state.size * 32 {
                f.set_len(self.state.size * 32)
                    .map_err(|e| Error::io("truncating", self.dir.join(ROOTS), e))?;
            }
        }
        for (level, f) in self.levels.iter_mut().enumerate() {
            let want = (self.state.size >> level) * 32;
            if f.len() > want {
                f.set_len(want)
                    .map_err(|e| Error::io("truncating", self.dir.join(level_name(level)), e))?;
            }
        }
        Ok(())
    }

    /// What can be checked in O(log n): every file at least as long as the state says, the
    /// last next_root is the head, and the peak nodes are the state's peaks.
    fn consistent(&self) -> bool {
        let size = self.state.size;
        let long_enough = self.roots.as_ref().is_some_and(|f| f.len() >= size * 32)
            && (0..64).take_while(|l| size >> l > 0).all(|l| {
                self.levels
                    .get(l)
                    .is_some_and(|f| f.len() >= (size >> l) * 32)
            });
        long_enough
            && (size == 0 || self.next_root_at(size - 1).ok() == self.state.head)
            && self.peaks_match()
    }

    fn peaks_match(&self) -> bool {
        let plan = mmr::peak_plan(self.state.size);
        plan.len() == self.state.peaks.len()
            && plan
                .iter()
                .zip(&self.state.peaks)
                .all(|(id, p)| self.node(*id).ok() == Some(p.hash))
    }

    /// The state kept beside the head.
    pub fn state(&self) -> &ChainState {
        &self.state
    }

    /// The chain this store belongs to.
    pub fn key(&self) -> &ChainKey {
        &self.key
    }

    /// Appends one verified receipt: its leaf and completed nodes, and the digest-set unions.
    pub fn append(&mut self, receipt: &Value) -> Result<(), Error> {
        let next_root = Digest::parse_loose(
            receipt
                .get("next_root")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )?;
        let set = |field: &str| match receipt.get(field) {
            Some(Value::Array(items)) => normalize_set(items),
            _ => Ok(Vec::new()),
        };
        let (lawpacks, rulesets) = (set("lawpack_digest_set")?, set("ruleset_digest_set")?);
        if self.state.size == 0 {
            self.state.first_lawpack_digest_set = lawpacks.clone();
            self.state.first_ruleset_digest_set = rulesets.clone();
        }
        union_into(&mut self.state.lawpack_digest_set, lawpacks);
        union_into(&mut self.state.ruleset_digest_set, rulesets);
        if let Some(f) = &mut self.roots {
            f.push(next_root.as_bytes());
        }
        for (id, hash) in self.append.append(mmr::leaf_hash(&next_root)) {
            self.write_node(id, &hash)?;
        }
        self.state.size = self.append.size();
        self.state.head = Some(next_root);
        self.state.peaks = self.append.peaks();
        Ok(())
    }

    fn write_node(&mut self, id: NodeId, hash: &Hash) -> Result<(), Error> {
        let level = id.level as usize;
        while self.levels.len() <= level {
            let path = self.dir.join(level_name(self.levels.len()));
            self.levels.push(open_append(&path)?);
        }
        let f = &mut self.levels[level];
        debug_assert_eq!(f.len(), id.index * 32, "nodes are appended in order");
        f.push(hash.as_bytes());
        Ok(())
    }

    fn files(&mut self) -> impl Iterator<Item = (PathBuf, &mut NodeFile)> {
        let dir = &self.dir;
        self.roots.iter_mut().map(|f| (dir.join(ROOTS), f)).chain(
            self.levels
                .iter_mut()
                .enumerate()
                .map(|(level, f)| (dir.join(level_name(level)), f)),
        )
    }

    /// Writes appended nodes out without waiting for them to be durable: for a caller whose
    /// `syncfs` of [`ChainStore::dir`] follows, then [`ChainStore::synced`].
    pub fn write_nodes(&mut self) -> Result<(), Error> {
        for (path, f) in self.files() {
            f.write().map_err(|e| Error::io("writing", path, e))?;
        }
        Ok(())
    }

    /// Records that a `syncfs` made every written node durable.
    pub fn synced(&mut self) {
        for (_, f) in self.files() {
            f.unsynced = false;
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Makes appended nodes durable and replaces state.json (call before moving the head ref).
    pub fn save(&mut self) -> Result<(), Error> {
        for (path, f) in self.files() {
            f.sync().map_err(|e| Error::io("writing", path, e))?;
        }
        let mut text = serde_json::to_vec_pretty(&self.state).expect("chain state serializes");
        text.push(b'\n');
        super::module::write_file(&self.dir.join("state.json"), &text)
    }

    /// The next_root of the receipt at `sequence` (one 32-byte read).
    pub fn next_root_at(&self, sequence: u64) -> Result<Digest, Error> {
        if sequence >= self.state.size {
            return Err(Error::NoSuchSequence {
                sequence,
                size: self.state.size,
            });
        }
        let mut buf = [0u8; 32];
        let f = self.roots.as_ref().ok_or_else(|| {
            Error::io(
                "reading",
                self.dir.join(ROOTS),
                std::io::ErrorKind::NotFound.into(),
            )
        })?;
        f.read_exact_at(&mut buf, sequence * 32)
            .map_err(|e| Error::io("reading", self.dir.join(ROOTS), e))?;
        Ok(Digest(buf))
    }

    /// The MMR root and peaks of the whole chain.
    pub fn root(&self) -> Result<mmr::MmrRoot, Error> {
        Ok(mmr::MmrRoot::read(self, self.state.size)?)
    }

    /// The inclusion proof of `next_root` at `leaf_index`; fails if that leaf is another receipt.
    pub fn prove(&self, leaf_index: u64, next_root: &Digest) -> Result<mmr::InclusionProof, Error> {
        if leaf_index >= self.state.size {
            return Err(Error::NoSuchSequence {
                sequence: leaf_index,
                size: self.state.size,
            });
        }
        let proof = mmr::prove(self, self.state.size, leaf_index, next_root)?;
        // A proof that does not verify means a damaged node file: refuse to hand it out.
        proof.verify()?;
        Ok(proof)
    }
}

impl NodeReader for ChainStore {
    fn node(&self, id: NodeId) -> Result<Hash, mmr::Error> {
        let mut buf = [0u8; 32];
        let f = self
            .levels
            .get(id.level as usize)
            .ok_or(mmr::Error::MissingNode { node: id })?;
        f.read_exact_at(&mut buf, id.index * 32)
            .map_err(|_| mmr::Error::MissingNode { node: id })?;
        Ok(Digest(buf))
    }
}

fn open_append(path: &std::path::Path) -> Result<NodeFile, Error> {
    OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .and_then(NodeFile::new)
        .map_err(|e| Error::io("opening", path, e))
}

fn union_into(set: &mut Vec<Digest>, more: Vec<Digest>) {
    if more.is_empty() {
        return;
    }
    set.extend(more);
    set.sort();
    set.dedup();
}

fn read_state(dir: &std::path::Path) -> Result<Option<ChainState>, Error> {
    let path = dir.join("state.json");
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", &path, e)),
    }
}

/// The genesis root of the chain in `.msez` (the prev_root of its receipt 0), walking back from
/// its head: O(n), for recovery of a chain known only by its ref. None without a head.
pub fn genesis_root_of(repo: &Repo, key: &ChainKey) -> Result<Option<Digest>, Error> {
    let head = repo.read_ref(&key.head_ref()?)?;
    let mut first = None;
    for v in History::new(repo, key.kind, head) {
        first = Some(v?);
    }
    first
        .map(|v| {
            Digest::parse_loose(
                v.get("prev_root")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )
            .map_err(Error::from)
        })
        .transpose()
}

/// Walks a chain newest-first from `head` through the receipts stored in `.msez`.
pub struct History<'r> {
    repo: &'r Repo,
    rtype: ArtifactType,
    cursor: Option<Digest>,
}

impl<'r> History<'r> {
    /// Starts at `head` (a receipt next_root of `kind`).
    pub fn new(repo: &'r Repo, kind: Kind, head: Option<Digest>) -> History<'r> {
        History {
            repo,
            rtype: ArtifactType::new(kind.receipt_artifact()).expect("receipt types are valid"),
            cursor: head,
        }
    }
}

impl Iterator for History<'_> {
    type Item = Result<Value, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let next_root = self.cursor.take()?;
        let step = (|| {
            let value = self
                .repo
                .read_json(&ObjectId::new(self.rtype.clone(), next_root))?;
            let seq = value.get("sequence").and_then(Value::as_u64).unwrap_or(0);
            if seq > 0 {
                let prev = value
                    .get("prev_root")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.cursor = Some(Digest::parse_loose(prev)?);
            }
            Ok(value)
        })();
        Some(step)
    }
}
