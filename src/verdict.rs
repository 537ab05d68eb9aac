//! One verdict model for every verifier (docs/verdicts.md).
//!
//! A verification runs every check it can and collects [`Finding`]s; the verdict follows by
//! precedence: any definite failure (schema, digest, signature, fork) is `invalid`; otherwise
//! anything missing, pending, unreadable or cut short is `unknown`; otherwise `valid`. The exit
//! code of `invalid` is the lowest code among the invalid findings (so a missing artifact never
//! outranks a fork), 68 for `unknown`, 0 for `valid`.

use std::path::PathBuf;

use serde::Serialize;

use crate::taxonomy::{Class, Classify, Detail, Finding};

/// The three verdicts, ordered by precedence (the larger wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    Valid,
    /// Something needed is missing, pending or was not checked.
    Unknown,
    /// A definite failure.
    Invalid,
}

impl Verdict {
    /// The verdict one finding of `class` forces: definite failures are invalid, the rest
    /// (missing, io, anything that could not be decided) unknown.
    pub fn of_class(class: Class) -> Verdict {
        match class {
            Class::Schema | Class::Digest | Class::Signature | Class::Fork => Verdict::Invalid,
            _ => Verdict::Unknown,
        }
    }

    /// The lowercase name (`valid`, `unknown`, `invalid`).
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Unknown => "unknown",
            Verdict::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The verdict of a set of findings (valid when there are none).
pub fn verdict_of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Verdict {
    findings
        .into_iter()
        .map(|f| Verdict::of_class(f.class))
        .max()
        .unwrap_or(Verdict::Valid)
}

/// The exit code of a set of findings: the lowest code among the invalid ones, else 68 when any
/// is unknown, else 0.
pub fn exit_code<'a>(findings: impl IntoIterator<Item = &'a Finding> + Clone) -> u8 {
    let invalid = findings
        .clone()
        .into_iter()
        .filter(|f| Verdict::of_class(f.class) == Verdict::Invalid)
        .map(|f| f.class.exit_code())
        .min();
    match invalid {
        Some(code) => code,
        None if findings.into_iter().next().is_some() => Class::Missing.exit_code(),
        None => 0,
    }
}

/// fsck's exit code: 0 when there are no findings; else the lowest code among the definite
/// failures, so a missing object never outranks a fork; with none, the lowest code among the
/// others (68 missing, 74 io: fsck keeps telling damage it could not read from damage it found
/// absent).
pub fn lowest_code<'a>(findings: impl IntoIterator<Item = &'a Finding> + Clone) -> u8 {
    let lowest = |invalid: bool| {
        findings
            .clone()
            .into_iter()
            .filter(|f| (Verdict::of_class(f.class) == Verdict::Invalid) == invalid)
            .map(|f| f.class.exit_code())
            .min()
    };
    lowest(true).or_else(|| lowest(false)).unwrap_or(0)
}

/// A finding with the verdict it forces, as reports list them.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    /// The finding (class, code, message, path, expected, found).
    #[serde(flatten)]
    pub finding: Finding,
    /// `invalid` or `unknown`.
    pub effect: Verdict,
}

impl From<Finding> for Item {
    fn from(finding: Finding) -> Item {
        Item {
            effect: Verdict::of_class(finding.class),
            finding,
        }
    }
}

/// Everything a verification found, in the order found.
#[derive(Clone, Debug, Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// Records an error as a finding (every finding of an error that carries several).
    pub fn push<E: Classify + ?Sized>(&mut self, e: &E) {
        self.0.extend(Finding::all_of(e));
    }

    /// Records every error of `errors`.
    pub fn extend<'a, E: Classify + 'a>(&mut self, errors: impl IntoIterator<Item = &'a E>) {
        for e in errors {
            self.push(e);
        }
    }

    /// The verdict by precedence.
    pub fn verdict(&self) -> Verdict {
        verdict_of(&self.0)
    }

    /// The exit code (see [`exit_code`]).
    pub fn exit_code(&self) -> u8 {
        exit_code(&self.0)
    }

    /// The findings with their effects, for a report.
    pub fn items(&self) -> Vec<Item> {
        self.0.iter().cloned().map(Item::from).collect()
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A verification that found something, as one error: an operation that needs a verified
/// input refuses with every finding. It reads as its deciding finding, whose class is the exit
/// code's: the first of the lowest-coded invalid findings, else the first missing one (68),
/// else the first (an input that could not be read at all keeps its own class, io 74).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    findings: Vec<Finding>,
}

impl Refused {
    /// The refusal of `findings`; None when there are none (nothing to refuse).
    pub fn new(findings: Vec<Finding>) -> Option<Refused> {
        (!findings.is_empty()).then_some(Refused { findings })
    }

    /// Every finding, in the order found.
    pub fn all(&self) -> &[Finding] {
        &self.findings
    }

    /// The finding the refusal reads as (see [`Refused`]).
    pub fn deciding(&self) -> &Finding {
        let invalid = self
            .findings
            .iter()
            .filter(|f| Verdict::of_class(f.class) == Verdict::Invalid)
            .min_by_key(|f| f.class.exit_code());
        invalid
            .or_else(|| self.findings.iter().find(|f| f.class == Class::Missing))
            .unwrap_or(&self.findings[0])
    }

    /// The verdict by precedence (never valid).
    pub fn verdict(&self) -> Verdict {
        verdict_of(&self.findings)
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.deciding().message)
    }
}

impl std::error::Error for Refused {}

impl Classify for Refused {
    fn class(&self) -> Class {
        self.deciding().class
    }

