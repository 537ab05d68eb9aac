//! The chains of any mounted source, shown the same way: `assets/<asset_id>/<purpose>/` and
//! `corridors/<corridor_id>/`, each with `head.json` (a small summary msez builds),
//! `receipts/<seq>.json`, `checkpoints/<N>.json` (`<N>.note` beside it where a checkpoint note
//! exists, `latest.json`) and, where the source keeps them, `forks/<next_root>.json`.
//!
//! A source answers through [`ChainSource`]; this module owns the paths, the summaries, the
//! file times and `head.json`. File times come from the documents (docs/mount.md "File times").

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use crate::canon::{self, Digest, Value};
use crate::chain::Kind;
use crate::chain::store::ChainKey;

use super::Error;
use super::readme::{self, Mounted};
use super::tree::{self, Entries, Entry, Node};

/// Shared bytes of one shown file.
pub type Bytes = Arc<Vec<u8>>;

/// What a source must answer about its chains. Bytes are what the mount shows for the file.
pub trait ChainSource: Send + Sync + 'static {
    /// Every chain the source holds a head for.
    fn chain_keys(&self) -> Result<Vec<ChainKey>, Error>;
    /// The head receipt of a chain.
    fn head(&self, key: &ChainKey) -> Result<Option<Bytes>, Error>;
    /// The receipt at `seq` of the chain the head names (`size` receipts).
    fn receipt_at(&self, key: &ChainKey, seq: u64, size: u64) -> Result<Option<Bytes>, Error>;
    /// The checkpoints the source keeps for a chain (any order; few).
    fn checkpoints(&self, key: &ChainKey) -> Result<Vec<Bytes>, Error>;
    /// The checkpoint note of size `n`, where one exists.
    fn note(&self, _key: &ChainKey, _n: u64) -> Result<Option<Bytes>, Error> {
        Ok(None)
    }
    /// The heads of kept losing fork branches, by next_root.
    fn forks(&self, _key: &ChainKey) -> Result<Vec<(String, Bytes)>, Error> {
        Ok(Vec::new())
    }
    /// The genesis `asset_name` of an asset.
    fn asset_name(&self, key: &ChainKey) -> Result<Option<String>, Error>;
    /// What is mounted, for README.txt.
    fn mounted(&self) -> Mounted;
    /// The source's own time, for a mount with no chain to date it by.
    fn source_time(&self) -> Option<SystemTime> {
        None
    }
}

/// One chain as the mount summarizes it.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Which chain.
    pub key: ChainKey,
    /// The genesis asset_name (assets), when known.
    pub asset_name: Option<String>,
    /// The head receipt, parsed.
    pub head: Value,
    /// Checkpoints by receipt count: (digest, timestamp).
    pub checkpoints: BTreeMap<u64, (Digest, Option<SystemTime>)>,
    /// Receipt counts that have a note.
    pub notes: Vec<u64>,
}

impl Summary {
    /// Receipts on the chain (head sequence + 1).
    pub fn size(&self) -> u64 {
        self.head
            .get("sequence")
            .and_then(Value::as_u64)
            .map_or(0, |s| s + 1)
    }

