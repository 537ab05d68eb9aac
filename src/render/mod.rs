//! Pictures of what msez verified, drawn without external tools (no graphviz).
//!
//! - [`layout`]: places boxes and routes links with the layout-rs crate (a Sugiyama layout).
//! - [`svg`]: what a chain picture shows, its collapsing of long runs, the shared SVG pieces.
//! - [`chain`]: the chain picture (receipts, links, checkpoints, gaps, forks, anchors,
//!   collapsed runs, legend); [`closure`]: the closure picture. Both self-contained SVG.
//! - [`forks`]: a fork-inspect report as that chain picture (its fork branches beside the
//!   line) and as DOT, both collapsed to about [`svg::MAX_NODES`] nodes.
//! - [`dot`]: a chain picture as a Graphviz cluster (a bundle's chains in `graph verify`'s DOT).
//! - [`graphviz`]: `--format dot --render FILE` through graphviz `dot`, for those who have it.
//!
//! One renderer serves every graph command and `msez audit --html`: the crate places, msez
//! draws (docs/forks.md, "Pictures").

pub mod chain;
pub mod closure;
pub mod dot;
pub mod forks;
pub mod graphviz;
pub mod layout;
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
