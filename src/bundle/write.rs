//! Writing a witness bundle, deterministically.
//!
//! Same input, same bytes, on any machine: entries sorted by name (bytewise), every entry
//! dated 1980-01-01 00:00:00 with mode 0644 and "made by Unix", deflate from zlib-rs at level 6
//! (the crate versions are pinned in Cargo.toml), no extra fields, relative names only, and a
//! manifest without absolute paths or clock readings: `generated_at` is `SOURCE_DATE_EPOCH`
//! or else the newest checkpoint timestamp among the root documents (else 1980-01-01).
//! Files are streamed into the zip; nothing holds a whole bundle in memory.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use super::{
    EntryDigest, Error, FORMAT, MANIFEST, README, README_TEXT, Summary, VERSION, manifest,
};
use crate::canon::Digest;
use crate::graph::{self, Report, Root};
use crate::progress::Progress;

/// The deflate level of every entry.
pub const DEFLATE_LEVEL: i64 = 6;
/// `generated_at` when neither `SOURCE_DATE_EPOCH` nor a checkpoint gives a time.
pub const EPOCH: &str = "1980-01-01T00:00:00Z";
/// The manifest's name for the bundle's own store root.
pub const STORE_ROOT: &str = "artifacts";

/// What a build produced.
#[derive(Debug)]
pub struct Built {
    /// The manifest written into the bundle, without `bundle.entries` (see `entries`).
    pub manifest: Report,
    /// SHA-256 of the canonical manifest (what attestations sign).
    pub manifest_digest: Digest,
    /// The bundle file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// `bundle.entries` of the manifest (the manifest value in `manifest` leaves them out:
    /// they grow with the closure).
    pub entries: Vec<EntryDigest>,
}

/// `generated_at` for a bundle: `SOURCE_DATE_EPOCH` when set, else the newest checkpoint.
pub fn generated_at(report: &Report) -> String {
    match std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        Some(secs) => crate::vc::proof::format_utc(secs),
        None => report
            .newest_checkpoint
            .clone()
            .unwrap_or_else(|| EPOCH.to_string()),
    }
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("root")
        .to_string()
}

/// Walks `root` (strict, with edges) and writes the closure as a bundle at `out` (atomically),
/// whatever the walk found (callers that must refuse incomplete closures use [`walk`], judge
/// the report, then [`write`]).
pub fn build(
    root: &Root,
    opts: &graph::Options,
    out: &Path,
    progress: &dyn Progress,
) -> Result<Built, Error> {
    let report = walk(root, opts, progress)?;
    write(report, root, out)
}

/// The walk a bundle is written from: strict, with edges.
pub fn walk(root: &Root, opts: &graph::Options, progress: &dyn Progress) -> Result<Report, Error> {
    let opts = graph::Options {
        strict: true,
        emit_edges: true,
        ..opts.clone()
    };
    Ok(graph::verify(root, &opts, progress)?)
}

/// Writes the closure `report` (from [`walk`] over `root`) as a bundle at `out`, atomically.
/// A report marked `partial` is written marked so in the manifest.
pub fn write(mut report: Report, root: &Root, out: &Path) -> Result<Built, Error> {
    let files = layout(&mut report, root);
    report.options.store_roots = vec![STORE_ROOT.to_string()];
    report.generated_at = generated_at(&report);
    // Pass 1: hash every file, so the manifest can list them.
    let entries = hash_all(&files)?;
    let summary = Summary {
        format: FORMAT.into(),
        version: VERSION,
        included_files: entries.len() as u64,
        included_bytes: entries.iter().map(|e| e.bytes).sum(),
        excluded: Vec::new(),
        truncated: matches!(
            report.root,
            graph::RootInfo::Dir {
                files_truncated: true,
                ..
            }
        ),
        entries: Vec::new(),
    };
    report.bundle = Some(to_value(&summary)?);
    // The long arrays stay typed; the manifest is written and hashed from them item by item.
    let nodes = std::mem::take(&mut report.nodes);
    let edges = report.edges.as_mut().map(std::mem::take);
    let skeleton = to_value(&report);
    report.nodes = nodes;
    report.edges = edges;
    let skeleton = skeleton?;
    let parts = manifest::Parts {
        skeleton: &skeleton,
        nodes: &report.nodes,
        edges: report.edges.as_deref(),
        entries: &entries,
    };
    let manifest_digest = parts.digest()?;
    // Pass 2: the zip.
    let (tmp, bytes) = write_zip(&files, &parts, out)?;
    persist(tmp, out)?;
    Ok(Built {
        manifest: report,
        manifest_digest,
        path: out.to_path_buf(),
        bytes,
        entries,
    })
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<crate::canon::Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Zip {
        what: "manifest".into(),
        reason: e.to_string(),
    })
}

