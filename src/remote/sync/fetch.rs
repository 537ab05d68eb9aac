//! fetch: what the remote's refs reach, verified before anything is stored; tracking refs
//! move only along verified history (a rollback or a fork is refused and reported).

use super::*;

/// A verified download waiting to enter the repository.
enum Staged {
    /// An object file in the staging directory; raw types carry the checksum of its bytes.
    Object(ObjectId, PathBuf, Option<odb::Checksum>),
    /// A proof file whose name is its digest (its signature is checked before it is kept).
    Proof(ObjectId, Value, String),
    /// A proof file that is not kept, and why.
    Rejected(RejectedProof),
}

/// Keeps the fetched proof files that sign their object, stored here or staged by this fetch;
/// the others become [`Staged::Rejected`] entries in `rejected`.
fn check_fetched_proofs(
    repo: &Repo,
    staged: Vec<Staged>,
    rejected: &mut Vec<RejectedProof>,
) -> Result<Vec<Staged>, Error> {
    let files: HashMap<ObjectId, PathBuf> = staged
        .iter()
        .filter_map(|s| match s {
            Staged::Object(id, p, _) => Some((id.clone(), p.clone())),
            _ => None,
        })
        .collect();
    // One read per object however many proofs it has.
    let mut objects: HashMap<ObjectId, Option<Value>> = HashMap::new();
    let mut out = Vec::with_capacity(staged.len());
    for s in staged {
        let (id, value, key) = match s {
            Staged::Proof(id, value, key) => (id, value, key),
            Staged::Rejected(r) => {
                rejected.push(r);
                continue;
            }
            other => {
                out.push(other);
                continue;
            }
        };
        let object = match objects.get(&id) {
            Some(v) => v.clone(),
            None => {
                let v = if id.artifact_type.rule().encoding() != Encoding::Json {
                    None
                } else if let Some(path) = files.get(&id) {
                    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
                    canon::parse(&bytes).ok()
                } else if repo.has(&id) {
                    Some(repo.read_json(&id)?)
                } else {
                    None
                };
                objects.insert(id.clone(), v.clone());
                v
            }
        };
        let verdict = match &object {
            None => Err((
                "missing.proof_object",
                format!(
                    "proof file {key} signs {id}, which is no JSON object here or on the remote"
                ),
            )),
            Some(o) => crate::fsck::proof_signs(o, &value).map_err(|e| {
                (
                    crate::taxonomy::Classify::code(&e),
                    format!("proof file {key} does not sign {id}: {e}"),
                )
            }),
        };
        match verdict {
            Ok(()) => out.push(Staged::Proof(id, value, key)),
            Err((code, message)) => rejected.push(RejectedProof {
                object: id.to_string(),
                key,
                code,
                message,
            }),
        }
    }
    Ok(out)
}

