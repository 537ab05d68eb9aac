//! `msez audit TARGET`: the whole auditor checklist in one command (docs/auditor-guide.md).
//! The library audits ([`msez::audit`]); this renders the summary, the JSON report and the
//! self-contained HTML page.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use msez::audit::{self, AuditReport, ChainReport, TargetKind, TrustSource};
use msez::render::svg::{self, Status, esc};
use msez::verdict::{Item, Verdict};

use super::progress::Bar;
use super::{Ctx, written};

/// `msez audit` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A witness bundle (file or http(s) URL), a module directory (or a tree of modules), a
    /// repository's top directory, or a remote (`remote:NAME`, `s3://…`, `ipfs://…`).
    pub target: String,
    /// The auditor's trust anchors: they alone make signers trusted (without them a bundle's
    /// own anchors file gives at most `unknown`).
    #[arg(long, value_name = "FILE")]
    pub trust_anchors: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (no network: inline CSS and SVG).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Runs `msez audit`.
pub fn run(a: Args, ctx: &Ctx) -> super::Result<ExitCode> {
    let bar = Bar::new(&ctx.out, "auditing");
    let report = audit_target(&a, ctx, &bar)?;
    bar.finish();
    if let Some(path) = &a.html {
        let path = ctx.path(path);
        let page = html(&report, &a);
        // In place: the user may name a pipe or a device.
        msez::fs::write_in_place(&path, page.as_bytes()).map_err(|e| e.lift(msez::Error::io))?;
        ctx.out.note(format!("wrote {}", path.display()));
    }
    let value = report.to_value();
    written(ctx.out.emit(&value, |w| summary(&report, w)))?;
    Ok(ExitCode::from(report.exit_code()))
}

fn trust(a: &Args, bundle: bool, ctx: &Ctx) -> super::Result<TrustSource> {
    Ok(match &a.trust_anchors {
        Some(p) => {
            let (anchors, lifecycle) = super::state::load_trust(p, ctx)?;
            TrustSource::Auditor { anchors, lifecycle }
        }
        None if bundle => TrustSource::Bundle,
        None => TrustSource::Module,
    })
}

/// The remote a TARGET names: `remote:NAME` (a remote of the enclosing repository) or an
/// `s3://` / `ipfs://` URL.
fn remote_url(t: &str, ctx: &Ctx) -> super::Result<Option<msez::remote::Url>> {
    if let Some(name) = t.strip_prefix("remote:") {
        let repo = msez::odb::Repo::find(&ctx.cwd)?.ok_or_else(|| {
            msez::Error::Usage(format!("{t}: a remote name needs a repository here"))
        })?;
        let url = repo
            .config()
            .remote
            .get(name)
            .map(|r| r.url.clone())
            .ok_or_else(|| msez::remote::Error::Name {
                what: "there is no",
                name: name.to_string(),
            })?;
        return Ok(Some(msez::remote::Url::parse(&url, &ctx.cwd)?));
    }
    if t.starts_with("s3://") || t.starts_with("ipfs://") {
        return Ok(Some(msez::remote::Url::parse(t, &ctx.cwd)?));
    }
    Ok(None)
}

