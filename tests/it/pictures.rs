//! Pictures (issue 19 item 6): every graph command draws SVG itself (`--format svg`, and
//! `--render FILE` alone), with receipts, checkpoints, fork candidates and a legend, at most
//! about 200 nodes for any chain (in SVG and in DOT), and no graphviz needed; `--format dot
//! --render` without graphviz fails 74 and writes nothing.

use std::path::Path;

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, Run, fixture_key};

fn key() -> String {
    fixture_key("dev").to_str().unwrap().to_string()
}

/// Checks that `svg` is one well-formed XML element tree rooted at <svg>: every tag closes in
/// order, attributes are quoted, and text holds no bare `<` or `&`.
#[track_caller]
fn well_formed(svg: &str) {
    let svg = svg.trim_end();
    assert!(
        svg.starts_with("<svg "),
        "not an <svg>: {}",
        &svg[..80.min(svg.len())]
    );
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare & in text: {text}"
            );
        }
        let after = &rest[open + 1..];
        // A tag ends at the first '>' outside quotes.
        let mut quoted = false;
        let close = after
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == '>' && !quoted
            })
            .map(|(i, _)| i)
            .expect("unterminated tag");
        let tag = &after[..close];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().unwrap_or_else(|| panic!("stray </{name}>"));
            assert_eq!(top, name.trim(), "</{name}> closes <{top}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or_default();
            stack.push(name.to_string());
        }
        rest = &after[close + 1..];
        if stack.is_empty() {
            assert!(rest.trim().is_empty(), "content after the root: {rest}");
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

/// Receipt boxes plus collapsed-run boxes drawn in a chain picture.
fn svg_nodes(svg: &str) -> usize {
    svg.matches(">receipt #").count() + svg.matches(">… ").count()
}

/// Receipt and run nodes in a fork-inspect DOT.
fn dot_nodes(dot: &str) -> usize {
    dot.lines()
        .filter(|l| l.contains("[label=\"seq ") || l.contains("[label=\"… "))
        .count()
}

fn module() -> String {
    format!("modules/smart-assets/{ASSET_ID}")
}

/// A module of `n` receipts signed by dev (one batch), with a checkpoint of the first `ck`.
fn chain(n: usize, ck: usize) -> Dir {
    let (dir, module) = Dir::asset_module(&[], &[]);
    let lines = |from: usize, to: usize| -> String {
        (from..to)
            .map(|i| format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}}}\n"))
            .collect()
    };
    for (from, to, checkpoint) in [(0, ck, true), (ck, n, false)] {
        if to > from {
            dir.write("batch.jsonl", lines(from, to));
            dir.run(&[
                "asset",
                "state",
                "receipt-init",
                &module,
                "--batch",
                "batch.jsonl",
                "--key",
                &key(),
            ])
            .ok();
        }
        if checkpoint {
            dir.run(&["asset", "state", "checkpoint", &module, "--key", &key()])
                .ok();
        }
    }
    dir
}

/// Writes a second receipt at `seq` (another timestamp, re-signed by dev) beside the first;
/// returns (the first's next_root, the competitor's).
fn fork_at(dir: &Dir, seq: u64) -> (String, String) {
    let receipts = dir.join(&format!("{}/state/receipts", module()));
    let first: Value = serde_json::from_slice(
        &std::fs::read(receipts.join(format!("receipt.{seq}.json"))).unwrap(),
    )
    .unwrap();
    let mut other = first.clone();
    other["timestamp"] = "2031-01-01T00:00:00Z".into();
    let obj = other.as_object_mut().unwrap();
    obj.remove("next_root");
    obj.remove("proof");
    let next_root = msez::canon::rule_for("smart-asset-receipt")
        .digest_json(&other)
        .unwrap();
    other["next_root"] = next_root.to_hex().into();
    let to = receipts.join(format!("receipt.{seq}.other.json"));
    std::fs::write(&to, serde_json::to_vec_pretty(&other).unwrap()).unwrap();
    let to = to.to_str().unwrap();
    dir.run(&["vc", "sign", to, "--key", &key(), "--out", to])
        .ok();
    (
        first["next_root"].as_str().unwrap().to_string(),
        next_root.to_hex(),
    )
}

