//! pull and clone: fetch, then move local refs along verified history (a counted fork
//! resolution lets a chain head cross, its checkpoint ref following).

use super::*;

/// Moves local chain head `name` from `ours` across a fork to `theirs`, which a counted
/// resolution `r` chooses; our branch is kept under the chain's fork ref, as `fork-resolve`
/// keeps a losing branch.
fn adopt_resolved(
    repo: &Repo,
    name: &RefName,
    ours: Digest,
    theirs: Digest,
    reason: &str,
    r: incoming::Resolved,
    report: &mut PullReport,
) -> Result<odb::RefUpdate, Error> {
    if let Some(key) = crate::chain::store::ChainKey::from_head_ref(name) {
        let kept = key.fork_ref(&ours).map_err(chain_err)?;
        repo.update_ref(
            &kept,
            ours,
            Expect::Any,
            &format!("fork-resolution: losing branch ({reason})"),
        )?;
    }
    let u = repo.update_ref(
        name,
        theirs,
        Expect::Exactly(ours),
        &format!(
            "fork-resolution: adopt the selected branch ({reason}, {})",
            r.credential
        ),
    )?;
    incoming::drop_state_after_crossing(repo, name).map_err(chain_err)?;
    report.resolved.push(r);
    Ok(u)
}

/// The head (ref, new value) of checkpoint ref `name`'s chain if that head crossed a fork in
/// this pull.
fn crossed_head(name: &RefName, crossed: &[(RefName, Digest)]) -> Option<(RefName, Digest)> {
    incoming::checkpoint_kind(name)?;
    let prefix = name.as_str().strip_suffix("checkpoint")?;
    crossed
        .iter()
        .find(|(h, _)| h.as_str().strip_suffix("head") == Some(prefix))
        .cloned()
}

/// After a head crossed a fork: its checkpoint ref follows it (see [`super::checkpoint`]).
fn settle_checkpoint(
    repo: &Repo,
    head: &(RefName, Digest),
    remote_ck: Option<Digest>,
    remote: &str,
    report: &mut PullReport,
) -> Result<(), Error> {
    let s = crate::remote::checkpoint::settle(
        repo,
        &head.0,
        head.1,
        remote_ck,
        &format!("pull {remote}"),
    )?;
    let name = crate::chain::store::ChainKey::from_head_ref(&head.0)
        .and_then(|k| k.checkpoint_ref().ok())
        .map(|n| n.to_string())
        .unwrap_or_default();
    if let Some((kept, value)) = &s.kept {
        report.refs_moved.push(RefMove {
            name: kept.to_string(),
            old: None,
            new: value.to_hex(),
            forced: false,
            resolution: None,
        });
    }
    if let Some(new) = s.moved_to {
        report.refs_moved.push(RefMove {
            name: name.clone(),
            old: s.old.map(|d| d.to_hex()),
            new: new.to_hex(),
            forced: false,
            resolution: None,
        });
    }
    if s.removed {
        report.warnings.push(format!(
            "{name} removed: its checkpoint is off the adopted branch (kept under refs/forks/) and no checkpoint of the adopted branch checks against the new head"
        ));
    }
    Ok(())
}

/// A local ref the remote's value neither extends nor trails: both values stay.
fn divergence(
    remote: &str,
    name: &RefName,
    local: Digest,
    value: Digest,
) -> Result<Divergence, Error> {
    Ok(Divergence {
        name: name.to_string(),
        local: local.to_hex(),
        remote: value.to_hex(),
        tracking: tracking_ref(remote, name)?.to_string(),
    })
}