fn audit_target(a: &Args, ctx: &Ctx, bar: &Bar) -> super::Result<AuditReport> {
    let t = a.target.as_str();
    if let Some(url) = remote_url(t, ctx)? {
        let backend = msez::remote::open(&url, msez::remote::Retry::default())?;
        let shown = msez::remote::Url::redact(t);
        return Ok(audit::audit_remote(
            backend.as_ref(),
            &shown,
            bar,
            super::repo::interrupt_flag(),
        )?);
    }
    if t.starts_with("http://") || t.starts_with("https://") {
        let trust = trust(a, true, ctx)?;
        let remote = msez::bundle::http::RangeReader::open(t)?;
        let mut reader = msez::bundle::BundleReader::open(remote, msez::bundle::verify::limits())?;
        // The report names its source: never with a presigned URL's signature.
        let shown = msez::remote::Url::redact(t);
        return Ok(audit::audit_bundle(&mut reader, &shown, &trust, bar)?);
    }
    let path = ctx.path(Path::new(t));
    if path.is_file() {
        let trust = trust(a, true, ctx)?;
        let f =
            std::fs::File::open(&path).map_err(|e| msez::Error::io("opening", path.clone(), e))?;
        let mut reader = msez::bundle::BundleReader::open(
            std::io::BufReader::new(f),
            msez::bundle::verify::limits(),
        )?;
        return Ok(audit::audit_bundle(&mut reader, t, &trust, bar)?);
    }
    if !path.is_dir() {
        return Err(msez::Error::io(
            "auditing",
            path.clone(),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let trust = trust(a, false, ctx)?;
    if path.join(".msez").is_dir() {
        let repo = msez::odb::Repo::open(&path)?;
        let mut r = audit::audit_repository(&repo, &path, &trust, bar)?;
        r.target = t.to_string();
        return Ok(r);
    }
    if audit::find_modules(&path).is_empty() {
        return Err(msez::Error::Usage(format!(
            "{t}: no witness bundle, module (asset.yaml, corridor.yaml) or repository (.msez) here"
        )));
    }
    let mut r = audit::audit_dir(&path, &trust);
    r.target = t.to_string();
    Ok(r)
}

fn kind_name(k: TargetKind) -> &'static str {
    match k {
        TargetKind::Bundle => "bundle",
        TargetKind::Module => "module directory",
        TargetKind::Repository => "repository",
        TargetKind::Remote => "remote",
    }
}

fn head_line(c: &ChainReport) -> String {
    let purpose = c
        .purpose
        .as_deref()
        .map(|p| format!(" [{p}]"))
        .unwrap_or_default();
    match (c.receipt_count, &c.final_root) {
        (Some(n), Some(root)) if n > 0 => format!(
            "{}{}: {} · {n} receipt(s), head #{} next_root {root}",
            c.module,
            purpose,
            c.verdict,
            n - 1
        ),
        _ => format!("{}{}: {} · no receipt linked", c.module, purpose, c.verdict),
    }
}

fn why(i: &Item) -> String {
    let d = &i.finding.detail;
    match (&d.expected, &d.found) {
        (Some(e), Some(f)) => format!(" (expected {e}, found {f})"),
        _ => String::new(),
    }
}

/// The short human summary: verdict, heads, what was checked, what failed, what is unknown.
fn summary(r: &AuditReport, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        w,
        "audit of {} {}: {} (exit {})",
        kind_name(r.target_kind),
        r.target,
        r.verdict().name().to_uppercase(),
        r.exit_code()
    )?;
    for c in &r.chains {
        writeln!(w, "head  {}", head_line(c))?;
    }
    writeln!(w, "checked:")?;
    for line in r.checked() {
        writeln!(w, "  - {line}")?;
    }
    let items = r.findings.items();
    let failed: Vec<&Item> = items
        .iter()
        .filter(|i| i.effect == Verdict::Invalid)
        .collect();
    let unknown: Vec<&Item> = items
        .iter()
        .filter(|i| i.effect == Verdict::Unknown)
        .collect();
    if !failed.is_empty() {
        writeln!(w, "failed ({}):", failed.len())?;
        for i in &failed {
            writeln!(w, "  - {}: {}{}", i.finding.code, i.finding.message, why(i))?;
        }
    }
    if !unknown.is_empty() {
        writeln!(w, "unknown ({}):", unknown.len())?;
        for i in &unknown {
            writeln!(w, "  - {}: {}{}", i.finding.code, i.finding.message, why(i))?;
        }
    }
    for a in r.anchors.iter().filter(|a| a.status != "verified") {
        writeln!(
            w,
            "anchor {} #{} → {}: {} ({})",
            a.anchor.corridor_module,
            a.anchor.sequence,
            a.anchor.asset_id.as_deref().unwrap_or("?"),
            a.status,
            a.why
        )?;
    }
    if failed.is_empty() && unknown.is_empty() {
        writeln!(w, "no finding: the history is intact as far as checked")?;
    }
    Ok(())
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px}
header{border-radius:12px;padding:20px 24px;color:#fff;margin-bottom:20px}
header.valid{background:#1a7f37}header.invalid{background:#cf222e}header.unknown{background:#9a6700}
header h1{margin:0;font-size:30px;letter-spacing:.5px}
header p{margin:4px 0 0;opacity:.95}
section{background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:16px 20px;margin-bottom:18px}
h2{font-size:17px;margin:0 0 10px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaeef2;vertical-align:top;overflow-wrap:anywhere}
th{font-size:12px;color:#57606a;text-transform:uppercase;letter-spacing:.4px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
.pill{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.pill.valid,.pill.ok,.pill.verified{background:#1a7f37}.pill.invalid,.pill.bad,.pill.mismatch{background:#cf222e}
.pill.unknown,.pill.unchecked{background:#9a6700}
ul{margin:0;padding-left:20px}
.muted{color:#57606a}
.pic{overflow-x:auto;margin-top:8px}
.finding td:first-child{width:86px}
.chain{border:1px solid #eaeef2;border-radius:8px;padding:10px 12px;margin-bottom:10px}
.chainhead{margin-bottom:4px}
table.kv th{width:80px;text-transform:none;font-size:13px;border:0;padding:2px 8px}
table.kv td{border:0;padding:2px 8px}
"#;

fn pill(class: &str, text: &str) -> String {
    format!("<span class=\"pill {}\">{}</span>", esc(class), esc(text))
}

/// The chain heads: each chain's verdict, head, MMR and genesis.
fn heads_html(r: &AuditReport, h: &mut String) {
    h.push_str("<section id=\"heads\"><h2>Chain heads</h2>");
    for c in &r.chains {
        let purpose = c
            .purpose
            .as_deref()
            .map(|p| format!(" [{}]", esc(p)))
            .unwrap_or_default();
        let owner = if c.module.ends_with(&c.owner) {
            String::new()
        } else {
            format!(" <span class=\"muted\">{}</span>", esc(&c.owner))
        };
        let trust = match c.trust {
            "none" => "none (signatures checked; no anchors file)",
            "bundle" => "the bundle's own anchors (at most unknown)",
            "auditor" => "the auditor's --trust-anchors",
            "module" => "the module's anchors file",
            t => t,
        };
        h.push_str(&format!(
            "<div class=\"chain\"><div class=\"chainhead\"><b>{}</b>{purpose}{owner} {} <span class=\"muted\">{} · {} receipt(s) · {} checkpoint(s) · {} proof(s) · trust: {}</span></div><table class=\"kv\">",
            esc(&c.module),
            pill(c.verdict.name(), c.verdict.name()),
            esc(match c.kind {
                msez::chain::Kind::Asset => "asset",
                msez::chain::Kind::Corridor => "corridor",
            }),
            c.receipt_count.map(|n| n.to_string()).unwrap_or("?".into()),
            c.checkpoints_checked,
            c.proofs_checked,
            esc(trust)
        ));
        match (c.receipt_count, &c.final_root) {
            (Some(n), Some(root)) if n > 0 => h.push_str(&format!(
                "<tr><th>head</th><td>receipt #{} · next_root <span class=\"mono\">{}</span></td></tr>",
                n - 1,
                esc(root)
            )),
            _ => h.push_str("<tr><th>head</th><td class=\"muted\">no receipt linked from genesis</td></tr>"),
        }
        if let Some(m) = c.mmr.as_ref() {
            h.push_str(&format!(
                "<tr><th>MMR</th><td>size {} · root <span class=\"mono\">{}</span></td></tr>",
                m["size"],
                esc(m["root"].as_str().unwrap_or_default())
            ));
        }
        h.push_str(&format!(
            "<tr><th>genesis</th><td><span class=\"mono\">{}</span></td></tr></table></div>",
            esc(&c.genesis_root)
        ));
    }
    if r.chains.is_empty() {
        h.push_str("<p class=\"muted\">No receipt chain in the target.</p>");
    }
    h.push_str("</section>");
}

/// Every finding with its effect, expected and found.
fn findings_html(items: &[Item], h: &mut String) {
    h.push_str("<section id=\"findings\"><h2>Findings</h2>");
    if items.is_empty() {
        h.push_str("<p>No finding: every check passed.</p>");
    } else {
        h.push_str("<table><tr><th>effect</th><th>finding</th></tr>");
        for i in items {
            let d = &i.finding.detail;
            let mut detail = String::new();
            if let (Some(e), Some(f)) = (&d.expected, &d.found) {
                detail = format!(
                    "<br><span class=\"muted\">expected</span> <span class=\"mono\">{}</span><br><span class=\"muted\">found</span> <span class=\"mono\">{}</span>",
                    esc(e),
                    esc(f)
                );
            }
            h.push_str(&format!(
                "<tr class=\"finding\"><td>{}</td><td><code>{}</code> {}{}</td></tr>",
                pill(i.effect.name(), i.effect.name()),
                esc(i.finding.code),
                esc(&i.finding.message),
                detail
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

/// Every checkpoint against its chain.
fn checkpoints_html(r: &AuditReport, h: &mut String) {
    h.push_str("<section id=\"checkpoints\"><h2>Checkpoints</h2>");
    let cks: Vec<(&ChainReport, &svg::Checkpoint)> = r
        .chains
        .iter()
        .flat_map(|c| c.picture.checkpoints.iter().map(move |k| (c, k)))
        .collect();
    if cks.is_empty() {
        h.push_str("<p class=\"muted\">No checkpoint in the target.</p>");
    } else {
        h.push_str(
            "<table><tr><th>chain</th><th>receipt_count</th><th>against the chain</th></tr>",
        );
        for (c, k) in cks {
            let (class, text) = match k.status {
                Status::Ok => ("ok", "matches"),
                Status::Unknown => ("unknown", "cannot be checked"),
                Status::Bad => ("bad", "mismatch"),
            };
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.module),
                k.size,
                pill(class, text)
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

/// One self-contained page: no scripts, no external resources.
fn html(r: &AuditReport, a: &Args) -> String {
    let v = r.verdict().name();
    let mut h = String::new();
    let title = format!("msez audit: {} {}", v.to_uppercase(), r.target);
    h.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.push_str(&format!(
        "<title>{}</title><style>{CSS}</style></head><body><main>",
        esc(&title)
    ));
    let items = r.findings.items();
    let failed = items
        .iter()
        .filter(|i| i.effect == Verdict::Invalid)
        .count();
    let unknown = items.len() - failed;
    h.push_str(&format!(
        "<header class=\"{v}\"><h1 id=\"verdict\">{}</h1><p>{} <b>{}</b> · exit code {} · {} failed, {} unknown{}</p></header>",
        esc(&v.to_uppercase()),
        esc(kind_name(r.target_kind)),
        esc(&r.target),
        r.exit_code(),
        failed,
        unknown,
        if r.partial() { " · marked partial" } else { "" }
    ));

    heads_html(r, &mut h);

    findings_html(&items, &mut h);

    checkpoints_html(r, &mut h);

    if !r.anchors.is_empty() {
        h.push_str("<section id=\"anchors\"><h2>Anchors in corridor receipts</h2><table><tr><th>corridor receipt</th><th>anchors</th><th>status</th></tr>");
        for x in &r.anchors {
            h.push_str(&format!(
                "<tr><td>{} #{}</td><td>{} @ {} <span class=\"mono\">{}</span></td><td>{} {}</td></tr>",
                esc(&x.anchor.corridor_module),
                x.anchor.sequence,
                esc(x.anchor.asset_id.as_deref().unwrap_or("?")),
                x.anchor.receipt_count.map(|n| n.to_string()).unwrap_or("?".into()),
                esc(&x.anchor.digest_sha256),
                pill(x.status, x.status),
                esc(&x.why)
            ));
        }
        h.push_str("</table></section>");
    }

    // Pictures.
    h.push_str("<section id=\"pictures\"><h2>Chains</h2>");
    for c in r.chains.iter().take(20) {
        h.push_str(&format!(
            "<div class=\"pic\">{}</div>",
            svg::chain(&c.picture)
        ));
    }
    if r.chains.len() > 20 {
        h.push_str(&format!(
            "<p class=\"muted\">{} more chain(s) in the JSON report.</p>",
            r.chains.len() - 20
        ));
    }
    h.push_str("</section>");
    if let Some(p) = r.closure_picture() {
        h.push_str(&format!(
            "<section id=\"closure\"><h2>Closure</h2><div class=\"pic\">{}</div></section>",
            svg::closure(&p)
        ));
    }

    h.push_str("<section id=\"checked\"><h2>What was checked</h2><ul>");
    for line in r.checked() {
        h.push_str(&format!("<li>{}</li>", esc(&line)));
    }
    h.push_str("</ul>");
    let trust = match &a.trust_anchors {
        Some(p) => format!(" --trust-anchors {}", p.display()),
        None => String::new(),
    };
    h.push_str(&format!(
        "<p class=\"muted\">Reproduce: <code>msez audit {}{} --json</code> · msez {}</p></section>",
        esc(&r.target),
        esc(&trust),
        env!("CARGO_PKG_VERSION")
    ));
    h.push_str("</main></body></html>\n");
    h
}