fn inspect(dir: &Dir, extra: &[&str]) -> Run {
    let m = module();
    let mut args = vec!["asset", "state", "fork-inspect", m.as_str()];
    args.extend_from_slice(extra);
    dir.run(&args)
}

const HEAD: &str =
    "assets/37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5/core/head";

#[test]
fn pictures_fork_inspect_svg_and_dot_show_both_candidates_and_a_legend() {
    let dir = chain(6, 3);
    let (main, other) = fork_at(&dir, 4);
    let svg = inspect(&dir, &["--format", "svg"]).ok().to_string();
    well_formed(&svg);
    for want in [
        &main[..12],
        &other[..12],
        "LEGEND",
        "fork: competing, unresolved",
        "✗ fork, unresolved",
        "1 fork point(s), 1 unresolved",
        "receipt #5",
    ] {
        assert!(svg.contains(want), "svg lacks {want:?}");
    }
    assert_eq!(
        svg.matches(">receipt #4<").count(),
        2,
        "both candidates at #4"
    );
    // Nothing is selected at an unresolved fork: no receipt is called the head.
    assert!(!svg.contains(">HEAD<"), "an unresolved fork has no head");
    let dot = inspect(&dir, &["--format", "dot"]).ok().to_string();
    assert!(dot.starts_with("digraph forks {"), "{dot}");
    for want in [&main[..12], &other[..12], "cluster_legend", "color=red"] {
        assert!(dot.contains(want), "dot lacks {want:?}: {dot}");
    }
    // --render alone writes the SVG, nothing on stdout.
    let run = inspect(&dir, &["--render", "forks.svg"]);
    assert_eq!(run.ok(), "");
    assert_eq!(std::fs::read_to_string(dir.join("forks.svg")).unwrap(), svg);
    // A picture flag with the JSON report is a usage error.
    inspect(&dir, &["--format", "json", "--render", "x.svg"]).code(64);
    assert!(!dir.join("x.svg").exists());
}

#[test]
fn pictures_log_and_graph_verify_svg_show_receipts_checkpoints_and_the_legend() {
    let dir = chain(10, 8);
    let svg = dir.run(&["log", HEAD, "--format", "svg"]).ok().to_string();
    well_formed(&svg);
    for want in ["receipt #0<", "receipt #9<", "✓ ckpt 8", "HEAD", "LEGEND"] {
        assert!(svg.contains(want), "log svg lacks {want:?}");
    }
    assert_eq!(svg_nodes(&svg), 10);
    dir.run(&["log", HEAD, "--render", "log.svg"]).ok();
    assert_eq!(std::fs::read_to_string(dir.join("log.svg")).unwrap(), svg);
    // text and json stay as they were.
    assert_eq!(dir.run(&["log", HEAD]).ok().lines().count(), 10);
    let json: Value =
        serde_json::from_str(dir.run(&["log", HEAD, "--format", "json"]).ok()).unwrap();
    assert_eq!(json["receipts"].as_array().map(Vec::len), Some(10));

    let m = module();
    let closure = dir
        .run(&[
            "artifact", "graph", "verify", "--path", &m, "--format", "svg",
        ])
        .ok()
        .to_string();
    well_formed(&closure);
    assert!(closure.contains("closure"), "{closure}");
    dir.run(&["asset", "module", "witness-bundle", &m, "--out", "w.zip"])
        .ok();
    let bundle = dir.run(&[
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "w.zip",
        "--render",
        "b.svg",
    ]);
    assert!([0, 68].contains(&bundle.code), "{bundle:#?}");
    let drawn = std::fs::read_to_string(dir.join("b.svg")).unwrap();
    well_formed(&drawn);
    for want in ["receipt #9<", "ckpt 8", "LEGEND", "closure"] {
        assert!(drawn.contains(want), "bundle svg lacks {want:?}");
    }
    // The DOT of a bundle draws its chain too: one node per receipt, linked, the checkpoint.
    let dot = dir.run(&[
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "w.zip",
        "--format",
        "dot",
    ]);
    let dot = &dot.stdout;
    assert!(dot.starts_with("digraph artifact_graph {") && dot.contains("cluster_chain_0"));
    assert_eq!(dot.matches("[label=\"#").count(), 10, "{dot}");
    assert!(dot.contains("\"chain0:r8\" -> \"chain0:r9\"") && dot.contains("checkpoint 8"));
}

