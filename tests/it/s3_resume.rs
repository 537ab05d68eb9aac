//! A large object's upload killed halfway resumes: the next push sends only the parts the
//! server had not acknowledged (plus at most the one in flight), counted by the repository's
//! counting proxy (scripts/counting-proxy.py), not by msez.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Dir, Run, bin};

/// 8 MiB: msez's multipart part size (remote::CHUNK).
const PART: u64 = 8 << 20;

/// The counting proxy in front of SeaweedFS, stopped by PID when dropped.
struct Proxy {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Proxy {
    fn start(upstream: &str, log: PathBuf) -> Proxy {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/counting-proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--upstream", upstream, "--log"])
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs scripts/counting-proxy.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the proxy says where it listens");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected proxy line {line:?}"))
            .to_string();
        Proxy { child, url, log }
    }

    /// (part number, status, bytes in) of every part upload logged so far.
    fn parts(&self) -> Vec<(u64, u16, u64)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let (method, path, status, bytes_in) =
                    (f.first()?, f.get(1)?, f.get(2)?, f.get(3)?);
                let number = path
                    .split(['?', '&'])
                    .find_map(|q| q.strip_prefix("partNumber="))?;
                (*method == "PUT").then_some(())?;
                Some((
                    number.parse().ok()?,
                    status.parse().ok()?,
                    bytes_in.parse().ok()?,
                ))
            })
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_a_killed_multipart_upload_resumes_sending_only_unacknowledged_parts() {
    let endpoint = std::env::var("MSEZ_TEST_S3_ENDPOINT").expect(
        "MSEZ_TEST_S3_ENDPOINT is unset: this test needs SeaweedFS, started by scripts/test",
    );
    let bucket = std::env::var("MSEZ_TEST_S3_BUCKET").unwrap_or_else(|_| "msez-test".into());
    let a = Dir::repo();
    let proxy = Proxy::start(&endpoint, a.join("proxy.log"));
    // 64 MiB and a bit (8 full parts and a short ninth; MSEZ_RESUME_MIB=1024 for the issue's
    // 1 GiB), bytes no part shares with another.
    let mib: u64 = std::env::var("MSEZ_RESUME_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let size = (mib << 20) + 1024;
    let mut bytes = Vec::with_capacity(size as usize + 8);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while (bytes.len() as u64) < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(size as usize);
    let id = a.put("big.bin", &bytes, "blob");
    a.run(&["update-ref", "refs/heads/big", &id]).ok();
    let url = format!(
        "s3://{bucket}/resume-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    a.run(&["remote", "add", "origin", &url]).ok();
    let push = || {
        Command::new(bin())
            .args(["push", "origin"])
            .current_dir(a.path())
            .env("AWS_ENDPOINT_URL", &proxy.url)
            .env("AWS_ALLOW_HTTP", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn msez push")
    };

    // Kill -9 once three parts are acknowledged.
    let mut first = push();
    let start = Instant::now();
    let acked_at_kill = loop {
        let acked: BTreeSet<u64> = proxy
            .parts()
            .into_iter()
            .filter(|p| p.1 == 200)
            .map(|p| p.0)
            .collect();
        if acked.len() >= 3 {
            first.kill().unwrap();
            break acked;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "the push ended before the kill"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no part acknowledged in 120 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    first.wait().unwrap();
    // A part in flight at the kill may still reach the server through the proxy.
    std::thread::sleep(Duration::from_millis(500));
    let before = proxy.parts();
    let acked: BTreeSet<u64> = before.iter().filter(|p| p.1 == 200).map(|p| p.0).collect();

    let second = Run::from(push().wait_with_output().expect("msez push ends"));
    assert_eq!(second.code, 0, "{second:?}");
    let again: Vec<(u64, u16, u64)> = proxy.parts()[before.len()..].to_vec();
    let sent: BTreeSet<u64> = again.iter().map(|p| p.0).collect();
    let total = size.div_ceil(PART);
    let bytes_sent: u64 = again.iter().map(|p| p.2).sum();
    // Nothing the server acknowledged is sent again; what is left, and at most one more.
    assert!(
        sent.is_disjoint(&acked),
        "resent {sent:?}, acknowledged {acked:?}"
    );
    let allowed = total - acked_at_kill.len() as u64 + 1;
    assert!(
        sent.len() as u64 <= allowed,
        "{sent:?} of {total} parts, {acked_at_kill:?} acknowledged at the kill"
    );
    assert!(
        bytes_sent <= allowed * PART,
        "{bytes_sent} bytes sent for {allowed} parts"
    );
    assert_eq!(
        acked.union(&sent).count() as u64,
        total,
        "every part is on the server"
    );
    // The object the server assembled is the one we have.
    let b = Dir::new();
    let clone = Command::new(bin())
        .args(["clone", &url, "c"])
        .current_dir(b.path())
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .output()
        .unwrap();
    assert!(clone.status.success(), "{clone:?}");
    let got = Command::new(bin())
        .args(["artifact", "get", &id])
        .current_dir(b.join("c"))
        .output()
        .unwrap();
    assert!(
        got.stdout == bytes,
        "the resumed upload assembled other bytes"
    );
}