/// Downloads what the remote has and we lack, verifies all of it, then stores it and moves
/// the remote-tracking refs. A tampered object fails the fetch before anything is stored.
pub fn fetch(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<FetchReport, Error> {
    let mut report = FetchReport {
        url: backend.url(),
        ..FetchReport::default()
    };
    if !layout::check_format(backend)? {
        return Err(Error::Missing {
            what: "the format file (not an msez remote?)",
            key: format!("{}/{FORMAT_KEY}", backend.url()),
        });
    }
    // Refs first: whatever they name was on the remote before they were written.
    let remote_refs = list_refs(backend, &mut report)?;
    let known = Known::load(repo, remote)?;
    let mut remote_objects = HashSet::new();
    let mut listed_objects = Vec::new();
    let mut listed_proofs = Vec::new();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let mut seen = Vec::new();
    for prefix in ["objects/", "proofs/"] {
        for m in backend.list(prefix)? {
            if let Some(id) = layout::parse_object_key(&m.key) {
                listed_objects.push(id.clone());
                remote_objects.insert(id);
            } else if let Some((id, h)) = layout::parse_proof_key(&m.key) {
                listed_proofs.push((id, h));
            } else {
                report.ignored.push(m.key.clone());
                continue;
            }
            sizes.insert(m.key.clone(), m.size);
            seen.push(m.key);
        }
    }
    // Only the bytes the remote refs reach, as push sends only what the pushed refs reach: a
    // raw object (a blob, the bulk of a store) no ref reaches is not downloaded. JSON objects
    // and proof files are all taken, and all verified: a fork resolution travels beside the
    // chain head it lets across (no ref links it), and a forged receipt or proof planted on a
    // remote must be reported, not silently left. The JSON objects on the closure are read
    // once, by the walk, and kept for the staging below.
    let (wanted, prefetched) = if opts.all_objects {
        (None, HashMap::new())
    } else {
        let (closure, cache) =
            remote_closure(repo, backend, opts, &remote_refs, &remote_objects, stop)?;
        (Some(closure), cache)
    };
    let mut todo = Vec::new();
    for id in listed_objects {
        let raw = id.artifact_type.rule().encoding() != Encoding::Json;
        if raw && wanted.as_ref().is_some_and(|w| !w.contains(&id)) {
            report.unreferenced_objects += 1;
            report.unreferenced_bytes += sizes.get(&layout::object_key(&id)).copied().unwrap_or(0);
            continue;
        }
        // Also fetch an object we have but never saw there: its inline proofs may be ones we
        // lack (put merges them as proof files).
        let have = repo.has(&id);
        if !have
            || (!known.contains(&layout::object_key(&id))
                && id.artifact_type.rule().proofs_outside_digest())
        {
            todo.push(Item::Object(id));
        }
    }
    for (id, h) in listed_proofs {
        if !repo.proofs_dir(&id).join(format!("{h}.json")).is_file() {
            todo.push(Item::Proof(id, h));
        }
    }
    if opts.dry_run {
        let mut plan = Plan::default();
        for item in &todo {
            match item {
                Item::Object(_) => plan.objects += 1,
                Item::Proof(..) => plan.proofs += 1,
            }
            plan.bytes += sizes.get(&item.key()).copied().unwrap_or(0);
            // What the closure walk already read is not read again.
            if !matches!(item, Item::Object(id) if prefetched.contains_key(id)) {
                plan.requests += 1;
            }
        }
        report.would_receive = Some(plan);
        report.remote_refs = remote_refs;
        return Ok(report);
    }
    let staging = tempfile::Builder::new()
        .prefix("fetch-")
        .tempdir_in(repo.dir().join("tmp"))
        .map_err(|e| Error::io("creating a staging directory in", repo.dir().join("tmp"), e))?;
    progress.set_bytes_total(todo.iter().filter_map(|i| sizes.get(&i.key())).sum());
    let (staged, received) = download(
        backend,
        opts,
        &todo,
        &prefetched,
        staging.path(),
        progress,
        stop,
    )?;
    report.bytes_received = received;

    // Receipts must also be chain links with a valid proof; one that is not stops the fetch.
    let receipts: Vec<(ObjectId, PathBuf)> = staged
        .iter()
        .filter_map(|s| match s {
            Staged::Object(id, p, _) if incoming::receipt_kind(&id.artifact_type).is_some() => {
                Some((id.clone(), p.clone()))
            }
            _ => None,
        })
        .collect();
    // A proof file is kept only if it signs its object (here, or fetched with it): a forged
    // signature, a bare value or a proof of nothing is reported and dropped.
    let staged = check_fetched_proofs(repo, staged, &mut report.proofs_rejected)?;
    let fetched_proofs: Vec<(ObjectId, Value)> = staged
        .iter()
        .filter_map(|s| match s {
            Staged::Proof(id, v, _) => Some((id.clone(), v.clone())),
            _ => None,
        })
        .collect();
    incoming::check(repo, &receipts, &fetched_proofs).map_err(|e| Error::Receipt(Box::new(e)))?;
    check_corridor_modules(repo, remote, &remote_refs, &staged)?;

    store_verified(repo, staged, &mut report)?;
    known.record(&seen)?;
    drop(staging);

    move_tracking(
        repo,
        remote,
        opts,
        &remote_refs,
        &remote_objects,
        &mut report,
    )?;
    // Our chain heads against theirs: a fork is reported and their branch kept.
    let tracked: Vec<(RefName, Digest)> = remote_refs
        .iter()
        .filter(|(n, _)| !report.dangling.contains(&n.to_string()))
        .filter(|(n, _)| !report.refused.iter().any(|r| r.name == n.as_str()))
        .map(|(n, d)| (n.clone(), *d))
        .collect();
    report.forks =
        incoming::forks_with(repo, remote, &tracked).map_err(|e| Error::Receipt(Box::new(e)))?;
    report.remote_refs = remote_refs;
    Ok(report)
}

/// The remote's refs and their values; a key that is no ref name or holds no digest is
/// reported as ignored.
fn list_refs(
    backend: &dyn Backend,
    report: &mut FetchReport,
) -> Result<BTreeMap<RefName, Digest>, Error> {
    let mut remote_refs = BTreeMap::new();
    for m in backend.list("refs/")? {
        let Ok(name) = RefName::new(&m.key) else {
            report.ignored.push(m.key);
            continue;
        };
        let Some(blob) = backend.get(&m.key, None)? else {
            continue;
        };
        match layout::parse_ref_value(&blob.bytes) {
            Some(d) => {
                remote_refs.insert(name, d);
            }
            None => report.ignored.push(m.key),
        }
    }
    Ok(remote_refs)
}

/// Downloads `todo` into `staging` (`jobs` at a time), each object checked against its name
/// and each proof file against its object's name as it arrives; returns what was staged and
/// the bytes received.
fn download(
    backend: &dyn Backend,
    opts: &Options,
    todo: &[Item],
    prefetched: &Prefetched,
    staging: &Path,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<(Vec<Staged>, u64), Error> {
    progress.set_total(todo.len() as u64);
    let counter = AtomicUsize::new(0);
    let bytes_received = AtomicUsize::new(0);
    let staged = parallel(todo, opts.jobs, stop, |item| {
        let key = item.key();
        let missing = || Error::Missing {
            what: "listed key",
            key: key.clone(),
        };
        if let (true, Item::Object(id)) = (is_streamed(item), item) {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let path = staging.join(n.to_string());
            let sum = download_raw(backend, id, &key, || {
                let f = crate::fs::create_in_place(&path).map_err(|e| e.lift(Error::io))?;
                Ok(Box::new(Counted {
                    out: std::io::BufWriter::new(f),
                    progress,
                }))
            })?
            .ok_or_else(missing)?;
            bytes_received.fetch_add(sum.size as usize, Ordering::Relaxed);
            progress.inc(1);
            return Ok(Staged::Object(id.clone(), path, Some(sum)));
        }
        let blob = match item {
            Item::Object(id) if prefetched.contains_key(id) => crate::remote::Blob {
                bytes: prefetched.get(id).cloned().unwrap_or_default(),
                version: crate::remote::Version(String::new()),
            },
            _ => backend.get(&key, None)?.ok_or_else(missing)?,
        };
        bytes_received.fetch_add(blob.bytes.len(), Ordering::Relaxed);
        progress.inc_bytes(blob.bytes.len() as u64);
        let out = match item {
            Item::Object(id) => {
                verify_object(id, &key, &blob.bytes)?;
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let path = staging.join(n.to_string());
                crate::fs::write_in_place(&path, &blob.bytes).map_err(|e| e.lift(Error::io))?;
                let sum =
                    (id.artifact_type.rule().encoding() == Encoding::Raw).then(|| odb::Checksum {
                        blake3: *blake3::hash(&blob.bytes).as_bytes(),
                        size: blob.bytes.len() as u64,
                    });
                Staged::Object(id.clone(), path, sum)
            }
            Item::Proof(id, h) => match verify_proof(id, h, &key, &blob.bytes) {
                Ok(v) => Staged::Proof(id.clone(), v, key.clone()),
                Err(e) => Staged::Rejected(RejectedProof {
                    object: id.to_string(),
                    key: key.clone(),
                    code: crate::taxonomy::Classify::code(&e),
                    message: e.to_string(),
                }),
            },
        };
        progress.inc(1);
        Ok(out)
    })?;
    Ok((staged, bytes_received.load(Ordering::Relaxed) as u64))
}

/// A download's writer that tells the progress of each chunk as it arrives (a large object
/// moves the bar while it comes down, not only when it ends).
struct Counted<'a, W> {
    out: W,
    progress: &'a dyn Progress,
}

impl<W: std::io::Write> std::io::Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.progress.inc_bytes(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Stores what was downloaded and verified: objects first (one transaction), then the proofs
/// that sign them.
fn store_verified(repo: &Repo, staged: Vec<Staged>, report: &mut FetchReport) -> Result<(), Error> {
    // Everything verified: now it may enter the repository, objects before proofs and refs.
    // One transaction: every object is made durable by one syncfs, not an fsync each, and
    // published by rename only after it; the refs below move only after that.
    let (objects, proofs): (Vec<_>, Vec<_>) = staged
        .into_iter()
        .partition(|s| matches!(s, Staged::Object(..)));
    let mut batch = odb::Batch::new(repo);
    // The remote's copy of an object we already have can only add proofs: each is checked
    // like a proof file, and only the ones that sign the object are kept.
    let mut merged: Vec<(ObjectId, Value)> = Vec::new();
    for s in objects {
        let Staged::Object(id, path, sum) = s else {
            continue;
        };
        match sum {
            Some(sum) => batch.put_file(id, path, sum)?,
            None => {
                let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
                let value = canon::parse(&bytes).map_err(|e| Error::Tampered {
                    object: id.to_string(),
                    key: layout::object_key(&id),
                    expected: id.digest.to_hex(),
                    found: format!("unparsable JSON ({e})"),
                })?;
                if id.artifact_type.rule().proofs_outside_digest() && repo.has(&id) {
                    for proof in odb::proof_list(&value) {
                        match crate::fsck::proof_signs(&value, &proof) {
                            Ok(()) => merged.push((id.clone(), proof)),
                            Err(e) => report.proofs_rejected.push(RejectedProof {
                                object: id.to_string(),
                                key: layout::object_key(&id),
                                code: crate::taxonomy::Classify::code(&e),
                                message: format!(
                                    "an inline proof of the remote's copy of {id} does not \
                                     sign it: {e}"
                                ),
                            }),
                        }
                    }
                    continue;
                }
                let stored = batch.put_json(&id.artifact_type, &value)?;
                if stored != id {
                    return Err(Error::Tampered {
                        object: id.to_string(),
                        key: layout::object_key(&id),
                        expected: id.digest.to_hex(),
                        found: stored.digest.to_hex(),
                    });
                }
            }
        }
    }
    let committed = batch.commit()?;
    report.objects_received += committed.created;
    report.proofs_added += committed.proofs_added;
    // A proof file the object already carries inline (a pusher re-sends its inline proofs as
    // files when the remote had the object) adds nothing: storing it would only make this
    // repository's files differ from the pusher's.
    let mut inline: HashMap<ObjectId, HashSet<(String, String)>> = HashMap::new();
    let merged =
        merged
            .into_iter()
            .map(|(id, p)| (id, p, false))
            .chain(proofs.into_iter().filter_map(|s| match s {
                Staged::Proof(id, value, _) => Some((id, value, true)),
                _ => None,
            }));
    for (id, value, file) in merged {
        {
            report.proofs_received += u64::from(file);
            let carried = inline.entry(id.clone()).or_insert_with(|| {
                repo.read_json(&id)
                    .map(|v| {
                        crate::odb::proof_list(&v)
                            .iter()
                            .map(crate::odb::proof_key)
                            .collect()
                    })
                    .unwrap_or_default()
            });
            if !carried.contains(&crate::odb::proof_key(&value))
                && repo.add_proof_file(&id, &value)?
            {
                report.proofs_added += 1;
            }
        }
    }
    Ok(())
}

/// A corridor module ref is taken only with a module object whose inputs match their digests
/// and give the genesis root receipt 0 of that corridor's chain extends (the remote's head,
/// through what this fetch staged and what we hold); else the fetch stops, nothing stored.
fn check_corridor_modules(
    repo: &Repo,
    remote: &str,
    refs: &BTreeMap<RefName, Digest>,
    staged: &[Staged],
) -> Result<(), Error> {
    use crate::chain::corridor_object as module;
    let paths: HashMap<&ObjectId, &PathBuf> = staged
        .iter()
        .filter_map(|s| match s {
            Staged::Object(id, p, _) => Some((id, p)),
            _ => None,
        })
        .collect();
    let bytes_of = |id: &ObjectId| -> Result<Option<Vec<u8>>, crate::chain::Error> {
        match paths.get(id) {
            Some(p) => std::fs::read(p)
                .map(Some)
                .map_err(|e| crate::chain::Error::io("reading", *p, e)),
            None => module::stored_bytes(repo, id),
        }
    };
    for (name, value) in refs {
        let Some(id) = module::module_ref_corridor(name) else {
            continue;
        };
        let have = ObjectId::new(module::module_type(), *value);
        if repo.read_ref(&tracking_ref(remote, name)?)? == Some(*value) && repo.has(&have) {
            continue;
        }
        let head_ref = crate::chain::store::ChainKey::corridor(id)
            .head_ref()
            .map_err(chain_err)?;
        // Their chain, or ours when they sent only the module ref.
        let head = match refs.get(&head_ref) {
            Some(h) => Some(*h),
            None => repo.read_ref(&head_ref)?,
        };
        module::verify(id, *value, head, &bytes_of).map_err(|e| Error::Receipt(Box::new(e)))?;
    }
    Ok(())
}

/// Moves each remote-tracking ref whose remote value extends what we tracked (heads first);
/// a dangling, rolled-back or forked one is reported and stays.
fn move_tracking(
    repo: &Repo,
    remote: &str,
    opts: &Options,
    remote_refs: &BTreeMap<RefName, Digest>,
    remote_objects: &HashSet<ObjectId>,
    report: &mut FetchReport,
) -> Result<(), Error> {
    // Heads first: a checkpoint may follow its head across a counted fork resolution.
    let mut order: Vec<(&RefName, &Digest)> = remote_refs.iter().collect();
    order.sort_by_key(|(n, _)| incoming::checkpoint_kind(n).is_some());
    for (name, value) in order {
        if !remote_has_target(remote_objects, name, *value) {
            report.dangling.push(name.to_string());
            continue;
        }
        let tracking = tracking_ref(remote, name)?;
        let old = repo.read_ref(&tracking)?;
        let follows = crate::remote::checkpoint::follows_resolved_head(
            repo,
            name,
            *value,
            remote_refs,
            &report.resolved,
        );
        if !follows {
            if let Some(refusal) =
                check_history(repo, remote, name, old, *value, opts, &mut report.resolved)?
            {
                report.refused.push(refusal);
                continue;
            }
        }
        if old != Some(*value) {
            repo.update_ref(&tracking, *value, Expect::Any, &format!("fetch {remote}"))?;
            report.tracking_moved.push(RefMove {
                name: tracking.to_string(),
                old: old.map(|d| d.to_hex()),
                new: value.to_hex(),
                forced: false,
                resolution: None,
            });
        }
    }
    Ok(())
}

/// Remote JSON objects read (and checked) by the closure walk, by id.
type Prefetched = HashMap<ObjectId, Vec<u8>>;

/// The objects the remote refs reach, walked by [`crate::reach::levels`] through local copies
/// where we have them and through the remote's JSON objects otherwise (read a level at a time,
/// `jobs` at once, each checked against its name before its links are followed); returns the
/// closure and the bytes read on the way.
pub(crate) fn remote_closure(
    repo: &Repo,
    backend: &dyn Backend,
    opts: &Options,
    refs: &BTreeMap<RefName, Digest>,
    listed: &HashSet<ObjectId>,
    stop: &AtomicBool,
) -> Result<(HashSet<ObjectId>, Prefetched), Error> {
    let mut roots = Vec::new();
    for (name, value) in refs {
        crate::reach::ref_roots(name, *value, &mut roots);
    }
    let mut start: Vec<(ObjectId, bool)> = Vec::new();
    let local_types = repo.object_types()?;
    for r in roots {
        match r {
            crate::reach::Root::Id(id) => start.push((id, false)),
            // An untyped ref names a digest: every object with it, there or here.
            crate::reach::Root::Digest(d) => {
                start.extend(
                    listed
                        .iter()
                        .filter(|o| o.digest == d)
                        .map(|o| (o.clone(), false)),
                );
                start.extend(
                    local_types
                        .iter()
                        .map(|t| (ObjectId::new(t.clone(), d), false)),
                );
            }
        }
    }
    let view = RemoteView {
        repo,
        backend,
        opts,
        listed,
        stop,
        read: std::cell::RefCell::new(HashMap::new()),
    };
    let mut closure = HashSet::new();
    crate::reach::levels(
        &view,
        start,
        crate::reach::Require::Nothing,
        &mut closure,
        &|_| false,
    )?;
    Ok((closure, view.read.into_inner()))
}

/// The remote as the closure walk sees it: our copy of an object where we have one, else the
/// remote's (listed) one.
struct RemoteView<'a> {
    repo: &'a Repo,
    backend: &'a dyn Backend,
    opts: &'a Options,
    listed: &'a HashSet<ObjectId>,
    stop: &'a AtomicBool,
    /// The remote JSON objects read so far, kept for the download.
    read: std::cell::RefCell<Prefetched>,
}

impl RemoteView<'_> {
    /// Reads `ids` from the remote, `jobs` at a time, each checked against its name; an object
    /// gone since the listing is left out.
    fn get_all(&self, ids: Vec<Item>) -> Result<HashMap<ObjectId, Value>, Error> {
        let read = parallel(&ids, self.opts.jobs, self.stop, |item| {
            let key = item.key();
            let Item::Object(id) = item else {
                return Ok(None);
            };
            let Some(blob) = self.backend.get(&key, None)? else {
                return Ok(None);
            };
            verify_object(id, &key, &blob.bytes)?;
            Ok(Some((id.clone(), blob.bytes)))
        })?;
        let mut out = HashMap::new();
        for (id, bytes) in read.into_iter().flatten() {
            let value = canon::parse(&bytes).map_err(|e| Error::Tampered {
                object: id.to_string(),
                key: layout::object_key(&id),
                expected: id.digest.to_hex(),
                found: format!("unparsable JSON ({e})"),
            })?;
            out.insert(id.clone(), value);
            self.read.borrow_mut().insert(id, bytes);
        }
        Ok(out)
    }
}

