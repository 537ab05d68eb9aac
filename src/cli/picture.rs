//! `--format svg|dot` and `--render FILE` of the graph commands (`artifact graph verify`,
//! `asset|corridor state fork-inspect`, `log`): SVG is drawn by msez (`msez::render`), DOT is
//! printed and, with `--render`, rendered by graphviz `dot`.

use std::path::Path;

use super::{Ctx, Result, written};

/// `--render` draws a picture: it goes with svg (which it implies) or dot only.
pub fn check_render(render: bool, picture: bool) -> Result<()> {
    if render && !picture {
        return Err(msez::Error::Usage(
            "--render writes a picture: use it alone or with --format svg or --format dot".into(),
        ));
    }
    Ok(())
}

/// Writes an SVG picture to `--render FILE`, else to stdout.
pub fn emit_svg(svg: &str, render: Option<&Path>, ctx: &Ctx) -> Result<()> {
    match render {
        Some(file) => write(svg.as_bytes(), &ctx.path(file), ctx),
        None => written(ctx.out.raw(svg.as_bytes())),
    }
}

/// Prints DOT; with `--render FILE` renders it with graphviz first, and fails (74, no file
/// written) when graphviz is missing or fails.
pub fn emit_dot(dot: &str, render: Option<&Path>, ctx: &Ctx) -> Result<()> {
    if let Some(file) = render {
        let path = ctx.path(file);
        let bytes = msez::render::graphviz::render(dot, &path)?;
        write(&bytes, &path, ctx)?;
    }
    written(ctx.out.raw(dot.as_bytes()))
}

fn write(bytes: &[u8], path: &Path, ctx: &Ctx) -> Result<()> {
    // In place: the user may name a pipe or a device.
    msez::fs::write_in_place(path, bytes).map_err(|e| e.lift(msez::Error::io))?;
    ctx.out.note(format!("rendered {}", path.display()));
    Ok(())
}
