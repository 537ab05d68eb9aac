//! Concurrency (issue 8, item 4): many real `msez` processes appending, checkpointing,
//! co-signing and pushing at once, on one repository and on clones sharing a remote.
//!
//! Every process of a wave is spawned before any is waited for, so they race for the locks.
//! What is asserted is counted outcomes (how many won, which exit codes the others got, what
//! the chain holds afterwards), never timing: whichever process wins, the assertions hold.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::chain::Chain;
use crate::util::ASSET_ID;
use crate::util::{Dir, Run, vectors};

/// The documented exit code of a conflict (docs/errors.md): a held lock, a moved ref, a stale
/// head, a non-fast-forward push.
const CONFLICT: i32 = 70;
/// The documented exit code of a fork (docs/errors.md).
const FORK: i32 = 69;

/// Spawns every command, then waits for all of them: the processes run at the same time.
fn race(cmds: Vec<Command>) -> Vec<Run> {
    let children: Vec<_> = cmds
        .into_iter()
        .map(|mut c| {
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn msez")
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait for msez");
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .collect()
}

/// Asserts that a raced process either succeeded or lost with the conflict code; a crash, a
/// signal or any other class is a failure of the test.
#[track_caller]
fn won(run: &Run, what: &str) -> bool {
    assert!(
        run.code == 0 || run.code == CONFLICT,
        "{what}: neither success nor conflict: {run:#?}"
    );
    // A loser says why, as msez does for every error (not a panic's message).
    if run.code == CONFLICT {
        assert!(
            run.stderr.starts_with("msez: ") && !run.stderr.contains("panicked"),
            "{what}: exit 70 without an error message: {run:#?}"
        );
    }
    run.code == 0
}

fn head_ref() -> String {
    format!("refs/assets/{ASSET_ID}/core/head")
}

/// The raw head ref file: exactly one lowercase 64-hex digest and a newline (not torn).
#[track_caller]
fn head_file(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join(".msez").join(head_ref())).unwrap();
    let hex = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("head ref without its newline: {text:?}"));
    assert!(
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "torn head ref: {text:?}"
    );
    hex.to_string()
}

/// The chain from the head back to sequence 0 (next_roots, newest first), by `msez log`.
fn chain_of(dir: &Dir) -> Vec<String> {
    let log = dir
        .run(&["--json", "log", &format!("assets/{ASSET_ID}/core/head")])
        .json();
    let receipts = log["receipts"].as_array().unwrap();
    let seqs: Vec<u64> = receipts
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (0..receipts.len() as u64).rev().collect();
    assert_eq!(seqs, want, "log walks every sequence once, newest first");
    receipts
        .iter()
        .map(|r| r["next_root"].as_str().unwrap().to_string())
        .collect()
}

/// The verificationMethods of a stored object's proofs (the union `.msez` shows).
fn stored_signers(dir: &Dir, id: &str) -> BTreeSet<String> {
    signers(&dir.run(&["show", id, "--json"]).json()["value"])
}

fn signers(doc: &Value) -> BTreeSet<String> {
    let list = match &doc["proof"] {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        p => vec![p.clone()],
    };
    list.iter()
        .map(|p| {
            let vm = p["verificationMethod"].as_str().unwrap_or_default();
            vm.split('#').next().unwrap_or_default().to_string()
        })
        .collect()
}