    /// The head's next_root.
    pub fn next_root(&self) -> &str {
        self.head
            .get("next_root")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The newest time the chain shows (head receipt, checkpoints).
    pub fn newest(&self) -> Option<SystemTime> {
        let head = time_of(&self.head);
        self.checkpoints
            .values()
            .filter_map(|c| c.1)
            .chain(head)
            .max()
    }
}

/// The time a receipt or checkpoint states: its `timestamp` (RFC 3339).
pub fn time_of(value: &Value) -> Option<SystemTime> {
    let ts = value.get("timestamp")?.as_str()?;
    humantime::parse_rfc3339(ts)
        .ok()
        .filter(|t| *t > SystemTime::UNIX_EPOCH)
}

/// The time stated by a JSON file's bytes.
pub fn time_of_bytes(bytes: &[u8]) -> Option<SystemTime> {
    time_of(&canon::parse(bytes).ok()?)
}

/// `head.json`: what a chain's head is, as pretty JSON + LF (keys sorted).
pub fn head_json(s: &Summary) -> Vec<u8> {
    let size = s.size();
    let kind = s.key.kind;
    let mut doc = serde_json::json!({
        "chain": s.key.path(),
        "sequence": size.saturating_sub(1),
        "receipt_count": size,
        "next_root": s.next_root(),
        "receipt": {
            "file": format!("receipts/{}.json", size.saturating_sub(1)),
            "object": format!("{}:{}", kind.receipt_artifact(), s.next_root()),
            "timestamp": s.head.get("timestamp").cloned().unwrap_or(Value::Null),
        },
        "checkpoint": Value::Null,
    });
    doc[kind.owner_field()] = Value::String(s.key.owner.clone());
    if let Some(p) = &s.key.purpose {
        doc["purpose"] = Value::String(p.clone());
    }
    if kind == Kind::Asset {
        doc["asset_name"] = s.asset_name.clone().map_or(Value::Null, Value::String);
    }
    if let Some((n, (d, t))) = s.checkpoints.last_key_value() {
        doc["checkpoint"] = serde_json::json!({
            "file": format!("checkpoints/{n}.json"),
            "object": format!("{}:{d}", kind.checkpoint_artifact()),
            "receipt_count": n,
            "covers_head": *n == size,
            "timestamp": t.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        });
        if s.notes.contains(n) {
            doc["checkpoint"]["note"] = Value::String(format!("checkpoints/{n}.note"));
        }
    }
    let mut out = serde_json::to_vec_pretty(&sorted(doc)).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `value` with every object's keys in code point order (serde_json keeps insertion order).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        v => v,
    }
}

/// The chains shown, and those that could not be read (each with why).
type Summarized = (Vec<Summary>, Vec<String>);

/// Files kept in memory at most (they are read again from the source when evicted).
const FILE_CACHE: usize = 256;

/// `assets/` and `corridors/` over a [`ChainSource`].
pub struct Chains<C> {
    /// The source.
    pub source: C,
    summaries: OnceLock<Result<Summarized, String>>,
    files: Mutex<HashMap<String, (Bytes, Option<SystemTime>)>>,
    readme: OnceLock<Vec<u8>>,
    newest: OnceLock<Option<SystemTime>>,
}

impl<C: ChainSource> Chains<C> {
    /// The chain views of `source`.
    pub fn new(source: C) -> Self {
        Chains {
            source,
            summaries: OnceLock::new(),
            files: Mutex::new(HashMap::new()),
            readme: OnceLock::new(),
            newest: OnceLock::new(),
        }
    }

    /// Whether `path` is this part's: `README.txt`, `assets/...`, `corridors/...`.
    pub fn owns(path: &str) -> bool {
        matches!(
            path.split('/').next(),
            Some("README.txt" | "assets" | "corridors")
        )
    }

    /// The root entries this part adds.
    pub fn root_entries(&self) -> Vec<Entry> {
        let mut out = vec![Entry::file("README.txt")];
        for top in ["assets", "corridors"] {
            if self.has(top) {
                out.push(Entry::dir(top));
            }
        }
        out
    }

    /// README.txt, made once; `types` are the object types `objects/` shows.
    pub fn readme(&self, types: &dyn Fn() -> Result<Vec<String>, Error>) -> &[u8] {
        self.readme.get_or_init(|| {
            let chains = self.summaries().unwrap_or_default();
            readme::render(
                &self.source.mounted(),
                chains,
                &self.problems(),
                &types().unwrap_or_default(),
            )
        })
    }

    /// What a path this part [`owns`](Self::owns) is.
    pub fn stat_owned(
        &self,
        path: &str,
        types: &dyn Fn() -> Result<Vec<String>, Error>,
    ) -> Result<Option<Node>, Error> {
        if path == "README.txt" {
            return Ok(Some(Node::File {
                size: self.readme(types).len() as u64,
            }));
        }
        self.stat(path)
    }

