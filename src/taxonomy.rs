//! The error taxonomy: every failure is one of eight classes, each with an exit code.
//!
//! The ground types every module's error is built from, at the bottom of the crate: module errors
//! (`canon::Error`, `odb::Error`, ...) implement [`Classify`]; verifiers turn them into
//! [`Finding`]s; the CLI turns any of them into an exit code and, with `--json`, into the error
//! document of ARCHITECTURE.md. This module depends on nothing else in the crate.

use std::path::PathBuf;

use serde::Serialize;

/// The class of a failure; decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Bad flags, bad arguments, bad URL.
    Usage,
    /// Input does not parse, is not canonical-able, or does not match its schema.
    Schema,
    /// Bytes do not match the digest that names them.
    Digest,
    /// A bad, missing or untrusted proof.
    Signature,
    /// An artifact is not in any store root (verdict `unknown`).
    Missing,
    /// Two next_roots for one (sequence, prev_root) without a resolution.
    Fork,
    /// A ref moved under us, a lock is held, a push is not a fast-forward.
    Conflict,
    /// Disk, network and backend failures.
    Io,
}

impl Class {
    /// The process exit code of this class (sysexits-like, see ARCHITECTURE.md).
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Usage => 64,
            Class::Schema => 65,
            Class::Digest => 66,
            Class::Signature => 67,
            Class::Missing => 68,
            Class::Fork => 69,
            Class::Conflict => 70,
            Class::Io => 74,
        }
    }

    /// The class name as in `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            Class::Usage => "usage",
            Class::Schema => "schema",
            Class::Digest => "digest",
            Class::Signature => "signature",
            Class::Missing => "missing",
            Class::Fork => "fork",
            Class::Conflict => "conflict",
            Class::Io => "io",
        }
    }

    /// Every class, in exit-code order.
    pub const ALL: [Class; 8] = [
        Class::Usage,
        Class::Schema,
        Class::Digest,
        Class::Signature,
        Class::Missing,
        Class::Fork,
        Class::Conflict,
        Class::Io,
    ];
}

/// The evidence an error carries: which object, where, and what was expected vs found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Detail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

impl Detail {
    /// Detail naming only an object.
    pub fn object(object: impl Into<String>) -> Self {
        Detail {
            object: Some(object.into()),
            ..Default::default()
        }
    }

    /// Detail naming only a path.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Detail {
            path: Some(path.into()),
            ..Default::default()
        }
    }

    /// Adds expected and found values.
    pub fn mismatch(mut self, expected: impl ToString, found: impl ToString) -> Self {
        self.expected = Some(expected.to_string());
        self.found = Some(found.to_string());
        self
    }
}

/// Implemented by every module error: its class, a stable code, and its evidence.
pub trait Classify: std::error::Error {
    /// The taxonomy class.
    fn class(&self) -> Class;
    /// A stable machine-readable code, `<class>.<what>` (listed in docs/errors.md).
    fn code(&self) -> &'static str;
    /// The object, path and expected/found values the error is about.
    fn detail(&self) -> Detail {
        Detail::default()
    }
    /// Every finding an error that stands for several carries (a verification refused on
    /// all it found); empty for an error that is one finding.
    fn findings(&self) -> Vec<Finding> {
        Vec::new()
    }
}

/// One finding, as the `--json` error document and verify reports carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub class: Class,
    pub code: &'static str,
    pub message: String,
    #[serde(flatten)]
    pub detail: Detail,
}

impl Finding {
    /// The finding that describes `err`, with the whole cause chain in its message.
    pub fn from_error<E: Classify + ?Sized>(err: &E) -> Self {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Finding {
            class: err.class(),
            code: err.code(),
            message,
            detail: err.detail(),
        }
    }
}

impl Finding {
    /// Every finding `err` stands for: the ones it carries, else itself.
    pub fn all_of<E: Classify + ?Sized>(err: &E) -> Vec<Finding> {
        let carried = err.findings();
        if carried.is_empty() {
            vec![Finding::from_error(err)]
        } else {
            carried
        }
    }

    /// The class name (`digest`, `missing`, ...).
    pub fn class_name(&self) -> &'static str {
        self.class.name()
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