#[test]
fn pictures_a_long_chain_draws_at_most_about_200_nodes_in_svg_and_dot() {
    let dir = chain(2_500, 1_200);
    fork_at(&dir, 2_000);
    let log = dir.run(&["log", HEAD, "--format", "svg"]).ok().to_string();
    well_formed(&log);
    let n = svg_nodes(&log);
    assert!((8..=210).contains(&n), "log draws {n} nodes");
    assert!(log.contains("2500 receipt(s) linked from genesis") && log.contains("ckpt 1200"));
    let svg = inspect(&dir, &["--format", "svg"]).ok().to_string();
    well_formed(&svg);
    let n = svg_nodes(&svg);
    assert!((8..=210).contains(&n), "fork-inspect svg draws {n} nodes");
    assert!(svg.contains("receipt #2000<") && svg.contains("receipt #2499<"));
    let dot = inspect(&dir, &["--format", "dot"]).ok().to_string();
    let n = dot_nodes(&dot);
    assert!((8..=210).contains(&n), "dot draws {n} nodes");
    assert!(dot.lines().count() < 300, "{} lines", dot.lines().count());
    assert!(dot.contains("seq 2000") && dot.contains("seq 2499") && dot.contains("… "));
}

/// A directory for PATH that holds no graphviz (nor anything else).
fn no_graphviz(dir: &Dir, args: &[&str]) -> Run {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    Run::from(dir.cmd(args).env("PATH", &empty).output().unwrap())
}

#[track_caller]
fn fails_without_graphviz(dir: &Dir, args: &[&str], file: &str) {
    let run = no_graphviz(dir, args);
    run.code(74);
    let line = run.stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(
        line.contains("graphviz") && line.contains("--format svg") && line.contains(file),
        "{line}"
    );
    assert!(!dir.join(file).exists(), "{file} written");
    let mut json = vec!["--json"];
    json.extend_from_slice(args);
    let run = no_graphviz(dir, &json);
    run.code(74);
    assert_eq!(run.json()["error"]["code"], "io.graphviz_missing");
}

#[test]
fn pictures_svg_with_no_graphviz_installed() {
    let dir = chain(4, 2);
    fork_at(&dir, 3);
    let m = module();
    let svg_runs: [(&[&str], &str); 3] = [
        (
            &["asset", "state", "fork-inspect", &m, "--render", "f.svg"],
            "f.svg",
        ),
        (&["log", HEAD, "--render", "l.svg"], "l.svg"),
        (
            &[
                "artifact", "graph", "verify", "--path", &m, "--render", "g.svg",
            ],
            "g.svg",
        ),
    ];
    for (args, file) in svg_runs {
        let run = no_graphviz(&dir, args);
        assert_eq!(run.code, 0, "{args:?}: {run:#?}");
        well_formed(&std::fs::read_to_string(dir.join(file)).unwrap());
    }
    let dot_runs: [(&[&str], &str); 2] = [
        (
            &[
                "asset",
                "state",
                "fork-inspect",
                &m,
                "--format",
                "dot",
                "--render",
                "f.png",
            ],
            "f.png",
        ),
        (
            &[
                "artifact", "graph", "verify", "--path", &m, "--format", "dot", "--render", "g.png",
            ],
            "g.png",
        ),
    ];
    for (args, file) in dot_runs {
        fails_without_graphviz(&dir, args, file);
    }
    assert!(!Path::new(&dir.join("f.png")).exists());
}

