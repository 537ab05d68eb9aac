//! The artifact-graph walk of `verify_in` (msez-wire-format.md §3.3–3.4): seeds from the root,
//! then one [`crate::reach::depth_first`] walk over the wire format's (type, digest) strings,
//! recording every node, edge, missing artifact and mismatch.

use std::collections::HashSet;

use super::{
    EMBEDDED, Edge, Error, Mismatch, Missing, Node, Options, Pending, REPORT_TYPE, Report,
    ReportOptions, Root, RootInfo, Source, Stats, StrictCheck, base_name, is_structured, newer,
    parse_structured, read_root_doc, select_root_files, transition_type_edges,
};
use crate::artifact::{self, ArtifactType, ObjectId};
use crate::canon::{self, Digest, Value};
use crate::progress::Progress;
use crate::reach::Step;

/// What the walk has found so far.
pub(super) struct Walk<'o> {
    opts: &'o Options,
    edges: Vec<Edge>,
    stats: Stats,
    errors: Vec<String>,
    newest_checkpoint: Option<String>,
    root_files: Vec<String>,
    seen: HashSet<(String, String)>,
    nodes: Vec<Node>,
    missing: Vec<Missing>,
    mismatches: Vec<Mismatch>,
    /// Whether the closure was cut (a truncated directory scan, the node budget).
    pub(super) partial: bool,
}

