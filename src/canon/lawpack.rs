//! The lawpack v1 digest (msez-wire-format.md §1.2): a lawpack zip is named by its parts, not
//! its bytes, so re-zipping or reformatting never changes it.
//!
//! `SHA256("msez-lawpack-v1" 0x00 || for each part, by path: path 0x00 canonical 0x00)`, where
//! the parts are `lawpack.yaml` and `index.json` (parsed, then canonical JSON) and every
//! `akn/**/*.xml` (Exclusive XML C14N 1.0 without comments). Other entries are not parts.

use std::io::{Read, Seek};

use sha2::Digest as _;

use super::{Digest, Error, to_bytes};

/// The largest part msez canonicalizes (a lawpack is documents, not data).
pub const MAX_PART_BYTES: u64 = 256 << 20;

/// Which parts count, and how each is canonicalized.
fn part_kind(path: &str) -> Option<Part> {
    match path {
        "lawpack.yaml" => Some(Part::Yaml),
        "index.json" => Some(Part::Json),
        p if p.starts_with("akn/")
            && p.ends_with(".xml")
            && !p.split('/').any(|c| c == ".." || c.is_empty()) =>
        {
            Some(Part::Xml)
        }
        _ => None,
    }
}

enum Part {
    Yaml,
    Json,
    Xml,
}

fn bad(path: &str, why: impl std::fmt::Display) -> Error {
    Error::Parse {
        line: 0,
        column: 0,
        message: format!("lawpack part {path}: {why}"),
    }
}

/// The lawpack v1 digest of a lawpack zip.
pub fn lawpack_digest<R: Read + Seek>(zip: R) -> Result<Digest, Error> {
    let mut archive = zip::ZipArchive::new(zip).map_err(|e| bad("(zip)", e))?;
    let mut parts: Vec<(String, usize)> = Vec::new();
    for i in 0..archive.len() {
        let name = match archive.name_for_index(i) {
            Some(Ok(n)) => n.to_string(),
            Some(Err(e)) => return Err(bad("(zip)", e)),
            None => continue,
        };
        if part_kind(&name).is_some() {
            parts.push((name, i));
        }
    }
    parts.sort();
    if parts.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(bad("(zip)", "duplicate entry names"));
    }
    let mut h = sha2::Sha256::new();
    h.update(b"msez-lawpack-v1\0");
    for (path, i) in parts {
        let mut entry = archive.by_index(i).map_err(|e| bad(&path, e))?;
        let mut raw = Vec::new();
        (&mut entry)
            .take(MAX_PART_BYTES + 1)
            .read_to_end(&mut raw)
            .map_err(|e| bad(&path, e))?;
        if raw.len() as u64 > MAX_PART_BYTES {
            return Err(bad(&path, format!("larger than {MAX_PART_BYTES} bytes")));
        }
        let canonical = match part_kind(&path).expect("filtered above") {
            Part::Json => to_bytes(&super::parse(&raw)?)?,
            Part::Yaml => {
                let value: super::Value =
                    serde_yaml_ng::from_slice(&raw).map_err(|e| bad(&path, e))?;
                to_bytes(&value)?
            }
            Part::Xml => {
                let algo =
                    xml_sec::c14n::C14nAlgorithm::new(xml_sec::c14n::C14nMode::Exclusive1_0, false);
                xml_sec::c14n::canonicalize_xml(&raw, &algo).map_err(|e| bad(&path, e))?
            }
        };
        h.update(path.as_bytes());
        h.update([0]);
        h.update(&canonical);
        h.update([0]);
    }
    Ok(Digest(h.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &str)]) -> std::io::Cursor<Vec<u8>> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        std::io::Cursor::new(w.finish().unwrap().into_inner())
    }

    #[test]
    fn the_digest_follows_the_parts_not_the_bytes() {
        let a = zip_of(&[
            ("lawpack.yaml", "name: x\nversion: 1\n"),
            ("index.json", "{ \"b\": 1, \"a\": 2 }"),
            (
                "akn/act.xml",
                "<?xml version=\"1.0\"?>\n<!-- note --><act b='2' a=\"1\"><p/></act>",
            ),
            ("README.md", "not a part"),
        ]);
        let b = zip_of(&[
            ("akn/act.xml", "<act a=\"1\" b=\"2\"><p></p></act>"),
            ("index.json", "{\"a\":2,\"b\":1}"),
            ("lawpack.yaml", "{version: 1, name: x}"),
        ]);
        let mut h = sha2::Sha256::new();
        h.update(b"msez-lawpack-v1\0");
        for (p, c) in [
            ("akn/act.xml", "<act a=\"1\" b=\"2\"><p></p></act>"),
            ("index.json", "{\"a\":2,\"b\":1}"),
            ("lawpack.yaml", "{\"name\":\"x\",\"version\":1}"),
        ] {
            h.update(p.as_bytes());
            h.update([0]);
            h.update(c.as_bytes());
            h.update([0]);
        }
        let want = Digest(h.finalize().into());
        assert_eq!(lawpack_digest(a).unwrap(), want);
        assert_eq!(lawpack_digest(b).unwrap(), want);
    }

    #[test]
    fn a_changed_clause_changes_the_digest() {
        let a = zip_of(&[("akn/act.xml", "<act>1</act>")]);
        let b = zip_of(&[("akn/act.xml", "<act>2</act>")]);
        assert_ne!(lawpack_digest(a).unwrap(), lawpack_digest(b).unwrap());
    }
}