    /// Bytes of a path this part owns.
    pub fn read_owned(
        &self,
        path: &str,
        offset: u64,
        size: u32,
        types: &dyn Fn() -> Result<Vec<String>, Error>,
    ) -> Result<Vec<u8>, Error> {
        if path == "README.txt" {
            return Ok(super::repo::slice(self.readme(types), offset, size));
        }
        self.read(path, offset, size)
    }

    /// The time any path of the mount shows: a receipt's or checkpoint's own timestamp (and
    /// head.json the head's), else the newest of all of those, else the source's own time.
    pub fn time_any(&self, path: &str) -> Option<SystemTime> {
        self.time(path)
            .or_else(|| self.newest())
            .or_else(|| self.source.source_time())
    }

    /// Every chain, summarized once per mount (content never changes while mounted).
    pub fn summaries(&self) -> Result<&[Summary], Error> {
        self.summarized().map(|s| s.0.as_slice())
    }

    /// The chains that could not be read, each with why.
    pub fn problems(&self) -> Vec<String> {
        match self.summarized() {
            Ok(s) => s.1.clone(),
            Err(e) => vec![e.to_string()],
        }
    }

    fn summarized(&self) -> Result<&Summarized, Error> {
        let s = self
            .summaries
            .get_or_init(|| self.summarize().map_err(|e| e.to_string()));
        s.as_ref().map_err(|why| {
            Error::io(
                "reading the chains of",
                "mount",
                std::io::Error::other(why.clone()),
            )
        })
    }

