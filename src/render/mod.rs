//! Pictures of what msez verified, drawn without external tools (no graphviz).
//!
//! - [`svg`]: the chain picture (receipts, links, checkpoints, gaps, forks, anchors, collapsed
//!   runs, legend) and the closure picture, as self-contained SVG.

pub mod svg;