/// Generates a key in `dir` and returns its did:key.
fn key_gen(dir: &Path, name: &str) -> String {
    let out = Command::new(crate::util::bin())
        .args(["key", "gen", "--out", name])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn receipt_id(next_root: &str) -> String {
    format!("smart-asset-receipt:{next_root}")
}

/// The module's receipt file for `next_root` (a fork's second receipt has a longer name).
fn module_receipt(dir: &Path, module: &str, next_root: &str) -> Value {
    for e in std::fs::read_dir(dir.join(module).join("state/receipts"))
        .unwrap()
        .flatten()
    {
        let v: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        if v["next_root"] == next_root {
            return v;
        }
    }
    panic!("no receipt file for {next_root}");
}

#[test]
fn appenders_checkpointers_and_cosigners_racing_on_one_repository_lose_nothing() {
    const ROUNDS: usize = 4;
    const EXPECTING: usize = 4;
    const FREE: usize = 2;
    let c = Chain::new();
    c.append(2);
    let dir = c.dir.path();
    std::fs::copy(
        vectors().join("msez-fixtures/keys/zone-b.ed25519.jwk"),
        dir.join("zone-b.jwk"),
    )
    .unwrap();
    // Co-signers: one key per round and racer, so each acknowledged signature is distinct.
    let mut cosigners = BTreeMap::new();
    let mut acked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut appended = 0usize;
    let mut checkpoints = 0usize;
    let start = chain_of(&c.dir).len();
    for round in 0..ROUNDS {
        let head = head_file(dir);
        let chain = chain_of(&c.dir);
        // Two co-signers on one receipt (the same file rewritten by both) and one on another.
        let targets = [0u64, 0, (round % chain.len()) as u64];
        let mut cmds = Vec::new();
        for i in 0..EXPECTING + FREE {
            let mut cmd = c.dir.cmd(&[
                "asset",
                "state",
                "receipt-init",
                &c.module,
                "--key",
                "dev.jwk",
                "--key",
                "zone-a.jwk",
            ]);
            // Most racers expect the head they all read: at most one of them can win. The free
            // ones append on whatever head they find under the lock.
            if i < EXPECTING {
                cmd.args(["--expect-head", &head]);
            }
            cmds.push(cmd);
        }
        for _ in 0..2 {
            cmds.push(c.dir.cmd(&[
                "asset",
                "state",
                "checkpoint",
                &c.module,
                "--key",
                "dev.jwk",
            ]));
        }
        let mut cosigns = Vec::new();
        for (j, seq) in targets.iter().enumerate() {
            let name = format!("cosigner-{round}-{j}.jwk");
            let did = key_gen(dir, &name);
            cosigners.insert(name.clone(), did.clone());
            cosigns.push((*seq, did));
            cmds.push(c.dir.cmd(&[
                "asset",
                "state",
                "cosign",
                &c.module,
                "--sequence",
                &seq.to_string(),
                "--key",
                &name,
            ]));
        }
        // fsck in the middle of it all: it waits for an append's store lock, so it never sees
        // a head ref and MMR state from two different moments.
        for _ in 0..2 {
            cmds.push(c.dir.cmd(&["fsck"]));
        }
        let runs = race(cmds);
        let (appends, rest) = runs.split_at(EXPECTING + FREE);
        let (cks, rest) = rest.split_at(2);
        let (cos, fscks) = rest.split_at(targets.len());
        for run in fscks {
            assert_eq!(run.code, 0, "round {round}: fsck during the race: {run:#?}");
        }
        let expecting_won = appends[..EXPECTING]
            .iter()
            .filter(|r| won(r, "append --expect-head"))
            .count();
        let free_won = appends[EXPECTING..]
            .iter()
            .filter(|r| won(r, "append"))
            .count();
        assert!(
            expecting_won <= 1,
            "round {round}: {expecting_won} appends on one expected head succeeded"
        );
        assert!(
            expecting_won + free_won >= 1,
            "round {round}: the first appender to take the lock appends: {appends:#?}"
        );
        appended += expecting_won + free_won;
        checkpoints += cks.iter().filter(|r| won(r, "checkpoint")).count();
        for (run, (seq, did)) in cos.iter().zip(cosigns) {
            // A co-sign takes no ref lock: it must succeed even while appends run.
            run.ok();
            acked
                .entry(chain[chain.len() - 1 - seq as usize].clone())
                .or_default()
                .insert(did);
        }
    }
    assert!(
        checkpoints >= 1,
        "no checkpoint went through in {ROUNDS} rounds"
    );

    // Nothing torn, nothing lost, no fork.
    c.dir.run(&["fsck", "--strict"]).ok();
    c.verify(&[]).ok();
    let head = head_file(dir);
    let chain = chain_of(&c.dir);
    assert_eq!(chain[0], head);
    assert_eq!(
        chain.len(),
        start + appended,
        "every acknowledged append is in the chain, and nothing else"
    );
    c.dir.run(&["show", &receipt_id(&head)]).ok();
    let inspect = c
        .dir
        .run(&["--json", "asset", "state", "fork-inspect", &c.module])
        .json();
    assert_eq!(inspect["forks"]["total"], 0, "{inspect}");
    assert_eq!(inspect["receipts"]["total"], chain.len());
    let refs = c.dir.run(&["refs", "--json"]).json();
    assert!(
        refs["refs"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.contains("/forks/")),
        "{refs}"
    );
    // The checkpoint ref names a stored checkpoint of a prefix of this chain.
    let ck_ref = format!("refs/assets/{ASSET_ID}/core/checkpoint");
    let ck_hex = refs["refs"][&ck_ref].as_str().unwrap();
    let ck = c
        .dir
        .run(&[
            "show",
            &format!("smart-asset-receipt-checkpoint:{ck_hex}"),
            "--json",
        ])
        .json();
    let count = ck["value"]["receipt_count"].as_u64().unwrap() as usize;
    assert!((1..=chain.len()).contains(&count), "{ck}");
    assert_eq!(
        ck["value"]["final_chain_root"].as_str(),
        Some(chain[chain.len() - count].as_str()),
        "the checkpoint's head is the chain's receipt at its size: {ck}"
    );
    // Every acknowledged co-signature is in `.msez` and in the module's receipt file.
    for (next_root, dids) in &acked {
        let stored = stored_signers(&c.dir, &receipt_id(next_root));
        let in_file = signers(&module_receipt(dir, &c.module, next_root));
        for did in dids {
            assert!(stored.contains(did), "{did} lost from .msez: {stored:?}");
            assert!(
                in_file.contains(did),
                "{did} lost from the module file: {in_file:?}"
            );
        }
    }
}

/// One operator's clone of the shared remote, with the module files and keys copied in (as
/// operators share them).
struct Clone {
    dir: Dir,
    env: Vec<(String, String)>,
}

impl Clone {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.dir.cmd(args);
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        race(vec![self.cmd(args)]).pop().unwrap()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Three clones of one remote co-sign one receipt and push at once (every proof arrives
/// everywhere), then append at once and push at once: exactly one push moves the head, the
/// others are refused as conflicts, and their fetch reports the fork with both branches kept.
pub(crate) fn clones_racing_on_a_shared_remote(url: &str, env: &[(String, String)]) {
    let c = Chain::new();
    c.append(2);
    let env = env.to_vec();
    let origin = Clone {
        dir: c.dir,
        env: env.clone(),
    };
    origin.run(&["remote", "add", "origin", url]).ok();
    origin.run(&["push"]).ok();
    let mut clones = vec![origin];
    for _ in 0..2 {
        let d = Dir::new();
        let clone = Clone {
            dir: d,
            env: env.clone(),
        };
        let target = clone.dir.path().to_str().unwrap().to_string();
        clone.run(&["clone", url, &target]).ok();
        copy_tree(&clones[0].dir.join("modules"), &clone.dir.join("modules"));
        for k in ["dev.jwk", "zone-a.jwk"] {
            std::fs::copy(clones[0].dir.join(k), clone.dir.join(k)).unwrap();
        }
        clones.push(clone);
    }
    let module = c.module.clone();
    let chain = chain_of(&clones[0].dir);
    let target = chain[chain.len() - 2].clone();

    // Each operator co-signs receipt 1 on their own clone; the pushes race.
    let mut dids = BTreeSet::new();
    for (i, cl) in clones.iter().enumerate() {
        let name = format!("op-{i}.jwk");
        dids.insert(key_gen(cl.dir.path(), &name));
        cl.run(&[
            "asset",
            "state",
            "cosign",
            &module,
            "--sequence",
            "1",
            "--key",
            &name,
        ])
        .ok();
    }
    let pushes = race(clones.iter().map(|cl| cl.cmd(&["push"])).collect());
    for p in &pushes {
        // Proof files never conflict: each push only adds files.
        p.ok();
    }
    clones[0].run(&["fsck", "--remote", "origin"]).ok();
    let pulls = race(clones.iter().map(|cl| cl.cmd(&["pull"])).collect());
    for (cl, p) in clones.iter().zip(&pulls) {
        p.ok();
        let have = stored_signers(&cl.dir, &receipt_id(&target));
        assert!(dids.is_subset(&have), "{dids:?} not all in {have:?}");
    }
    let fresh = Clone {
        dir: Dir::new(),
        env: env.clone(),
    };
    let fresh_path = fresh.dir.path().to_str().unwrap().to_string();
    fresh.run(&["clone", url, &fresh_path]).ok();
    let on_remote = stored_signers(&fresh.dir, &receipt_id(&target));
    assert!(
        dids.is_subset(&on_remote),
        "remote lacks proofs: {on_remote:?}"
    );

    // Each appends its own receipt 2 (distinct timestamps: distinct receipts), then all push.
    let base = head_file(clones[0].dir.path());
    let appends = race(
        clones
            .iter()
            .enumerate()
            .map(|(i, cl)| {
                cl.cmd(&[
                    "--json",
                    "asset",
                    "state",
                    "receipt-init",
                    &module,
                    "--key",
                    "zone-a.jwk",
                    "--timestamp",
                    &format!("2027-01-0{}T00:00:00Z", i + 1),
                    "--expect-head",
                    &base,
                ])
            })
            .collect(),
    );
    let heads: Vec<String> = appends
        .iter()
        .map(|r| r.json()["head"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        heads.iter().collect::<BTreeSet<_>>().len(),
        clones.len(),
        "three different receipts at sequence 2"
    );
    let pushes = race(clones.iter().map(|cl| cl.cmd(&["push"])).collect());
    let winners: Vec<usize> = (0..clones.len())
        .filter(|&i| won(&pushes[i], "push"))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one push moves the head: {pushes:#?}"
    );
    let w = winners[0];
    for (i, p) in pushes.iter().enumerate() {
        if i != w {
            assert!(p.stdout.contains("rejected"), "a loser is told why: {p:#?}");
        }
    }
    clones[w].run(&["fsck", "--remote", "origin"]).ok();
    let remote_head = {
        let refs = fresh.run(&["fetch"]);
        refs.ok();
        let r = fresh.run(&["refs", "--json"]).json();
        r["refs"][&format!("refs/remotes/origin/assets/{ASSET_ID}/core/head")]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(remote_head, heads[w]);

    // The losers' fetch sees the fork at sequence 2 and keeps both branches.
    let fetches = race(
        clones
            .iter()
            .map(|cl| cl.cmd(&["--json", "fetch"]))
            .collect(),
    );
    for (i, f) in fetches.iter().enumerate() {
        let cl = &clones[i];
        if i == w {
            f.ok();
            assert_eq!(head_file(cl.dir.path()), heads[w]);
            continue;
        }
        f.code(FORK);
        let fork = &f.json()["forks"][0];
        assert_eq!(fork["sequence"], 2, "{fork}");
        assert_eq!(fork["local"], heads[i].as_str());
        assert_eq!(fork["remote"], heads[w].as_str());
        let kept = format!("refs/assets/{ASSET_ID}/core/forks/{}", heads[w]);
        assert_eq!(fork["kept"], kept.as_str());
        let refs = cl.run(&["refs", "--json"]).json();
        assert_eq!(refs["refs"][&kept], heads[w].as_str());
        assert_eq!(head_file(cl.dir.path()), heads[i], "our head is left alone");
        cl.run(&["show", &receipt_id(&heads[w])]).ok();
        cl.run(&["show", &receipt_id(&heads[i])]).ok();
        cl.run(&["pull"]).code(FORK);
    }
    for cl in &clones {
        cl.run(&["fsck"]).ok();
    }
}

#[test]
fn clones_racing_on_a_local_remote_cosign_converge_and_pushes_have_one_winner() {
    let d = Dir::new();
    let url = d.join("remote.msez").display().to_string();
    clones_racing_on_a_shared_remote(&url, &[]);
}

#[test]
fn cosigners_racing_on_one_receipt_keep_every_signature_in_msez_and_the_module_file() {
    const COSIGNERS: usize = 16;
    let c = Chain::new();
    c.append(2);
    let dir = c.dir.path();
    let target = chain_of(&c.dir)[1].clone();
    let mut dids = BTreeSet::new();
    for round in 0..3 {
        let mut cmds = Vec::new();
        for j in 0..COSIGNERS {
            let name = format!("k-{round}-{j}.jwk");
            dids.insert(key_gen(dir, &name));
            cmds.push(c.dir.cmd(&[
                "asset",
                "state",
                "cosign",
                &c.module,
                "--sequence",
                "0",
                "--key",
                &name,
            ]));
        }
        for run in race(cmds) {
            run.ok();
        }
    }
    let stored = stored_signers(&c.dir, &receipt_id(&target));
    let in_file = signers(&module_receipt(dir, &c.module, &target));
    let lost = |have: &BTreeSet<String>| dids.difference(have).cloned().collect::<Vec<_>>();
    assert_eq!(lost(&stored), Vec::<String>::new(), "lost from .msez");
    assert_eq!(
        lost(&in_file),
        Vec::<String>::new(),
        "lost from the module file"
    );
    c.verify(&[]).ok();
    c.dir.run(&["fsck", "--strict"]).ok();
}