    fn summarize(&self) -> Result<Summarized, Error> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for key in self.source.chain_keys()? {
            // One chain that cannot be read (a receipt that does not match its digest) is
            // named in README.txt; the others are still shown.
            match self.summary(key.clone()) {
                Ok(Some(s)) => out.push(s),
                Ok(None) => {}
                Err(e) => problems.push(format!("{}: {e}", key.path())),
            }
        }
        out.sort_by_key(|s| s.key.path());
        Ok((out, problems))
    }

    fn summary(&self, key: ChainKey) -> Result<Option<Summary>, Error> {
        let Some(head) = self.source.head(&key)? else {
            return Ok(None);
        };
        let Ok(head) = canon::parse(&head) else {
            return Ok(None);
        };
        let size = head
            .get("sequence")
            .and_then(Value::as_u64)
            .map_or(0, |s| s + 1);
        let mut checkpoints = BTreeMap::new();
        for bytes in self.source.checkpoints(&key)? {
            let Ok(v) = canon::parse(&bytes) else {
                continue;
            };
            let rule = canon::rule_for(key.kind.checkpoint_artifact());
            if let (Some(n), Ok(d)) = (
                v.get("receipt_count").and_then(Value::as_u64),
                rule.digest_json(&v),
            ) {
                if self.on_chain(&key, &head, size, &v, n)? {
                    checkpoints.insert(n, (d, time_of(&v)));
                }
            }
        }
        let mut notes = Vec::new();
        for n in checkpoints.keys() {
            if self.source.note(&key, *n)?.is_some() {
                notes.push(*n);
            }
        }
        let asset_name = match key.kind {
            Kind::Asset => self.source.asset_name(&key)?,
            Kind::Corridor => None,
        };
        Ok(Some(Summary {
            key,
            asset_name,
            head,
            checkpoints,
            notes,
        }))
    }

    /// Whether checkpoint `v` of `n` receipts is of the chain the head names: its final root
    /// is receipt n-1's next_root (a checkpoint of a branch a fork resolution dropped is not).
    fn on_chain(
        &self,
        key: &ChainKey,
        head: &Value,
        size: u64,
        v: &Value,
        n: u64,
    ) -> Result<bool, Error> {
        let field = crate::chain::checkpoint::final_field(key.kind);
        let Some(root) = v.get(field).and_then(Value::as_str) else {
            return Ok(false);
        };
        if n == 0 || n > size {
            return Ok(false);
        }
        let next_root = |r: &Value| {
            r.get("next_root")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let at = if n == size {
            next_root(head)
        } else {
            self.source
                .receipt_at(key, n - 1, size)?
                .and_then(|b| canon::parse(&b).ok())
                .and_then(|r| next_root(&r))
        };
        Ok(at.as_deref() == Some(root))
    }

    /// The newest time any chain shows: the time of everything without its own.
    pub fn newest(&self) -> Option<SystemTime> {
        // Asked at every lookup: computed once.
        *self.newest.get_or_init(|| {
            self.summaries()
                .ok()?
                .iter()
                .filter_map(Summary::newest)
                .max()
        })
    }

    /// Whether `top` (`assets` or `corridors`) has chains.
    pub fn has(&self, top: &str) -> bool {
        self.summaries().is_ok_and(|s| {
            s.iter()
                .any(|c| c.key.path().starts_with(&format!("{top}/")))
        })
    }

    fn chain(&self, path: &str) -> Result<Option<(&Summary, String)>, Error> {
        for s in self.summaries()? {
            let p = s.key.path();
            if path == p {
                return Ok(Some((s, String::new())));
            }
            if let Some(rest) = path.strip_prefix(&format!("{p}/")) {
                return Ok(Some((s, rest.to_string())));
            }
        }
        Ok(None)
    }

    /// The bytes and time of a file inside a chain directory.
    fn file(&self, s: &Summary, rest: &str) -> Result<Option<(Bytes, Option<SystemTime>)>, Error> {
        let cache_key = format!("{}/{rest}", s.key.path());
        if let Some(f) = self
            .files
            .lock()
            .ok()
            .and_then(|f| f.get(&cache_key).cloned())
        {
            return Ok(Some(f));
        }
        let key = &s.key;
        let found = match rest.split('/').collect::<Vec<_>>().as_slice() {
            ["head.json"] => Some((Arc::new(head_json(s)), time_of(&s.head))),
            ["receipts", name] => match seq_name(name, ".json") {
                Some(seq) if seq < s.size() => self.source.receipt_at(key, seq, s.size())?,
                _ => None,
            }
            .map(|b| (b.clone(), time_of_bytes(&b))),
            ["checkpoints", "latest.json"] => match s.checkpoints.last_key_value() {
                Some((n, _)) => self.checkpoint(key, *n)?,
                None => None,
            },
            ["checkpoints", name] => match seq_name(name, ".json") {
                Some(n) if s.checkpoints.contains_key(&n) => self.checkpoint(key, n)?,
                _ => match seq_name(name, ".note") {
                    Some(n) if s.notes.contains(&n) => self
                        .source
                        .note(key, n)?
                        .map(|b| (b, s.checkpoints.get(&n).and_then(|c| c.1))),
                    _ => None,
                },
            },
            ["forks", name] => self
                .source
                .forks(key)?
                .into_iter()
                .find(|(root, _)| format!("{root}.json") == *name)
                .map(|(_, b)| (b.clone(), time_of_bytes(&b))),
            _ => None,
        };
        if let (Some(f), Ok(mut cache)) = (&found, self.files.lock()) {
            if cache.len() >= FILE_CACHE {
                cache.clear();
            }
            cache.insert(cache_key, f.clone());
        }
        Ok(found)
    }

    fn checkpoint(
        &self,
        key: &ChainKey,
        n: u64,
    ) -> Result<Option<(Bytes, Option<SystemTime>)>, Error> {
        // The last one of a size, as in the summary.
        let mut found = None;
        for b in self.source.checkpoints(key)? {
            let Ok(v) = canon::parse(&b) else { continue };
            if v.get("receipt_count").and_then(Value::as_u64) == Some(n) {
                found = Some((b, time_of(&v)));
            }
        }
        Ok(found)
    }

    /// What `path` (under `assets/` or `corridors/`) is.
    pub fn stat(&self, path: &str) -> Result<Option<Node>, Error> {
        Ok(match self.dir_entries(path)? {
            Some(_) => Some(Node::Dir),
            None => match self.chain(path)? {
                Some((s, rest)) => self.file(s, &rest)?.map(|(b, _)| Node::File {
                    size: b.len() as u64,
                }),
                None => None,
            },
        })
    }

    /// The time a path shows: a document's own, else None (the mount's time).
    pub fn time(&self, path: &str) -> Option<SystemTime> {
        let (s, rest) = self.chain(path).ok()??;
        self.file(s, &rest).ok()??.1
    }

    /// The entries of a directory under `assets/` or `corridors/`.
    pub fn list(&self, path: &str) -> Result<Entries, Error> {
        if let Some((s, rest)) = self.chain(path)? {
            if rest == "receipts" {
                // Names only, produced lazily: a 100k chain is never held in memory.
                let size = s.size();
                return Ok(Box::new(
                    (0..size).map(|seq| Ok(Entry::file(format!("{seq}.json")))),
                ));
            }
        }
        Ok(tree::fixed(self.dir_entries(path)?.unwrap_or_default()))
    }

    /// The entries of a directory that is not `receipts/`; None when `path` is no directory.
    fn dir_entries(&self, path: &str) -> Result<Option<Vec<Entry>>, Error> {
        let mut names: Vec<Entry> = Vec::new();
        let mut found = false;
        for s in self.summaries()? {
            let p = s.key.path();
            if let Some(rest) = p.strip_prefix(path).and_then(|r| r.strip_prefix('/')) {
                found = true;
                let first = rest.split('/').next().unwrap_or_default();
                if names.last().is_none_or(|e| e.name != first) {
                    names.push(Entry::dir(first));
                }
            } else if p == path {
                let mut out = vec![Entry::file("head.json"), Entry::dir("receipts")];
                if !s.checkpoints.is_empty() {
                    out.push(Entry::dir("checkpoints"));
                }
                if !self.source.forks(&s.key)?.is_empty() {
                    out.push(Entry::dir("forks"));
                }
                return Ok(Some(out));
            } else if let Some(rest) = path.strip_prefix(&format!("{p}/")) {
                return Ok(match rest {
                    "receipts" => Some(Vec::new()),
                    "checkpoints" if !s.checkpoints.is_empty() => {
                        let mut out = Vec::new();
                        for n in s.checkpoints.keys() {
                            out.push(Entry::file(format!("{n}.json")));
                            if s.notes.contains(n) {
                                out.push(Entry::file(format!("{n}.note")));
                            }
                        }
                        out.push(Entry::file("latest.json"));
                        Some(out)
                    }
                    "forks" => {
                        let forks = self.source.forks(&s.key)?;
                        (!forks.is_empty()).then(|| {
                            forks
                                .iter()
                                .map(|(r, _)| Entry::file(format!("{r}.json")))
                                .collect()
                        })
                    }
                    _ => None,
                });
            }
        }
        Ok(found.then_some(names))
    }

    /// Bytes of a file under `assets/` or `corridors/`.
    pub fn read(&self, path: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        let Some((s, rest)) = self.chain(path)? else {
            return Ok(Vec::new());
        };
        Ok(self
            .file(s, &rest)?
            .map(|(b, _)| super::repo::slice(&b, offset, size))
            .unwrap_or_default())
    }
}

