//! The one place output is rendered: human text or exactly one JSON document on stdout.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use msez::taxonomy::{Classify, Finding};

/// How the command was asked to talk.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    /// `--json`: one JSON document on stdout, nothing else there.
    pub json: bool,
    /// `-q`: no human chatter (results and errors still print).
    pub quiet: bool,
    /// `-v`: more detail on stderr.
    pub verbose: bool,
    /// Whether progress bars may be drawn (stderr is a terminal and neither -q nor --no-progress).
    #[allow(dead_code)] // read by the long-running commands (fsck, sync) that draw bars
    pub progress: bool,
}

impl Out {
    /// Builds the output policy from the global flags.
    pub fn new(json: bool, quiet: bool, verbose: bool, no_progress: bool) -> Self {
        let progress = !quiet && !no_progress && !json && io::stderr().is_terminal();
        Out {
            json,
            quiet,
            verbose,
            progress,
        }
    }

    /// Prints `value` as JSON with `--json`, else runs `human` to write text to stdout.
    pub fn emit<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        // Stdout is line-buffered: a command listing 10k receipts would make 10k writes.
        let mut out = io::BufWriter::new(io::stdout().lock());
        if self.json {
            serde_json::to_writer_pretty(&mut out, value).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        } else {
            human(&mut out)?;
        }
        out.flush()
    }

    /// Writes raw bytes to stdout (canonical bytes, object contents).
    pub fn raw(&self, bytes: &[u8]) -> io::Result<()> {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        lock.write_all(bytes)?;
        lock.flush()
    }

    /// Like [`Out::emit`] for a confirmation of what a command did (init, push, fetch,
    /// remote add...): with `-q` the human text is dropped; `--json` still prints the document.
    pub fn confirm<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.quiet && !self.json {
            return Ok(());
        }
        self.emit(value, human)
    }

    /// A human note on stderr, unless quiet or in JSON mode. A closed stderr is ignored.
    pub fn note(&self, text: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            let _ = writeln!(io::stderr(), "{text}");
        }
    }

    /// A warning on stderr (`msez: warning: ...`), unless quiet or in JSON mode.
    pub fn warn(&self, text: impl std::fmt::Display) {
        self.note(format_args!("msez: warning: {text}"));
    }

    /// Prints an error once: the JSON error document on stdout, or `msez: <message>` on stderr.
    pub fn error<E: Classify + ?Sized>(&self, err: &E) {
        let finding = Finding::from_error(err);
        // An error standing for several findings lists them all (docs/verdicts.md).
        let all = err.findings();
        if self.json {
            let mut doc = serde_json::json!({ "error": finding });
            if !all.is_empty() {
                let items: Vec<msez::verdict::Item> = all.into_iter().map(Into::into).collect();
                doc["findings"] = serde_json::to_value(items).unwrap_or_default();
            }
            let _ = writeln!(
                io::stdout(),
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            );
        } else {
            // A closed stderr (`2>&1 | head`) is not worth a panic.
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "msez: {}", finding.message);
            let d = &finding.detail;
            if let (Some(expected), Some(found)) = (&d.expected, &d.found) {
                let _ = writeln!(err, "  expected: {expected}\n  found:    {found}");
            }
            for f in all.iter().filter(|f| **f != finding) {
                let _ = writeln!(err, "msez: also: {}", f.message);
            }
        }
    }
}