    fn code(&self) -> &'static str {
        self.deciding().code
    }

    fn detail(&self) -> Detail {
        self.deciding().detail.clone()
    }

    fn findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }
}

/// Findings that only a whole verification can make (a check of one object cannot know them).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A chain that something claims is complete (a checkpoint covering it, a witness bundle)
    /// misses a receipt below its head: a definite failure there, not a pending one.
    #[error(
        "{what} claims the whole chain but the receipt at sequence {missing} is missing ({count} receipt(s) beyond it)"
    )]
    Incomplete {
        what: String,
        missing: u64,
        count: usize,
    },
    /// A closure walk stopped at its node limit before it was complete.
    #[error(
        "the closure walk stopped at {max_nodes} nodes before it was complete (raise --max-nodes)"
    )]
    CutShort { max_nodes: u64 },
    /// A bundle its writer marked partial (`--allow-partial`): it never verifies as valid.
    #[error(
        "bundle {what} is marked partial (written with --allow-partial): it does not carry the whole closure"
    )]
    Partial { what: String },
    /// Receipts trusted only through the anchors file the bundle itself ships.
    #[error(
        "{chain}: signers {signers:?} are trusted only by the bundle's own anchors file; give --trust-anchors to judge them"
    )]
    SelfTrusted { chain: String, signers: Vec<String> },
    /// A claim that cannot be checked with what is here.
    #[error("{what} cannot be checked: {why}")]
    Unchecked { what: String, why: String },
    /// A chain file that could not be read while verifying a bundle.
    #[error("{what} {}: {reason}", path.display())]
    Unreadable {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Incomplete { .. } => Class::Digest,
            Error::CutShort { .. }
            | Error::Partial { .. }
            | Error::SelfTrusted { .. }
            | Error::Unchecked { .. }
            | Error::Unreadable { .. } => Class::Missing,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Incomplete { .. } => "digest.incomplete_chain",
            Error::CutShort { .. } => "missing.cut_short",
            Error::Partial { .. } => "missing.partial_bundle",
            Error::SelfTrusted { .. } => "missing.auditor_trust",
            Error::Unreadable { .. } => "missing.chain_file",
            Error::Unchecked { .. } => "missing.unchecked",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Incomplete { what, missing, .. } => Detail::object(what.clone())
                .mismatch(format!("a receipt at sequence {missing}"), "none"),
            Error::CutShort { max_nodes } => {
                Detail::default().mismatch("a complete closure", format!("{max_nodes} nodes"))
            }
            Error::Partial { what } => Detail::object(what.clone()),
            Error::SelfTrusted { chain, signers } => Detail::object(chain.clone())
                .mismatch("a signer the auditor trusts", signers.join(", ")),
            Error::Unreadable { path, .. } => Detail::path(path),
            Error::Unchecked { what, .. } => Detail::object(what.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(class: Class) -> Finding {
        Finding {
            class,
            code: "x.y",
            message: String::new(),
            detail: Detail::default(),
        }
    }

    #[test]
    fn fsck_codes_put_definite_failures_first_then_the_lowest_other() {
        let code =
            |classes: &[Class]| lowest_code(&classes.iter().map(|c| f(*c)).collect::<Vec<_>>());
        assert_eq!(code(&[]), 0);
        assert_eq!(code(&[Class::Io]), 74);
        assert_eq!(code(&[Class::Io, Class::Missing]), 68);
        assert_eq!(
            code(&[Class::Missing, Class::Fork]),
            69,
            "a fork outranks a missing object"
        );
        assert_eq!(code(&[Class::Fork, Class::Schema, Class::Io]), 65);
    }

    #[test]
    fn a_refusal_reads_as_its_deciding_finding_and_carries_all() {
        assert!(Refused::new(Vec::new()).is_none());
        let r = Refused::new(vec![f(Class::Missing), f(Class::Fork), f(Class::Signature)]).unwrap();
        assert_eq!(
            r.class(),
            Class::Signature,
            "the lowest invalid code decides"
        );
        assert_eq!(r.findings().len(), 3);
        assert_eq!(r.verdict(), Verdict::Invalid);
        let r = Refused::new(vec![f(Class::Io), f(Class::Missing)]).unwrap();
        assert_eq!(r.class(), Class::Missing);
        assert_eq!(r.class().exit_code(), exit_code(r.all()));
        let r = Refused::new(vec![f(Class::Io)]).unwrap();
        assert_eq!(r.class(), Class::Io, "an unreadable input keeps its class");
        let mut all = Findings::default();
        all.push(&r);
        all.push(&Refused::new(vec![f(Class::Digest), f(Class::Schema)]).unwrap());
        assert_eq!(
            all.0.len(),
            3,
            "a refusal's findings are recorded one by one"
        );
    }

    #[test]
    fn invalid_dominates_unknown_and_the_lowest_invalid_code_wins() {
        assert_eq!(exit_code(&[]), 0);
        assert_eq!(exit_code(&[f(Class::Missing)]), 68);
        assert_eq!(exit_code(&[f(Class::Missing), f(Class::Fork)]), 69);
        assert_eq!(exit_code(&[f(Class::Fork), f(Class::Digest)]), 66);
        assert_eq!(exit_code(&[f(Class::Io)]), 68);
        assert_eq!(
            verdict_of(&[f(Class::Missing), f(Class::Signature)]),
            Verdict::Invalid
        );
        assert_eq!(verdict_of(&[f(Class::Missing)]), Verdict::Unknown);
    }
}
