//! What a person types for a digest: the full 64 hex, or a unique prefix of at least
//! [`MIN_PREFIX`] hex (as git takes abbreviated object names). A prefix that names more than
//! one candidate is a usage error listing them; one that names none is missing.

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::Digest;
use crate::odb::Repo;

use super::Error;

/// The shortest prefix taken (git's default abbreviation).
pub const MIN_PREFIX: usize = 7;

/// Whether `typed` looks like a digest or a prefix of one (7 to 64 hex digits).
pub fn is_prefix(typed: &str) -> bool {
    (MIN_PREFIX..=64).contains(&typed.len()) && typed.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The one candidate beginning with `typed` (case-insensitive); `what` names the candidates in
/// errors ("object", "asset").
pub fn unique<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> Result<String, Error> {
    let prefix = typed.to_ascii_lowercase();
    if !is_prefix(&prefix) && Digest::parse_loose(typed).is_err() {
        return Err(Error::BadPrefix {
            typed: typed.to_string(),
        });
    }
    let mut found: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    match found.len() {
        0 => Err(Error::NoMatch {
            prefix,
            what: what.into(),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(Error::AmbiguousPrefix {
            prefix,
            candidates: found,
        }),
    }
}

/// Resolves `TYPE:DIGEST` whose digest may be a unique prefix among stored objects of TYPE, or
/// a bare prefix among every stored object (candidates named `TYPE:DIGEST`).
pub fn object(repo: &Repo, typed: &str) -> Result<ObjectId, Error> {
    let (t, d) = match typed.split_once(':') {
        Some((t, d)) => (Some(ArtifactType::new(t)?), d),
        None => (None, typed),
    };
    if let (Some(t), Ok(digest)) = (&t, Digest::parse_loose(d)) {
        return Ok(ObjectId::new(t.clone(), digest));
    }
    if !is_prefix(d) {
        return Err(Error::BadPrefix {
            typed: typed.to_string(),
        });
    }
    let ids: Vec<String> = repo
        .list_objects()?
        .into_iter()
        .flatten()
        .filter(|id| t.as_ref().is_none_or(|t| &id.artifact_type == t))
        .map(|id| id.to_string())
        .collect();
    let lowered = d.to_ascii_lowercase();
    let mut found: Vec<&String> = ids
        .iter()
        .filter(|id| {
            id.split_once(':')
                .is_some_and(|(_, h)| h.starts_with(&lowered))
        })
        .collect();
    found.dedup();
    match found.len() {
        0 => Err(Error::NoMatch {
            prefix: typed.to_string(),
            what: "stored object".into(),
        }),
        1 => Ok(found[0].parse()?),
        _ => Err(Error::AmbiguousPrefix {
            prefix: typed.to_string(),
            candidates: found.into_iter().cloned().collect(),
        }),
    }
}

/// A digest typed for an object of type `t` (a receipt next_root, a checkpoint): the full 64
/// hex, or a unique prefix among the stored objects of that type.
pub fn digest_of(repo: &Repo, t: &ArtifactType, typed: &str) -> Result<Digest, Error> {
    if let Ok(d) = Digest::parse_loose(typed) {
        return Ok(d);
    }
    Ok(object(repo, &format!("{t}:{typed}"))?.digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_resolve_uniquely_or_list_the_candidates() {
        let c = ["abcdef0123", "abcdef9999", "1234567aaa"];
        assert_eq!(unique("1234567", c, "x").unwrap(), "1234567aaa");
        assert_eq!(unique("ABCDEF9", c, "x").unwrap(), "abcdef9999");
        assert_eq!(unique("abcdef0", c, "x").unwrap(), "abcdef0123");
        // 6 hex is too short to be taken as a prefix at all.
        assert!(matches!(
            unique("abcdef", c, "x"),
            Err(Error::BadPrefix { .. })
        ));
    }

    #[test]
    fn an_ambiguous_prefix_names_every_candidate() {
        let c = ["abcdef0123", "abcdef0999"];
        let Err(Error::AmbiguousPrefix { candidates, .. }) = unique("abcdef0", c, "x") else {
            panic!("not ambiguous");
        };
        assert_eq!(candidates, ["abcdef0123", "abcdef0999"]);
        assert!(matches!(
            unique("fffffff", c, "x"),
            Err(Error::NoMatch { .. })
        ));
    }
}