#[test]
fn pictures_a_corridor_log_marks_the_asset_checkpoint_it_anchors() {
    let (dir, asset) = Dir::asset_module(&["dev", "zone-a"], &[]);
    for _ in 0..2 {
        dir.run(&["asset", "state", "receipt-init", &asset, "--key", "dev.jwk"])
            .ok();
    }
    dir.run(&["asset", "state", "checkpoint", &asset, "--key", "dev.jwk"])
        .ok();
    let cid = "org.example.corridor.pictures";
    dir.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        cid,
        "--key",
        "dev.jwk",
    ])
    .ok();
    let ck = format!("{asset}/state/checkpoints/checkpoint.2.json");
    dir.run(&[
        "corridor",
        "state",
        "receipt-init",
        cid,
        "--key",
        "zone-a.jwk",
        "--attach-smart-asset-receipt-checkpoint",
        &ck,
    ])
    .ok();
    let svg = dir
        .run(&["log", &format!("corridors/{cid}/head"), "--format", "svg"])
        .ok()
        .to_string();
    well_formed(&svg);
    // The anchor's mark: amber (log does not check it against the asset chain; audit does).
    assert!(svg.contains(&format!("{} @2", &ASSET_ID[..8])), "{svg}");
    assert!(svg.contains("r=\"7\" fill=\"#9a6700\""), "{svg}");
}

#[test]
fn pictures_fork_inspect_dot_render_runs_graphviz_when_it_is_installed() {
    if std::process::Command::new("dot")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("graphviz `dot` is not installed: dot --render not exercised");
        return;
    }
    let dir = chain(3, 3);
    fork_at(&dir, 1);
    let run = inspect(&dir, &["--format", "dot", "--render", "f.svg"]);
    assert!(run.ok().starts_with("digraph forks {"));
    assert!(run.stderr.contains("rendered"), "{run:#?}");
    let svg = std::fs::read_to_string(dir.join("f.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("legend"), "{svg}");
}

#[test]
fn pictures_the_guides_pictures_are_redrawn_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let run = std::process::Command::new("bash")
        .arg(root.join("examples/pictures.sh"))
        .arg(tmp.path())
        .env("MSEZ", crate::util::bin())
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for name in ["chain-10.svg", "chain-forked.svg", "chain-10k.svg"] {
        let fresh = std::fs::read_to_string(tmp.path().join(name)).unwrap();
        well_formed(&fresh);
        let committed = std::fs::read_to_string(root.join("docs/img").join(name)).unwrap();
        assert!(
            fresh == committed,
            "docs/img/{name} is stale: rerun examples/pictures.sh"
        );
    }
    let big = std::fs::read_to_string(tmp.path().join("chain-10k.svg")).unwrap();
    assert!(big.contains("10000 receipt(s) linked from genesis") && svg_nodes(&big) <= 210);
    assert!(big.contains("ckpt 4000") && big.contains("ckpt 10000"));
    let forked = std::fs::read_to_string(tmp.path().join("chain-forked.svg")).unwrap();
    assert!(forked.contains("✓ chosen by a resolution") && forked.contains("losing branch: 3"));
    assert!(forked.contains(">HEAD<"), "a resolved fork has a head");
}

#[test]
fn pictures_a_forked_chain_draws_both_candidates_and_the_legend_the_same_bytes_every_run() {
    let dir = chain(8, 4);
    let (main, other) = fork_at(&dir, 5);
    let first = inspect(&dir, &["--format", "svg"]).ok().to_string();
    well_formed(&first);
    for want in [
        &main[..12],
        &other[..12],
        "LEGEND",
        "fork: chosen candidate",
        "fork: losing branch",
        "fork: competing, unresolved",
        "✗ fork, unresolved",
        "competing: 1 receipt(s)",
    ] {
        assert!(first.contains(want), "svg lacks {want:?}");
    }
    assert_eq!(
        first.matches(">receipt #5<").count(),
        2,
        "both candidates at #5"
    );
    // Laid out afresh by each run (and with no graphviz on PATH), the bytes do not move.
    let second = inspect(&dir, &["--format", "svg"]).ok().to_string();
    assert!(first == second, "two runs drew different SVG");
    for file in ["a.svg", "b.svg"] {
        let m = module();
        let run = no_graphviz(
            &dir,
            &["asset", "state", "fork-inspect", &m, "--render", file],
        );
        assert_eq!(run.code, 0, "{run:#?}");
        let drawn = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(drawn == first, "{file} differs from stdout's SVG");
    }
    let log = |n: usize| {
        let svg = dir.run(&["log", HEAD, "--format", "svg"]).ok().to_string();
        assert!(svg.contains("✓ ckpt 4"), "run {n}: {svg}");
        svg
    };
    assert!(log(1) == log(2), "two runs of log drew different SVG");
}