/// fetch, then fast-forward local refs; a diverged ref is reported and both values kept.
pub fn pull(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<PullReport, Error> {
    let before: BTreeMap<RefName, Option<Digest>> = repo
        .refs()?
        .into_iter()
        .filter_map(|(n, d)| {
            let rest = n
                .as_str()
                .strip_prefix(&format!("refs/remotes/{remote}/"))?;
            Some((RefName::new(rest).ok()?, Some(d)))
        })
        .collect();
    let fetch = fetch(repo, remote, backend, opts, progress, stop)?;
    if opts.dry_run {
        // Nothing was fetched, so no local ref can move.
        return Ok(PullReport {
            fetch,
            ..PullReport::default()
        });
    }
    let mut report = PullReport::default();
    // Heads first: a checkpoint ref follows its head when the head crosses a fork.
    let mut order: Vec<(&RefName, &Digest)> = fetch.remote_refs.iter().collect();
    order.sort_by_key(|(n, _)| incoming::checkpoint_kind(n).is_some());
    let mut crossed: Vec<(RefName, Digest)> = Vec::new();
    for (name, value) in order {
        if let Some(head) = crossed_head(name, &crossed) {
            let remote_ck = (!fetch.dangling.contains(&name.to_string())).then_some(*value);
            settle_checkpoint(repo, &head, remote_ck, remote, &mut report)?;
            crossed.retain(|(h, _)| h != &head.0);
            continue;
        }
        if fetch.dangling.contains(&name.to_string()) {
            continue;
        }
        if fetch.refused.iter().any(|r| r.name == name.as_str()) {
            // The remote left the history we tracked: our ref stays where it is.
            continue;
        }
        let local = repo.read_ref(name)?;
        let old_tracking = before.get(name).copied().flatten();
        let reason = format!("pull {remote}");
        let moved = if incoming::is_chain_ref(name) {
            match local {
                Some(l) if l == *value => None,
                None => Some(repo.update_ref(name, *value, Expect::Absent, &reason)?),
                Some(l) => match incoming::relate_ref(repo, name, l, *value).map_err(chain_err)? {
                    incoming::Relation::Extends => {
                        Some(repo.update_ref(name, *value, Expect::Exactly(l), &reason)?)
                    }
                    // The remote is behind us on our own chain: we are ahead.
                    incoming::Relation::Same | incoming::Relation::Behind => None,
                    incoming::Relation::Fork {
                        sequence,
                        prev_root,
                    } if let Some(r) = incoming::resolution_for(
                        repo,
                        name,
                        *value,
                        sequence,
                        prev_root,
                        opts.trust_anchors.as_deref(),
                        opts.lifecycle.as_deref(),
                    )
                    .map_err(chain_err)? =>
                    {
                        crossed.push((name.clone(), *value));
                        Some(adopt_resolved(
                            repo,
                            name,
                            l,
                            *value,
                            &reason,
                            r,
                            &mut report,
                        )?)
                    }
                    incoming::Relation::Fork { .. } | incoming::Relation::Unknown => {
                        report.diverged.push(divergence(remote, name, l, *value)?);
                        None
                    }
                },
            }
        } else {
            // Other refs: compare-and-swap against what we last saw there, or our own history.
            match local {
                Some(l) if l == *value => None,
                None => Some(repo.update_ref(name, *value, Expect::Absent, &reason)?),
                Some(l) if Some(l) == old_tracking => {
                    Some(repo.update_ref(name, *value, Expect::Exactly(l), &reason)?)
                }
                Some(l) => {
                    let ours: HashSet<Digest> = repo
                        .reflog(name)?
                        .into_iter()
                        .flat_map(|e| [e.old, Some(e.new)])
                        .flatten()
                        .collect();
                    if !ours.contains(value) {
                        report.diverged.push(divergence(remote, name, l, *value)?);
                    }
                    // Else the remote is behind us on our own history: nothing to do.
                    None
                }
            }
        };
        if let Some(u) = moved {
            report.warnings.extend(u.warnings);
            report.refs_moved.push(RefMove {
                name: name.to_string(),
                old: u.entry.old.map(|d| d.to_hex()),
                new: u.entry.new.to_hex(),
                forced: false,
                resolution: None,
            });
        }
    }
    // Crossed chains whose remote has no checkpoint ref: ours may be on the losing branch.
    for head in crossed {
        settle_checkpoint(repo, &head, None, remote, &mut report)?;
    }
    let reason = format!("pull {remote} {}", backend.url());
    let env = HookEnv {
        ref_name: "",
        old: String::new(),
        new: String::new(),
        reason: &reason,
    };
    if let Some(w) = repo.run_hook(Event::PostPull, &env)? {
        report.warnings.push(w);
    }
    report.fetch = fetch;
    Ok(report)
}

/// Creates `dir` as a clone of the remote: init, remote `origin`, fetch, local refs.
pub fn clone(
    url: &crate::remote::Url,
    backend: &dyn Backend,
    dir: &Path,
    sample_hooks: &[(&str, &str)],
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<(Repo, PullReport), Error> {
    let existed = dir.exists();
    if existed
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    let result = (|| {
        let mut repo = Repo::init(dir, sample_hooks)?;
        let mut config = repo.config().clone();
        config.remote.insert(
            "origin".to_string(),
            odb::RemoteConfig {
                url: url.to_string(),
                ..Default::default()
            },
        );
        repo.save_config(config)?;
        let report = pull(&repo, "origin", backend, opts, progress, stop)?;
        Ok((repo, report))
    })();
    if result.is_err() {
        // Like git: a failed clone leaves nothing behind.
        if existed {
            let _ = std::fs::remove_dir_all(dir.join(odb::DIR_NAME));
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}
