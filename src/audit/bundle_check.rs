//! A witness bundle audited whole (closure, manifest, every chain it carries), and a bundle
//! built only when its module audits complete and valid.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use crate::bundle::{self, BundleReader};
use crate::canon::Value;
use crate::graph::{self, Report, Root};
use crate::progress::Progress;
use crate::verdict::{self, Findings, Verdict};

use super::*;

/// A verified bundle: the closure check, every chain, and all findings together.
#[derive(Debug)]
pub struct Audited {
    /// The closure and manifest check.
    pub checked: bundle::verify::Checked,
    /// One entry per receipt chain under `root/`.
    pub chains: Vec<ChainReport>,
    /// Every finding: the walk's, the partial mark's, every chain's.
    pub findings: Findings,
}

impl Audited {
    /// The verdict by precedence over every finding.
    pub fn verdict(&self) -> Verdict {
        self.findings.verdict()
    }

    /// The exit code (crate::verdict::exit_code).
    pub fn exit_code(&self) -> u8 {
        self.findings.exit_code()
    }

    /// The report document: the reference's report shape plus `verdict`, `exit_code`,
    /// `partial`, `chains` and `findings`.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(&self.checked.report).unwrap_or_default();
        // The error document's field, for the first content-against-manifest difference.
        if let Some(f) = self.checked.findings.first() {
            v["error"] = serde_json::to_value(f).unwrap_or_default();
        }
        // The manifest's entry list is kept typed (it grows with the bundle).
        if let Some(b) = v.get_mut("bundle").and_then(Value::as_object_mut) {
            b.insert(
                "entries".into(),
                serde_json::to_value(&self.checked.entries).unwrap_or_default(),
            );
        }
        v["verdict"] = self.verdict().name().into();
        v["exit_code"] = self.exit_code().into();
        v["partial"] =
            (self.checked.report.partial || manifest_partial(&self.checked.manifest)).into();
        v["chains"] = serde_json::to_value(&self.chains).unwrap_or_default();
        v["findings"] = serde_json::to_value(self.findings.items()).unwrap_or_default();
        v
    }
}

/// Chains of at most this many bytes are unpacked into memory-backed `/dev/shm`.
const SHM_STAGING_MAX: u64 = 256 << 20;