/// The files of the bundle as (bundle name, source file), and the report's paths renamed to
/// bundle names.
fn layout(report: &mut Report, root: &Root) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut names: HashMap<String, String> = HashMap::new();
    match root {
        Root::Dir(dir) => {
            let top = format!("root/{}", base_name(dir));
            names.insert(dir.display().to_string(), top.clone());
            for rel in &report.root_files {
                files.push((format!("{top}/{rel}"), dir.join(rel)));
            }
            // Checkpoint notes carry the witnesses' cosignatures the chain's policy needs; they
            // are not structured documents, so the root scan leaves them out.
            for rel in checkpoint_notes(dir) {
                files.push((format!("{top}/{rel}"), dir.join(&rel)));
            }
        }
        Root::File(p) => {
            let name = format!("root/{}", base_name(p));
            names.insert(p.display().to_string(), name.clone());
            files.push((name, p.clone()));
        }
        Root::Cas(_) => {}
    }
    for n in report.nodes.iter().filter(|n| n.resolved) {
        if let Some(p) = &n.path {
            let name = format!(
                "{STORE_ROOT}/{}/{}",
                n.artifact_type,
                base_name(Path::new(p))
            );
            names.insert(p.clone(), name.clone());
            files.push((name, PathBuf::from(p)));
        }
    }
    report.map_paths(|p| names.get(p).cloned());
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The `checkpoint.N.note` files of the chains under `dir` (in a `state/checkpoints/`
/// directory, outside the directories a root scan skips), relative and `/`-separated.
pub fn checkpoint_notes(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && !graph::skipped_dir(&child) {
                stack.push(child);
            } else if ft.is_file() && is_note_name(&name) && child.contains("state/checkpoints/") {
                out.push(child);
            }
        }
    }
    out.sort();
    out
}

/// Whether `name` is `checkpoint.<N>.note`.
fn is_note_name(name: &str) -> bool {
    name.strip_prefix("checkpoint.")
        .and_then(|r| r.strip_suffix(".note"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Every entry but the manifest, with its size and SHA-256, sorted by name.
fn hash_all(files: &[(String, PathBuf)]) -> Result<Vec<EntryDigest>, Error> {
    let mut entries = Vec::with_capacity(files.len() + 1);
    for (name, src) in files {
        let (bytes, sha) = hash(src)?;
        entries.push(EntryDigest {
            path: name.clone(),
            bytes,
            sha256: sha.to_hex(),
        });
    }
    entries.push(EntryDigest {
        path: README.into(),
        bytes: README_TEXT.len() as u64,
        sha256: crate::canon::sha256(README_TEXT.as_bytes()).to_hex(),
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// Writes the zip into a temp file beside `out`: entries in bytewise name order, the manifest
/// streamed in its place. Returns the file and its size.
fn write_zip(
    files: &[(String, PathBuf)],
    parts: &manifest::Parts<'_>,
    out: &Path,
) -> Result<(crate::fs::Staged, u64), Error> {
    let sources: HashMap<&str, &Path> = files
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_path()))
        .collect();
    let mut order: Vec<&EntryDigest> = parts.entries.iter().collect();
    let manifest_entry = EntryDigest {
        path: MANIFEST.into(),
        bytes: 0,
        sha256: String::new(),
    };
    order.push(&manifest_entry);
    order.sort_by(|a, b| a.path.cmp(&b.path));

    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let tmp = crate::fs::Staged::new_in(dir, ".tmp", crate::fs::PRIVATE)
        .map_err(|e| e.lift(Error::io))?;
    let mut zip = zip::ZipWriter::new(tmp);
    let zerr = |e: zip::result::ZipError| Error::Zip {
        what: "writing".into(),
        reason: e.to_string(),
    };
    let mut buf = vec![0u8; 64 * 1024];
    for e in order {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644)
            .system(zip::System::Unix)
            .large_file(e.bytes >= u64::from(u32::MAX));
        zip.start_file(e.path.as_str(), options).map_err(zerr)?;
        let werr = |err| Error::io("writing", out, err);
        if e.path == MANIFEST {
            parts.write_pretty(&mut zip)?;
        } else if e.path == README {
            zip.write_all(README_TEXT.as_bytes()).map_err(werr)?;
        } else {
            copy_checked(e, sources[e.path.as_str()], &mut zip, &mut buf, out)?;
        }
    }
    let tmp = zip.finish().map_err(zerr)?;
    let bytes = tmp
        .as_file()
        .metadata()
        .map_err(|e| Error::io("reading", out, e))?
        .len();
    Ok((tmp, bytes))
}

/// Copies `src` into the open entry, failing when its bytes are no longer those hashed.
fn copy_checked(
    e: &EntryDigest,
    src: &Path,
    zip: &mut impl Write,
    buf: &mut [u8],
    out: &Path,
) -> Result<(), Error> {
    let mut f = std::fs::File::open(src).map_err(|err| Error::io("reading", src, err))?;
    let mut h = sha2::Sha256::new();
    loop {
        let n = f.read(buf).map_err(|err| Error::io("reading", src, err))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        zip.write_all(&buf[..n])
            .map_err(|err| Error::io("writing", out, err))?;
    }
    let sha = hex::encode(h.finalize());
    if sha != e.sha256 {
        // The file changed between the two passes; the manifest would lie.
        return Err(Error::Entry {
            name: e.path.clone(),
            expected: e.sha256.clone(),
            found: format!("{sha} (changed while bundling)"),
        });
    }
    Ok(())
}

/// Moves the finished, synced temp file to `out` (the one place the bundle file appears).
fn persist(tmp: crate::fs::Staged, out: &Path) -> Result<(), Error> {
    tmp.commit(out).map_err(|e| e.lift(Error::io))
}

fn hash(path: &Path) -> Result<(u64, Digest), Error> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| Error::io("reading", path, e))?
        .len();
    let d = graph::hash_file(path).map_err(|e| Error::io("reading", path, e))?;
    Ok((bytes, d))
}
