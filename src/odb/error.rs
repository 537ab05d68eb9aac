//! Repository errors.

use std::path::PathBuf;

use crate::taxonomy::{Class, Classify, Detail};

/// Why a repository operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `.msez` in the directory or its parents.
    #[error("not an msez repository (or any parent): {} (run `msez init` first)", start.display())]
    NotARepository { start: PathBuf },
    /// `msez init` where a repository already is.
    #[error("a repository already exists at {}", path.display())]
    AlreadyExists { path: PathBuf },
    /// A file or directory operation failed.
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The object is not in the repository.
    #[error("object {object} not found")]
    Missing { object: String },
    /// A stored file's content does not match the digest that names it.
    #[error("{object}: content digest mismatch ({method})")]
    Corrupt {
        object: String,
        path: PathBuf,
        method: &'static str,
        expected: String,
        found: String,
    },
    /// An object declares a digest (`next_root`, `asset_id`, ...) that its content does not give.
    #[error("{field} mismatch: {object}: declared {declared} computed {computed}")]
    DeclaredMismatch {
        object: String,
        field: &'static str,
        declared: String,
        computed: String,
    },
    /// The object's JSON could not be parsed or canonicalized.
    #[error("{object}")]
    Canon {
        object: String,
        #[source]
        source: crate::canon::Error,
    },
    /// An artifact name or type is invalid.
    #[error(transparent)]
    Artifact(#[from] crate::artifact::Error),
    /// A transaction journal that does not parse or whose objects do not match their digests.
    #[error("journal {} is damaged: {why} (nothing was completed from it; see docs/errors.md)", path.display())]
    BadJournal { path: PathBuf, why: String },
    /// A transaction journal whose ref moved elsewhere since: completing it would fork.
    #[error("journal {} moves ref {name} {moves}, but the ref holds {found} (not completed)", path.display())]
    JournalConflict {
        path: PathBuf,
        name: String,
        /// `from <old> to <new>`.
        moves: String,
        found: String,
    },
    /// A ref name that is not `refs/...` with safe components.
    #[error("invalid ref name {name:?}: {why}")]
    BadRefName { name: String, why: &'static str },
    /// A ref file that does not hold one digest.
    #[error("ref {name} is corrupt: {found:?}")]
    BadRefValue { name: String, found: String },
    /// A file under `.msez/refs` whose name is not a valid ref name (on-disk damage, not usage).
    #[error("{path:?} is not a valid ref file: {why}")]
    BadRefFile { path: PathBuf, why: &'static str },
    /// A ref that does not exist (`log`, `reflog`, `show` of an absent or misspelled ref).
    #[error("ref {name} does not exist")]
    MissingRef { name: String },
    /// A symlink inside `.msez` where msez would write through it (out of the repository).
    #[error("{} is a symlink: msez does not write through symlinks inside .msez", path.display())]
    Symlink { path: PathBuf },
    /// Someone else holds the ref's lock.
    #[error("ref {name} is locked by {} (held {age_secs}s by a running writer; retry when it is done)", path.display())]
    Locked {
        name: String,
        path: PathBuf,
        age_secs: u64,
    },
    /// The ref did not hold the expected value when we looked under the lock.
    #[error("ref {name} moved: expected {expected}, found {found}")]
    RefMoved {
        name: String,
        expected: String,
        found: String,
    },
    /// A pre-event hook exited non-zero (or timed out); nothing was written.
    #[error("hook {event} rejected the operation ({status}){}", if stderr.is_empty() { String::new() } else { format!(": {}", stderr.trim()) })]
    HookRejected {
        event: &'static str,
        status: String,
        stderr: String,
    },
    /// A pack file whose trailer or index is not well formed (a torn or foreign file).
    #[error("pack {} is damaged: {why}", path.display())]
    BadPack { path: PathBuf, why: &'static str },
    /// A pack file whose content does not give the BLAKE3 checksum in its trailer.
    #[error("pack {} is damaged: its content does not match its checksum (blake3)", path.display())]
    PackChecksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// `.msez/config` does not parse or names an unknown format.
    #[error("invalid repository config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
}

impl Error {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::BadJournal { .. } => Class::Schema,
            Error::JournalConflict { .. } => Class::Fork,
            Error::NotARepository { .. }
            | Error::AlreadyExists { .. }
            | Error::BadRefName { .. } => Class::Usage,
            Error::Io { .. } => Class::Io,
            Error::Missing { .. } | Error::MissingRef { .. } => Class::Missing,
            Error::Corrupt { .. }
            | Error::DeclaredMismatch { .. }
            | Error::BadPack { .. }
            | Error::PackChecksum { .. } => Class::Digest,
            Error::Canon { source, .. } => source.class(),
            Error::Artifact(e) => e.class(),
            Error::BadRefValue { .. }
            | Error::BadRefFile { .. }
            | Error::Symlink { .. }
            | Error::Config { .. } => Class::Schema,
            Error::Locked { .. } | Error::RefMoved { .. } | Error::HookRejected { .. } => {
                Class::Conflict
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::BadJournal { .. } => "schema.journal",
            Error::JournalConflict { .. } => "fork.journal",
            Error::NotARepository { .. } => "usage.not_a_repository",
            Error::AlreadyExists { .. } => "usage.repository_exists",
            Error::Io { .. } => "io.file",
            Error::Missing { .. } => "missing.object",
            Error::Corrupt { .. } => "digest.object_mismatch",
            Error::DeclaredMismatch {
                field: "next_root", ..
            } => "digest.next_root_mismatch",
            Error::DeclaredMismatch { .. } => "digest.declared_mismatch",
            Error::Canon { source, .. } => source.code(),
            Error::Artifact(e) => e.code(),
            Error::BadRefName { .. } => "usage.bad_ref_name",
            Error::BadRefValue { .. } => "schema.bad_ref_value",
            Error::Locked { .. } => "conflict.locked",
            Error::RefMoved { .. } => "conflict.ref_moved",
            Error::HookRejected { .. } => "conflict.hook_rejected",
            Error::Config { .. } => "schema.config",
            Error::BadPack { .. } | Error::PackChecksum { .. } => "digest.pack",
            Error::BadRefFile { .. } => "schema.bad_ref_file",
            Error::MissingRef { .. } => "missing.ref",
            Error::Symlink { .. } => "schema.symlink",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::BadJournal { path, .. } => Detail::path(path),
            Error::JournalConflict {
                path, moves, found, ..
            } => Detail {
                path: Some(path.clone()),
                ..Detail::default()
            }
            .mismatch(moves, found),
            Error::NotARepository { start } => Detail::path(start),
            Error::AlreadyExists { path } | Error::Io { path, .. } => Detail::path(path),
            Error::Missing { object } => Detail::object(object.clone()),
            Error::Corrupt {
                object,
                path,
                expected,
                found,
                ..
            } => Detail {
                object: Some(object.clone()),
                path: Some(path.clone()),
                ..Detail::default()
            }
            .mismatch(expected, found),
            Error::DeclaredMismatch {
                object,
                declared,
                computed,
                ..
            } => Detail::object(object.clone()).mismatch(computed, declared),
            Error::Canon { object, source } => Detail {
                object: Some(object.clone()),
                ..source.detail()
            },
            Error::Artifact(e) => e.detail(),
            Error::BadRefName { name, .. } => Detail::object(name.clone()),
            Error::BadRefValue { name, found } => {
                Detail::object(name.clone()).mismatch("64 lowercase hex + LF", found)
            }
            Error::Locked { name, path, .. } => Detail {
                object: Some(name.clone()),
                path: Some(path.clone()),
                ..Detail::default()
            },
            Error::RefMoved {
                name,
                expected,
                found,
            } => Detail::object(name.clone()).mismatch(expected, found),
            Error::HookRejected { event, .. } => Detail::object(format!("hooks/{event}")),
            Error::Config { path, .. }
            | Error::BadPack { path, .. }
            | Error::BadRefFile { path, .. }
            | Error::Symlink { path } => Detail::path(path),
            Error::PackChecksum {
                path,
                expected,
                found,
            } => Detail::path(path).mismatch(expected, found),
            Error::MissingRef { name } => Detail::object(name.clone()),
        }
    }
}
