//! Pictures of what msez verified, drawn without external tools (no graphviz).
//!
//! - [`svg`]: the chain picture (receipts, links, checkpoints, gaps, forks, anchors, collapsed
//!   runs, legend) and the closure picture, as self-contained SVG.
//! - [`forks`]: a fork-inspect report as that chain picture (its fork branches below the
//!   line) and as DOT, both collapsed to about [`svg::MAX_NODES`] nodes.
//! - [`dot`]: a chain picture as a Graphviz cluster (a bundle's chains in `graph verify`'s DOT).
//! - [`graphviz`]: `--format dot --render FILE` through graphviz `dot`, for those who have it.
//!
//! One renderer serves every graph command and `msez audit --html`. A general layout engine
//! is not used: chains are lines (a snake of rows is their whole layout) and a closure is a
//! fan from one root to its artifact types, so neither needs graph layout, and the layout
//! crates that were candidates (layout-rs) would add a dependency to draw what a few
//! coordinates already place (docs/forks.md, "Pictures").

pub mod dot;
pub mod forks;
pub mod graphviz;
pub mod svg;

use std::path::PathBuf;

use crate::taxonomy::{Class, Classify, Detail};

/// Rendering failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--format dot --render FILE` but graphviz is not installed.
    #[error(
        "cannot render {}: graphviz `dot` is not installed (or not on PATH); use --format svg, which msez draws itself",
        path.display()
    )]
    GraphvizMissing { path: PathBuf },
    /// graphviz ran and failed.
    #[error("graphviz `dot` failed to render {}: {why}", path.display())]
    GraphvizFailed { path: PathBuf, why: String },
}

impl Classify for Error {
    fn class(&self) -> Class {
        Class::Io
    }

    fn code(&self) -> &'static str {
        match self {
            Error::GraphvizMissing { .. } => "io.graphviz_missing",
            Error::GraphvizFailed { .. } => "io.graphviz_failed",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::GraphvizMissing { path } | Error::GraphvizFailed { path, .. } => {
                Detail::path(path)
            }
        }
    }
}