/// Where a bundle's chains are unpacked: creating thousands of small files on a disk that has
/// just seen heavy churn costs up to 0.35 ms each (ext4 inode allocation), 20x the whole chain
/// check, so a chain that fits a bounded budget goes to `/dev/shm` when it exists; larger ones,
/// and machines without it, use the temp dir (TMPDIR).
fn staging_dir(bytes: u64) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if bytes <= SHM_STAGING_MAX
        && std::env::var_os("TMPDIR").is_none()
        && free_bytes(shm).is_some_and(|free| free / 2 > bytes)
    {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Bytes free to an unprivileged writer on the file system holding `dir` (None: not there).
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` is a valid out-pointer for one statvfs,
    // read only after the call reports success.
    let st = unsafe {
        if libc::statvfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

pub(super) fn manifest_partial(manifest: &Value) -> bool {
    manifest.get("partial").and_then(Value::as_bool) == Some(true)
}

/// Verifies a bundle whole: the closure and manifest ([`bundle::verify::verify`]; a bundle
/// whose content contradicts its manifest is an error), then every chain under `root/`,
/// unpacked into a private temporary directory.
pub fn verify_bundle<R: Read + Seek>(
    reader: &mut BundleReader<R>,
    label: &str,
    trust: &TrustSource,
    progress: &dyn Progress,
) -> Result<Audited, bundle::Error> {
    let checked = bundle::verify::verify(reader, label, progress)?;
    let mut findings = Findings(checked.report.findings());
    findings.0.extend(checked.findings.iter().cloned());
    if manifest_partial(&checked.manifest) {
        findings.push(&verdict::Error::Partial {
            what: label.to_string(),
        });
    }
    let roots: Vec<&bundle::Entry> = reader
        .entries()
        .iter()
        .filter(|e| e.name.starts_with("root/") && !e.name.ends_with('/'))
        .collect();
    let staged: u64 = roots.iter().map(|e| e.size).sum();
    let names: Vec<String> = roots.iter().map(|e| e.name.clone()).collect();
    let base = staging_dir(staged);
    let tmp = tempfile::Builder::new()
        .prefix("msez-audit-")
        .tempdir_in(&base)
        .map_err(|e| bundle::Error::io("creating a temp dir in", &base, e))?;
    for name in names {
        // Names passed the reader's zip-slip checks; root files are documents (≤ 64 MiB).
        let dest = tmp.path().join(&name);
        let bytes = match reader.read_entry(&name, crate::canon::MAX_JSON_BYTES as u64) {
            Ok(b) => b,
            Err(e) => {
                findings.push(&verdict::Error::Unreadable {
                    what: "reading bundle entry",
                    path: PathBuf::from(&name),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| bundle::Error::io("creating", parent, e))?;
        }
        crate::fs::write_in_place(&dest, &bytes).map_err(|e| e.lift(bundle::Error::io))?;
    }
    let claims = Claims {
        complete: !manifest_partial(&checked.manifest),
        files_complete: checked.manifest["root"]["files_truncated"] != Value::Bool(true),
    };
    let mut chains = check_chains(&tmp.path().join("root"), trust, claims);
    for c in &mut chains {
        // check_chains named the top directory `root`: the module dirs are under it.
        c.module = match c.module.as_str() {
            "root" => "root".to_string(),
            m => format!("root/{m}"),
        };
        findings
            .0
            .extend(c.findings.iter().map(|i| i.finding.clone()));
    }
    Ok(Audited {
        checked,
        chains,
        findings,
    })
}

/// Opens a bundle file and verifies it whole (see [`verify_bundle`]).
pub fn verify_bundle_file(
    path: &Path,
    trust: &TrustSource,
    progress: &dyn Progress,
) -> Result<Audited, bundle::Error> {
    let f = std::fs::File::open(path).map_err(|e| bundle::Error::io("opening", path, e))?;
    let mut reader = BundleReader::open(std::io::BufReader::new(f), bundle::verify::limits())?;
    verify_bundle(&mut reader, &path.display().to_string(), trust, progress)
}

/// What a bundle build did.
#[derive(Debug)]
pub enum Build {
    /// The bundle was written (marked partial when it is).
    Written {
        /// The bundle.
        built: bundle::write::Built,
        /// The module's chains as checked before writing.
        chains: Vec<ChainReport>,
        /// Every finding (empty for a complete, valid bundle).
        findings: Findings,
    },
    /// Nothing was written: the closure was cut short or a chain does not verify.
    Refused {
        /// The walk.
        report: Report,
        /// The module's chains.
        chains: Vec<ChainReport>,
        /// Why.
        findings: Findings,
    },
}

/// Walks `root`, checks the chains of the modules it holds, and writes the bundle only when
/// all is valid, or, with `allow_partial`, anyway, marked `partial` in the manifest.
pub fn build_bundle(
    root: &Root,
    opts: &graph::Options,
    out: &Path,
    allow_partial: bool,
    progress: &dyn Progress,
) -> Result<Build, bundle::Error> {
    let mut report = bundle::write::walk(root, opts, progress)?;
    let mut findings = Findings(report.findings());
    let chains = match root {
        Root::Dir(dir) => check_chains(
            dir,
            &TrustSource::Module,
            Claims {
                complete: true,
                files_complete: true,
            },
        ),
        _ => Vec::new(),
    };
    for c in &chains {
        findings
            .0
            .extend(c.findings.iter().map(|i| i.finding.clone()));
    }
    if !findings.is_empty() {
        if !allow_partial {
            return Ok(Build::Refused {
                report,
                chains,
                findings,
            });
        }
        report.partial = true;
    }
    let built = bundle::write::write(report, root, out)?;
    Ok(Build::Written {
        built,
        chains,
        findings,
    })
}