/// The number in `<n><suffix>`, written without leading zeros.
fn seq_name(name: &str, suffix: &str) -> Option<u64> {
    let n: u64 = name.strip_suffix(suffix)?.parse().ok()?;
    (name == format!("{n}{suffix}")).then_some(n)
}

/// Receipts of a chain found by walking back from its head along `prev_root`, for sources with
/// no sequence index (a remote): the next_roots seen are kept (32 bytes a receipt), so each
/// receipt is read once.
#[derive(Default)]
pub struct Walker {
    /// Chain path -> next_roots from the head down.
    seen: Mutex<HashMap<String, Vec<Digest>>>,
}

impl Walker {
    /// The receipt at `seq` of a chain of `size` whose head is `head`, reading receipts by
    /// next_root with `read`.
    pub fn receipt_at(
        &self,
        key: &ChainKey,
        head: Digest,
        seq: u64,
        size: u64,
        read: impl Fn(&Digest) -> Result<Option<Bytes>, Error>,
    ) -> Result<Option<Bytes>, Error> {
        let Some(back) = size.checked_sub(seq + 1) else {
            return Ok(None);
        };
        let back = back as usize;
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| Error::io("walking", key.path(), std::io::Error::other("poisoned")))?;
        let roots = seen.entry(key.path()).or_insert_with(|| vec![head]);
        while roots.len() <= back {
            let Some(last) = roots.last().copied() else {
                return Ok(None);
            };
            let Some(bytes) = read(&last)? else {
                return Ok(None);
            };
            let prev = canon::parse(&bytes)
                .ok()
                .and_then(|v| v.get("prev_root")?.as_str()?.parse::<Digest>().ok());
            match prev {
                Some(p) => roots.push(p),
                None => return Ok(None),
            }
        }
        let root = roots[back];
        drop(seen);
        read(&root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        let head = serde_json::json!({"sequence": 9, "next_root": "ab", "timestamp": "2026-02-01T10:00:09Z"});
        let mut checkpoints = BTreeMap::new();
        checkpoints.insert(
            10,
            (
                Digest([7; 32]),
                humantime::parse_rfc3339("2026-03-01T00:00:00Z").ok(),
            ),
        );
        Summary {
            key: ChainKey::asset(&Digest([1; 32]), "core"),
            asset_name: Some("Crane 7".into()),
            head,
            checkpoints,
            notes: vec![10],
        }
    }