impl<'o> Walk<'o> {
    pub(super) fn new(opts: &'o Options) -> Walk<'o> {
        Walk {
            opts,
            edges: Vec::new(),
            stats: Stats::default(),
            errors: Vec::new(),
            newest_checkpoint: None,
            root_files: Vec::new(),
            seen: HashSet::new(),
            nodes: Vec::new(),
            missing: Vec::new(),
            mismatches: Vec::new(),
            partial: false,
        }
    }

    /// The embedded refs of a root document, as depth-1 nodes to walk.
    fn seed(&mut self, doc: &Value, source: &str, stack: &mut Vec<Pending>) {
        for r in artifact::embedded_refs(doc) {
            self.stats.edges_total += 1;
            if self.opts.emit_edges {
                self.edges.push(Edge {
                    from: source.to_string(),
                    to: format!("{}:{}", r.artifact_type, r.digest),
                    label: EMBEDDED.into(),
                    depth: 1,
                    source: source.to_string(),
                });
            }
            stack.push(Pending {
                artifact_type: r.artifact_type,
                digest: r.digest,
                depth: 1,
                source: source.to_string(),
            });
        }
    }

    /// Seeds `stack` from the root: a CAS artifact, a document, or every structured document
    /// under a directory.
    pub(super) fn start(
        &mut self,
        source: &mut dyn Source,
        root: &Root,
        progress: &dyn Progress,
        stack: &mut Vec<Pending>,
    ) -> Result<RootInfo, Error> {
        Ok(match root {
            Root::Cas(id) => {
                stack.push(Pending {
                    artifact_type: id.artifact_type.to_string(),
                    digest: id.digest.to_hex(),
                    depth: 0,
                    source: "root".into(),
                });
                RootInfo::Cas {
                    artifact_type: id.artifact_type.to_string(),
                    digest_sha256: id.digest.to_hex(),
                }
            }
            Root::File(path) => {
                let doc = read_root_doc(source, path)?;
                newer(&mut self.newest_checkpoint, &doc);
                let name = format!("file:{}", base_name(path));
                self.seed(&doc, &name, stack);
                RootInfo::File {
                    path: path.display().to_string(),
                }
            }
            Root::Dir(dir) => {
                let (files, truncated) = select_root_files(source.list(dir)?, self.opts.max_nodes);
                progress.set_total(files.len() as u64);
                let dirname = base_name(dir);
                let mut parse_errors = 0;
                for rel in &files {
                    let path = dir.join(rel);
                    match source
                        .read(&path)
                        .and_then(|bytes| parse_structured(rel, &bytes))
                    {
                        Ok(doc) => {
                            newer(&mut self.newest_checkpoint, &doc);
                            let name = format!("dir:{dirname}:{rel}");
                            self.seed(&doc, &name, stack);
                        }
                        Err(reason) => {
                            parse_errors += 1;
                            self.errors.push(format!("parse error: {rel}: {reason}"));
                        }
                    }
                    progress.inc(1);
                }
                self.root_files = files;
                RootInfo::Dir {
                    path: dir.display().to_string(),
                    files_scanned: self.root_files.len() as u64,
                    parse_errors,
                    files_truncated: truncated,
                }
            }
        })
    }

    /// Visits one pending ref (`rest`: those still waiting): resolves it, checks it in strict
    /// mode, and returns the refs it embeds.
    pub(super) fn visit(
        &mut self,
        source: &mut dyn Source,
        p: Pending,
        rest: &[Pending],
    ) -> Step<Pending> {
        let none = || Step::Next(Vec::new());
        if self.seen.len() >= self.opts.max_nodes {
            // Only a ref not yet walked means the closure is cut; refs to walked nodes
            // left on the stack are duplicates.
            let fresh = std::iter::once(&p).chain(rest.iter()).any(|q| {
                !self
                    .seen
                    .contains(&(q.artifact_type.clone(), q.digest.clone()))
            });
            self.errors
                .push(format!("max_nodes reached ({})", self.opts.max_nodes));
            self.partial |= fresh;
            return Step::Stop;
        }
        let id = match (
            ArtifactType::new(&p.artifact_type),
            p.digest.parse::<Digest>(),
        ) {
            (Ok(t), Ok(d)) => ObjectId::new(t, d),
            _ => {
                self.errors.push(format!(
                    "invalid artifact ref {}:{} (from {})",
                    p.artifact_type, p.digest, p.source
                ));
                return none();
            }
        };
        if !self
            .seen
            .insert((p.artifact_type.clone(), p.digest.clone()))
        {
            return none();
        }
        self.stats.max_depth_seen = self.stats.max_depth_seen.max(u64::from(p.depth));
        let mut node = Node {
            id: id.to_string(),
            artifact_type: p.artifact_type.clone(),
            digest_sha256: p.digest.clone(),
            depth: u64::from(p.depth),
            source: p.source.clone(),
            resolved: false,
            path: None,
            strict: None,
        };
        let path = match source.resolve(&id) {
            Ok(Some(path)) => path,
            Ok(None) => {
                self.missing.push(Missing {
                    artifact_type: p.artifact_type.clone(),
                    digest_sha256: p.digest.clone(),
                    source: p.source.clone(),
                    depth: u64::from(p.depth),
                });
                self.nodes.push(node);
                return none();
            }
            Err(e) => {
                self.mismatches.push(Mismatch {
                    artifact_type: p.artifact_type.clone(),
                    digest_sha256: p.digest.clone(),
                    computed_digest_sha256: None,
                    method: "error".into(),
                    path: None,
                    source: p.source.clone(),
                    depth: u64::from(p.depth),
                    error: Some(e.to_string()),
                });
                self.nodes.push(node);
                return none();
            }
        };
        node.resolved = true;
        node.path = Some(path.display().to_string());
        let name = base_name(&path);
        let structured = is_structured(&name);
        let rule = id.artifact_type.rule();
        // Raw-bytes artifacts are hashed streaming; everything else is read once and both
        // digested and parsed from the same bytes.
        let bytes = if structured || (self.opts.strict && rule != canon::DigestRule::Bytes) {
            match source.read(&path) {
                Ok(b) => Some(b),
                Err(e) => {
                    self.errors.push(format!("reading {id}: {e}"));
                    None
                }
            }
        } else {
            None
        };
        if self.opts.strict {
            self.strict_check(source, &id, &p, &path, bytes.as_deref(), &mut node);
        }
        self.nodes.push(node);
        if p.depth >= self.opts.max_depth || !structured {
            return none();
        }
        let Some(bytes) = bytes else { return none() };
        self.children(&id, &p, &name, &bytes)
    }

    /// Strict mode: the artifact's digest recomputed by its type's rule.
    fn strict_check(
        &mut self,
        source: &mut dyn Source,
        id: &ObjectId,
        p: &Pending,
        path: &std::path::Path,
        bytes: Option<&[u8]>,
        node: &mut Node,
    ) {
        let rule = id.artifact_type.rule();
        let computed = match (bytes, rule) {
            (_, canon::DigestRule::Bytes) => source.hash(path),
            (Some(b), _) => artifact::digest_bytes(&id.artifact_type, b).map_err(|e| e.to_string()),
            (None, _) => Err("unreadable".to_string()),
        };
        let method = rule.method().to_string();
        let (computed_hex, ok, err) = match computed {
            Ok(d) => (Some(d.to_hex()), d == id.digest, None),
            Err(e) => (None, false, Some(e)),
        };
        node.strict = Some(StrictCheck {
            computed_digest_sha256: computed_hex.clone(),
            method: if err.is_some() {
                "error".into()
            } else {
                method.clone()
            },
            matches: ok,
        });
        if !ok {
            self.mismatches.push(Mismatch {
                artifact_type: p.artifact_type.clone(),
                digest_sha256: p.digest.clone(),
                computed_digest_sha256: computed_hex,
                method: if err.is_some() {
                    "error".into()
                } else {
                    method
                },
                path: node.path.clone(),
                source: p.source.clone(),
                depth: u64::from(p.depth),
                error: err,
            });
        }
    }

    /// The refs a structured artifact leads to (a transition-types lock by its digests), with
    /// their edges recorded.
    fn children(&mut self, id: &ObjectId, p: &Pending, name: &str, bytes: &[u8]) -> Step<Pending> {
        let doc = match parse_structured(name, bytes) {
            Ok(doc) => doc,
            Err(reason) => {
                self.errors.push(format!("parse error: {}: {reason}", id));
                return Step::Next(Vec::new());
            }
        };
        let source = format!("{}->{}", p.source, p.artifact_type);
        let from = id.to_string();
        let children = if p.artifact_type == "transition-types" {
            match transition_type_edges(&doc) {
                Ok(children) => children,
                Err(why) => {
                    self.errors
                        .push(format!("invalid transition-types lock {id}: {why}"));
                    return Step::Next(Vec::new());
                }
            }
        } else {
            artifact::embedded_refs(&doc)
                .into_iter()
                .map(|r| (r.artifact_type, r.digest, EMBEDDED.to_string()))
                .collect()
        };
        let mut next = Vec::with_capacity(children.len());
        for (t, d, label) in children {
            self.stats.edges_total += 1;
            if self.opts.emit_edges {
                self.edges.push(Edge {
                    from: from.clone(),
                    to: format!("{t}:{d}"),
                    label,
                    depth: u64::from(p.depth + 1),
                    source: source.clone(),
                });
            }
            next.push(Pending {
                artifact_type: t,
                digest: d,
                depth: p.depth + 1,
                source: source.clone(),
            });
        }
        Step::Next(next)
    }

    /// The report of the walk.
    pub(super) fn report(mut self, root: RootInfo, store_roots: Vec<String>) -> Report {
        self.stats.nodes_total = self.nodes.len() as u64;
        self.stats.missing_total = self.missing.len() as u64;
        self.stats.digest_mismatch_total = self.mismatches.len() as u64;
        let opts = self.opts;
        Report {
            report_type: REPORT_TYPE.into(),
            generated_at: crate::vc::proof::now_utc(),
            root,
            options: ReportOptions {
                strict: opts.strict,
                max_nodes: opts.max_nodes as u64,
                max_depth: u64::from(opts.max_depth),
                emit_edges: opts.emit_edges,
                store_roots,
            },
            stats: self.stats,
            missing: self.missing,
            digest_mismatches: self.mismatches,
            nodes: self.nodes,
            errors: self.errors,
            edges: opts.emit_edges.then_some(self.edges),
            bundle: None,
            input_bundle: None,
            newest_checkpoint: self.newest_checkpoint,
            partial: self.partial,
            root_files: self.root_files,
        }
    }
}
