//! push: refs and the verified closures they need, sent to a remote; each ref moves by a
//! conditional write only along verified history.

use super::*;

/// Pushes local refs (all but `refs/remotes/`, or `only`) and what they need to a remote.
pub fn push(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    only: &[RefName],
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<PushReport, Error> {
    let lease = if backend.atomic_conditionals() {
        None
    } else {
        Some(Lease::acquire(backend)?)
    };
    let result = push_inner(repo, remote, backend, only, opts, progress, stop);
    if let Some(lease) = lease {
        lease.release(backend)?;
    }
    result
}

fn push_inner(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    only: &[RefName],
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<PushReport, Error> {
    let mut report = PushReport {
        url: backend.url(),
        ..PushReport::default()
    };
    let all_refs = repo.refs()?;
    let refs = selected(repo, &all_refs, only)?;
    // pre-push sees every ref it is about to send and can veto the whole push.
    let mut tracking = Vec::with_capacity(refs.len());
    for (name, value) in &refs {
        let t = repo.read_ref(&tracking_ref(remote, name)?)?;
        let reason = format!("push {remote} {}", backend.url());
        let env = HookEnv {
            ref_name: name.as_str(),
            old: t.map(|d| d.to_hex()).unwrap_or_default(),
            new: value.to_hex(),
            reason: &reason,
        };
        repo.run_hook(Event::PrePush, &env)?;
        tracking.push(t);
    }

    // The remote refs we are about to move, read first: their values say what the remote
    // already holds (a ref's closure is always there before the ref), and their versions are
    // what the conditional writes below expect.
    let current = read_current(backend, &refs)?;
    // A remote ref that still holds what we last saw there means this is the msez remote we
    // checked before: its format file is read again only when that is not so (a first push, a
    // remote that moved or was replaced).
    let familiar = tracking
        .iter()
        .zip(&current)
        .any(|(t, (_, v))| t.is_some() && t == v);
    // A dry run writes nothing there, not even the format file of a new remote.
    if !familiar && !layout::check_format(backend)? && !opts.dry_run {
        backend.put_if_absent(FORMAT_KEY, &layout::format_bytes())?;
        layout::check_format(backend)?;
    }

    // Objects and proof files first: a ref must never name something the remote lacks.
    let known = Known::load(repo, remote)?;
    let mut known_now: HashSet<String> = known.keys.clone();
    if known_now.is_empty() {
        // First contact: one listing beats one conditional PUT per object.
        let mut seen = Vec::new();
        for prefix in ["objects/", "proofs/"] {
            for m in backend.list(prefix)? {
                seen.push(m.key);
            }
        }
        known.record(&seen)?;
        known_now.extend(seen);
    }
    let candidates = if opts.all_objects {
        local_keys(repo)?
    } else {
        // What the remote holds for sure: the closures of the values just read, and of the
        // remote-tracking refs of refs this push does not move.
        let pushed: HashSet<&RefName> = refs.iter().map(|(n, _)| n).collect();
        let mut covering: Vec<(RefName, Digest)> = refs
            .iter()
            .zip(&current)
            .filter_map(|((n, _), (_, v))| v.map(|v| (n.clone(), v)))
            .collect();
        let prefix = format!("refs/remotes/{remote}/");
        for (n, v) in &all_refs {
            let Some(rest) = n.as_str().strip_prefix(&prefix) else {
                continue;
            };
            if let Ok(own) = RefName::new(&format!("refs/{rest}")) {
                if !pushed.contains(&own) {
                    covering.push((own, *v));
                }
            }
        }
        closure_keys(repo, &refs, &covering, &known_now)?
    };
    let todo: Vec<Item> = candidates
        .into_iter()
        .filter(|i| !known_now.contains(&i.key()))
        .collect();
    if opts.dry_run {
        report.would_send = Some(plan(repo, &todo, &refs, &current, &mut report.would_move)?);
        return Ok(report);
    }
    let present = send(
        repo,
        backend,
        opts,
        &known,
        &todo,
        progress,
        stop,
        &mut report,
    )?;

    for (((name, value), old_tracking), (blob, remote_value)) in
        refs.into_iter().zip(tracking).zip(current)
    {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let seen = RemoteRef {
            tracking: old_tracking,
            blob,
            value: remote_value,
        };
        match push_ref(
            repo,
            remote,
            backend,
            &name,
            value,
            &seen,
            &present,
            opts,
            &mut report.warnings,
        ) {
            Ok(Some(m)) => report.refs_moved.push(m),
            Ok(None) => report.refs_up_to_date.push(name.to_string()),
            Err(e) if matches!(e.class_of(), Class::Conflict | Class::Missing) => {
                report.rejected.push(Rejection {
                    name: name.to_string(),
                    class: e.class_of(),
                    message: Finding::from_error(&e).message,
                })
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// The refs a push sends: `only`, or every local ref but the remote-tracking ones.
fn selected(
    repo: &Repo,
    all_refs: &[(RefName, Digest)],
    only: &[RefName],
) -> Result<Vec<(RefName, Digest)>, Error> {
    Ok(if only.is_empty() {
        all_refs
            .iter()
            .filter(|(n, _)| !n.as_str().starts_with("refs/remotes/"))
            .cloned()
            .collect()
    } else {
        let mut out = Vec::new();
        for name in only {
            let value = repo.read_ref(name)?.ok_or_else(|| odb::Error::Missing {
                object: name.to_string(),
            })?;
            out.push((name.clone(), value));
        }
        out
    })
}

/// A remote ref as read before a push: its blob (whose version a conditional write expects)
/// and its value.
type Current = (Option<crate::remote::Blob>, Option<Digest>);

/// The remote's value of each ref about to move, with the blob whose version the conditional
/// write expects.
fn read_current(backend: &dyn Backend, refs: &[(RefName, Digest)]) -> Result<Vec<Current>, Error> {
    let mut current = Vec::with_capacity(refs.len());
    for (name, _) in refs {
        let key = layout::ref_key(name);
        let blob = backend.get(&key, None)?;
        let value =
            match &blob {
                Some(b) => Some(layout::parse_ref_value(&b.bytes).ok_or_else(|| {
                    Error::NotFastForward {
                        name: name.to_string(),
                        found: String::from_utf8_lossy(&b.bytes).chars().take(80).collect(),
                        why: "the remote ref is not a digest",
                    }
                })?),
                None => None,
            };
        current.push((blob, value));
    }
    Ok(current)
}

/// The bytes an item's upload sends.
fn item_size(repo: &Repo, item: &Item) -> Result<u64, Error> {
    Ok(match item {
        // Streamed objects are loose files: their size is their length.
        Item::Object(id) if is_streamed(item) => std::fs::metadata(repo.object_path(id))
            .map(|m| m.len())
            .unwrap_or(0),
        _ => local_bytes(repo, item)?.len() as u64,
    })
}

/// What a dry run would send, and (in `would_move`) the refs it would move.
fn plan(
    repo: &Repo,
    todo: &[Item],
    refs: &[(RefName, Digest)],
    current: &[Current],
    would_move: &mut Vec<String>,
) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    for item in todo {
        plan.bytes += item_size(repo, item)?;
        match item {
            Item::Object(_) => plan.objects += 1,
            Item::Proof(..) => plan.proofs += 1,
        }
    }
    for ((name, value), (_, remote_value)) in refs.iter().zip(current) {
        if *remote_value != Some(*value) {
            would_move.push(name.to_string());
        }
    }
    // One conditional PUT per key, one per ref (S3 adds a lock object's create and
    // delete around each ref write).
    plan.requests = plan.objects + plan.proofs + would_move.len() as u64;
    Ok(plan)
}

/// Uploads `todo` (`jobs` at a time), objects and proof files, each recorded as known once
/// there; returns the objects this run saw on the remote.
#[allow(clippy::too_many_arguments)]
fn send(
    repo: &Repo,
    backend: &dyn Backend,
    opts: &Options,
    known: &Known,
    todo: &[Item],
    progress: &dyn Progress,
    stop: &AtomicBool,
    report: &mut PushReport,
) -> Result<HashSet<ObjectId>, Error> {
    progress.set_total(todo.len() as u64);
    // Sizing a JSON item reads it: done only for a bar someone sees, not for every push.
    if progress.shown() {
        let mut total = 0;
        for item in todo {
            total += item_size(repo, item)?;
        }
        progress.set_bytes_total(total);
    }
    let objects_sent = AtomicUsize::new(0);
    let proofs_sent = AtomicUsize::new(0);
    let bytes_sent = AtomicUsize::new(0);
    let already = AtomicUsize::new(0);
    // Objects this run saw on the remote (created, or found there by create-if-absent).
    let present: Mutex<HashSet<ObjectId>> = Mutex::new(HashSet::new());
    let count = |item: &Item, created: bool, size: u64| -> Result<(), Error> {
        if created {
            bytes_sent.fetch_add(size as usize, Ordering::Relaxed);
            match item {
                Item::Object(_) => objects_sent.fetch_add(1, Ordering::Relaxed),
                Item::Proof(..) => proofs_sent.fetch_add(1, Ordering::Relaxed),
            };
        } else {
            already.fetch_add(1, Ordering::Relaxed);
        }
        if let Item::Object(id) = item {
            present
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone());
        }
        known.record(std::slice::from_ref(&item.key()))
    };
    parallel(todo, opts.jobs, stop, |item| {
        let (created, size) = upload(repo, backend, item, &|n| progress.inc_bytes(n))?;
        count(item, created, size)?;
        // The remote had this object from someone else, perhaps with other inline proofs:
        // ours travel as proof files so neither side's signatures are lost.
        if let (false, Item::Object(id)) = (created, item) {
            for (proof, bytes) in inline_proofs(repo, id)? {
                let key = proof.key();
                let created = backend.put_if_absent(&key, &bytes)?;
                count(&proof, created, bytes.len() as u64)?;
            }
        }
        progress.inc(1);
        Ok(())
    })?;
    report.objects_sent = objects_sent.load(Ordering::Relaxed) as u64;
    report.proofs_sent = proofs_sent.load(Ordering::Relaxed) as u64;
    report.bytes_sent = bytes_sent.load(Ordering::Relaxed) as u64;
    report.already_there = already.load(Ordering::Relaxed) as u64;
    Ok(present.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// What a push needs to send for `refs`: the objects they reach, walked from their values and
/// stopped at the closures of `covering` (refs whose values the remote holds: a receipt chain
/// head covers every earlier receipt, an object its links); plus every local proof file the
/// remote is not known to have, of an object it has or gets (a later co-signature on an old
/// receipt travels though the receipt does not).
fn closure_keys(
    repo: &Repo,
    refs: &[(RefName, Digest)],
    covering: &[(RefName, Digest)],
    known: &HashSet<String>,
) -> Result<Vec<Item>, Error> {
    let mut roots = Vec::new();
    for (name, value) in covering {
        crate::reach::ref_roots(name, *value, &mut roots);
    }
    let mut covered_ids = HashSet::new();
    let mut covered_digests = HashSet::new();
    for r in roots {
        match r {
            crate::reach::Root::Id(id) => covered_ids.insert(id),
            crate::reach::Root::Digest(d) => covered_digests.insert(d),
        };
    }
    let mut roots = Vec::new();
    for (name, value) in refs {
        crate::reach::ref_roots(name, *value, &mut roots);
    }
    // (object, whether it must be here): a ref's typed target, an asset chain's genesis and a
    // receipt's parent must (a clone could not verify the chain without them); the guesses of
    // an untyped ref and embedded references may be absent (a dangling embedded reference is
    // fsck's business, not a hole in a chain).
    let mut stack: Vec<(ObjectId, bool)> = Vec::new();
    for r in roots {
        match r {
            crate::reach::Root::Id(id) => {
                let required = id.artifact_type.rule().encoding() == Encoding::Json;
                stack.push((id, required))
            }
            // Every stored type with that digest, as gc marks it.
            crate::reach::Root::Digest(d) => stack.extend(
                repo.object_types()?
                    .into_iter()
                    .map(|t| (ObjectId::new(t, d), false)),
            ),
        }
    }
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let covered = |id: &ObjectId| covered_ids.contains(id) || covered_digests.contains(&id.digest);
    let mut out: Vec<Item> = crate::reach::walk(
        &Verified(repo),
        stack,
        crate::reach::Require::Chains,
        &mut seen,
        &covered,
    )?
    .into_iter()
    .map(Item::Object)
    .collect();
    // Proof files live apart from their objects and only for proofs that came later, so this
    // walk is as long as the list of objects that gained a proof, not the store.
    for (id, h) in local_proof_files(repo)? {
        let key = layout::proof_key(&id, &h);
        if known.contains(&key) {
            continue;
        }
        let remote_has = seen.contains(&id)
            || covered_ids.contains(&id)
            || covered_digests.contains(&id.digest)
            || known.contains(&layout::object_key(&id));
        if remote_has {
            out.push(Item::Proof(id, h));
        }
    }
    Ok(out)
}

/// The repository as push's walk reads it: each JSON object checked against its name as it
/// is read (a flipped byte stops the push), a hole in a chain stops it before any ref moves.
struct Verified<'r>(&'r Repo);

impl crate::reach::Source for Verified<'_> {
    type Error = Error;
    fn has(&self, id: &ObjectId) -> Result<bool, Error> {
        Ok(self.0.has(id))
    }
    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, Error> {
        stored_json(self.0, id).map(Some)
    }
    fn missing(&self, id: &ObjectId) -> Error {
        Error::Odb(odb::Error::Missing {
            object: id.to_string(),
        })
    }
}

/// Every proof file under `.msez/proofs` (`<type>/<digest>/<h>.json`), by object and hash.
fn local_proof_files(repo: &Repo) -> Result<Vec<(ObjectId, String)>, Error> {
    let root = repo.dir().join("proofs");
    let list = |dir: &Path| -> Result<Vec<std::fs::DirEntry>, Error> {
        match std::fs::read_dir(dir) {
            Ok(entries) => Ok(entries.flatten().collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io("listing", dir, e)),
        }
    };
    let mut out = Vec::new();
    for t in list(&root)? {
        let Some(artifact_type) = t
            .file_name()
            .to_str()
            .and_then(|s| ArtifactType::new(s).ok())
        else {
            continue;
        };
        for d in list(&t.path())? {
            let Some(digest) = d.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let id = ObjectId::new(artifact_type.clone(), digest);
            for f in list(&d.path())? {
                let name = f.file_name();
                let Some(h) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                    continue;
                };
                if h.parse::<Digest>().is_ok() {
                    out.push((id.clone(), h.to_string()));
                }
            }
        }
    }
    Ok(out)
}

/// What push knows about one remote ref before moving it.
struct RemoteRef {
    /// Our remote-tracking value (what we last saw there).
    tracking: Option<Digest>,
    /// The remote ref as read at the start of the push (None: absent).
    blob: Option<crate::remote::Blob>,
    /// Its value.
    value: Option<Digest>,
}

impl Error {
    fn class_of(&self) -> Class {
        crate::taxonomy::Classify::class(self)
    }
}

/// Moves one remote ref to `value` by a conditional write; None when it already was there.
#[allow(clippy::too_many_arguments)]
fn push_ref(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    name: &RefName,
    value: Digest,
    seen: &RemoteRef,
    present: &HashSet<ObjectId>,
    opts: &Options,
    warnings: &mut Vec<String>,
) -> Result<Option<RefMove>, Error> {
    let key = layout::ref_key(name);
    let tracking_name = tracking_ref(remote, name)?;
    let tracking = seen.tracking;
    let remote_value = seen.value;
    // The remote-tracking ref is only our memory of the remote: failing to move it (say, a
    // lock left by a killed msez) must not fail a push whose remote ref did move.
    let mut record = |reason: &str| {
        if tracking != Some(value) {
            if let Err(e) = repo.update_ref(&tracking_name, value, Expect::Any, reason) {
                warnings.push(format!("{tracking_name} not updated: {e}"));
            }
        }
    };
    if remote_value == Some(value) {
        record(&format!("push {remote}: already there"));
        return Ok(None);
    }
    // The target must be on the remote before the ref names it, whatever our record says
    // (a remote gc may have taken what an interrupted push left unreferenced): unless this
    // run's own upload just saw it there, ask.
    let target = local_target(repo, name, value)?.ok_or_else(|| odb::Error::Missing {
        object: format!("*:{value} (from {name})"),
    })?;
    let target_key = layout::object_key(&target);
    if !present.contains(&target) && backend.head(&target_key)?.is_none() {
        upload(repo, backend, &Item::Object(target.clone()), &|_| {})?;
        for (path, _) in repo.proof_files(&target)? {
            if let Some(h) = path.file_stem().and_then(|s| s.to_str()) {
                upload(
                    repo,
                    backend,
                    &Item::Proof(target.clone(), h.to_string()),
                    &|_| {},
                )?;
            }
        }
    }
    if let (true, Some(v)) = (incoming::is_chain_ref(name), remote_value) {
        // A chain ref moves only to a value that extends the remote's, checked by the
        // receipts' links: never by "a value we once held", and a lease does not override it.
        let mut resolution = None;
        let why = match incoming::relate_ref(repo, name, v, value).map_err(chain_err)? {
            incoming::Relation::Extends | incoming::Relation::Same => None,
            incoming::Relation::Behind => Some("it would roll the remote's chain back"),
            incoming::Relation::Fork {
                sequence,
                prev_root,
            } => {
                // The one way across a fork: a resolution our anchors count, sent first so
                // that it travels with the head and every receiver can check it.
                resolution = incoming::resolution_for(
                    repo,
                    name,
                    value,
                    sequence,
                    prev_root,
                    opts.trust_anchors.as_deref(),
                    opts.lifecycle.as_deref(),
                )
                .map_err(chain_err)?;
                resolution.is_none().then_some(
                    "the remote's chain forked from ours and no fork resolution our trust \
                     anchors count chooses our branch",
                )
            }
            incoming::Relation::Unknown => {
                Some("the remote's value is not on our chain (fetch it first)")
            }
        };
        if let Some(why) = why {
            return Err(Error::NotFastForward {
                name: name.to_string(),
                found: v.to_hex(),
                why,
            });
        }
        if let Some(r) = &resolution {
            let cred = Item::Object(r.credential.clone());
            if backend.head(&cred.key())?.is_none() {
                upload(repo, backend, &cred, &|_| {})?;
            }
            for (path, _) in repo.proof_files(&r.credential)? {
                if let Some(h) = path.file_stem().and_then(|s| s.to_str()) {
                    let item = Item::Proof(r.credential.clone(), h.to_string());
                    upload(repo, backend, &item, &|_| {})?;
                }
            }
        }
        return move_remote_ref(backend, &key, value, &seen.blob).map(|()| {
            record(&format!("push {remote}"));
            Some(RefMove {
                name: name.to_string(),
                old: remote_value.map(|d| d.to_hex()),
                new: value.to_hex(),
                forced: false,
                resolution: resolution.map(|r| r.credential.to_string()),
            })
        });
    }
    let history: HashSet<Digest> = repo
        .reflog(name)?
        .into_iter()
        .flat_map(|e| [e.old, Some(e.new)])
        .flatten()
        .chain([value])
        .collect();
    let fast_forward = match remote_value {
        None => true,
        Some(v) => history.contains(&v),
    };
    let forced = !fast_forward && opts.force_with_lease && remote_value == tracking;
    if !fast_forward && !forced {
        let why = if opts.force_with_lease {
            "the remote no longer holds what we last fetched"
        } else {
            "not a fast-forward"
        };
        return Err(Error::NotFastForward {
            name: name.to_string(),
            found: remote_value.map(|d| d.to_hex()).unwrap_or_default(),
            why,
        });
    }
    move_remote_ref(backend, &key, value, &seen.blob)?;
    record(&format!("push {remote}"));
    Ok(Some(RefMove {
        name: name.to_string(),
        old: remote_value.map(|d| d.to_hex()),
        new: value.to_hex(),
        forced,
        resolution: None,
    }))
}

/// Writes a remote ref by a conditional write against the version read at the push's start.
fn move_remote_ref(
    backend: &dyn Backend,
    key: &str,
    value: Digest,
    blob: &Option<crate::remote::Blob>,
) -> Result<(), Error> {
    let bytes = format!("{value}\n").into_bytes();
    match blob {
        None => {
            if !backend.put_if_absent(key, &bytes)? {
                return Err(Error::Precondition {
                    key: key.to_string(),
                });
            }
        }
        Some(blob) => {
            backend.put_if_match(key, &bytes, &blob.version)?;
        }
    }
    Ok(())
}