    #[test]
    fn head_json_names_the_head_the_asset_and_the_checkpoint() {
        let s = summary();
        let v: Value = serde_json::from_slice(&head_json(&s)).unwrap();
        assert_eq!(v["sequence"], 9);
        assert_eq!(v["receipt_count"], 10);
        assert_eq!(v["next_root"], "ab");
        assert_eq!(v["asset_name"], "Crane 7");
        assert_eq!(v["asset_id"], Digest([1; 32]).to_hex());
        assert_eq!(v["receipt"]["file"], "receipts/9.json");
        assert_eq!(v["receipt"]["object"], "smart-asset-receipt:ab");
        assert_eq!(v["checkpoint"]["file"], "checkpoints/10.json");
        assert_eq!(v["checkpoint"]["covers_head"], true);
        assert_eq!(v["checkpoint"]["note"], "checkpoints/10.note");
        assert_eq!(v["checkpoint"]["timestamp"], "2026-03-01T00:00:00Z");
        // Pretty, keys sorted, one trailing LF.
        let text = String::from_utf8(head_json(&s)).unwrap();
        assert!(text.ends_with("}\n") && text.starts_with("{\n  \"asset_id\""));
    }

    #[test]
    fn times_come_from_timestamps_and_never_from_1970() {
        let s = summary();
        let t = |x: &str| humantime::parse_rfc3339(x).unwrap();
        assert_eq!(time_of(&s.head), Some(t("2026-02-01T10:00:09Z")));
        assert_eq!(s.newest(), Some(t("2026-03-01T00:00:00Z")));
        let epoch = serde_json::json!({"timestamp": "1970-01-01T00:00:00Z"});
        assert_eq!(time_of(&epoch), None);
        assert_eq!(time_of(&serde_json::json!({"timestamp": "soon"})), None);
        assert_eq!(
            time_of_bytes(br#"{"timestamp":"2026-01-01T00:00:00Z"}"#),
            Some(t("2026-01-01T00:00:00Z"))
        );
        assert_eq!(seq_name("3.json", ".json"), Some(3));
        assert_eq!(seq_name("03.json", ".json"), None);
    }
}
