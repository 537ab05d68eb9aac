//! DOT through graphviz `dot`, for `--format dot --render FILE`: the only picture that needs an
//! external tool (`--format svg` is drawn by [`super::svg`]).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use super::Error;

/// Renders `dot` with graphviz into the format `out`'s extension names (svg when it has none)
/// and returns the bytes; the caller writes them, so a failure leaves no file behind.
pub fn render(dot: &str, out: &Path) -> Result<Vec<u8>, Error> {
    let fmt = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("svg")
        .to_string();
    let failed = |why: String| Error::GraphvizFailed {
        path: out.to_path_buf(),
        why,
    };
    let mut child = Command::new("dot")
        .arg(format!("-T{fmt}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                Error::GraphvizMissing {
                    path: out.to_path_buf(),
                }
            }
            _ => failed(e.to_string()),
        })?;
    // Feed stdin from a thread: dot may start writing before it has read everything.
    let mut stdin = child.stdin.take();
    let input = dot.as_bytes().to_vec();
    let feeder = std::thread::spawn(move || {
        if let Some(w) = stdin.as_mut() {
            let _ = w.write_all(&input);
        }
    });
    let mut bytes = Vec::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_end(&mut bytes)
            .map_err(|e| failed(e.to_string()))?;
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = feeder.join();
    let status = child.wait().map_err(|e| failed(e.to_string()))?;
    if !status.success() {
        let first = err.lines().next().unwrap_or("").trim().to_string();
        return Err(failed(if first.is_empty() {
            status.to_string()
        } else {
            first
        }));
    }
    Ok(bytes)
}