impl crate::reach::Source for RemoteView<'_> {
    type Error = Error;

    fn has(&self, id: &ObjectId) -> Result<bool, Error> {
        Ok(self.repo.has(id) || self.listed.contains(id))
    }

    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, Error> {
        if self.repo.has(id) {
            return stored_json(self.repo, id).map(Some);
        }
        Ok(self.get_all(vec![Item::Object(id.clone())])?.remove(id))
    }

    fn missing(&self, id: &ObjectId) -> Error {
        Error::Missing {
            what: "object",
            key: layout::object_key(id),
        }
    }

    /// The level's remote-only JSON objects in one parallel read, the others from here.
    fn find_level(&self, ids: &[ObjectId]) -> Result<Vec<crate::reach::Found>, Error> {
        use crate::reach::Found;
        let is_json = |id: &ObjectId| id.artifact_type.rule().encoding() == Encoding::Json;
        let local: Vec<bool> = ids.iter().map(|id| self.repo.has(id)).collect();
        let remote_only: Vec<Item> = ids
            .iter()
            .zip(&local)
            .filter(|(id, here)| is_json(id) && !**here && self.listed.contains(*id))
            .map(|(id, _)| Item::Object(id.clone()))
            .collect();
        let mut fetched = self.get_all(remote_only)?;
        ids.iter()
            .zip(local)
            .map(|(id, here)| {
                Ok(if let Some(v) = fetched.remove(id) {
                    Found::Json(v)
                } else if here && is_json(id) {
                    Found::Json(stored_json(self.repo, id)?)
                } else if here || self.listed.contains(id) {
                    Found::Leaf
                } else {
                    Found::Absent
                })
            })
            .collect()
    }
}

/// Whether a remote chain ref's value `value` extends `tracking`, our remote-tracking value:
/// None when it does (or nothing was tracked, or `name` is not a chain ref), else why the
/// tracking ref must stay. A remote branch off our history is kept under the chain's fork ref.
fn check_history(
    repo: &Repo,
    remote: &str,
    name: &RefName,
    tracking: Option<Digest>,
    value: Digest,
    opts: &Options,
    resolved: &mut Vec<incoming::Resolved>,
) -> Result<Option<Refusal>, Error> {
    // A checkpoint nobody signed (or whose proof does not verify) is never adopted, whatever
    // it extends: a remote can write one for any size.
    if !incoming::checkpoint_signed(repo, name, value).map_err(chain_err)? {
        return Ok(Some(Refusal {
            name: name.to_string(),
            kind: "unsigned",
            tracking: tracking.map(|t| t.to_hex()).unwrap_or_default(),
            remote: value.to_hex(),
            sequence: None,
            kept: None,
        }));
    }
    let Some(old) = tracking.filter(|_| incoming::is_chain_ref(name)) else {
        return Ok(None);
    };
    let rel = incoming::relate_ref(repo, name, old, value).map_err(chain_err)?;
    let refusal = |kind, sequence, kept| Refusal {
        name: name.to_string(),
        kind,
        tracking: old.to_hex(),
        remote: value.to_hex(),
        sequence,
        kept,
    };
    Ok(match rel {
        incoming::Relation::Same | incoming::Relation::Extends => None,
        incoming::Relation::Behind => Some(refusal("rollback", None, None)),
        incoming::Relation::Unknown => Some(refusal("unverifiable", None, None)),
        incoming::Relation::Fork {
            sequence,
            prev_root,
        } => {
            // A resolution that travelled with the head, counted by our own anchors.
            if let Some(r) = incoming::resolution_for(
                repo,
                name,
                value,
                sequence,
                prev_root,
                opts.trust_anchors.as_deref(),
                opts.lifecycle.as_deref(),
            )
            .map_err(chain_err)?
            {
                resolved.push(r);
                return Ok(None);
            }
            // Their branch stays reachable (and gc-safe) beside ours.
            let kept = match crate::chain::store::ChainKey::from_head_ref(name) {
                Some(key) => {
                    let kept = key.fork_ref(&value).map_err(chain_err)?;
                    repo.update_ref(
                        &kept,
                        value,
                        Expect::Any,
                        &format!("fetch {remote}: the remote forked at sequence {sequence}"),
                    )?;
                    Some(kept.to_string())
                }
                None => None,
            };
            Some(refusal("fork", Some(sequence), kept))
        }
    })
}
