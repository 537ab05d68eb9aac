#!/usr/bin/env python3
"""Runs the shell blocks of a guide, in order, and checks the output each one shows.

    scripts/docs-run.py [--update] [--keep] FILE.md...

Each FILE is run on its own: every ```sh block, top to bottom, in one bash session (so `cd`
and variables carry from one block to the next) under `set -euo pipefail`, starting in the
repository's top directory with the `msez` of $MSEZ_BIN_DIR (default target/debug) first on
PATH. A block with a comment line starting `# not run by the docs test:` is skipped and listed
with its reason (the README's build and install lines); nothing else is skipped.

Guides name their working directory /tmp/guide. Here it is a fresh temporary directory, and
every /tmp/guide in a block and in its shown output is that directory (so runs never collide).
When a guide names https://mirror.example, that is a local HTTPS server with range requests
serving the working directory, its certificate signed by a fresh CA whose certificate is
/tmp/guide/mirror-ca.pem.

The plain ``` block right after a ```sh block is what that block prints (stdout and stderr, as
a terminal shows them). A ```console block is a transcript: each `$ ` line is a command (its
exit status is not checked: a transcript may show a refusal), the lines up to the next `$ ` are
what it prints. It must match the real output line for line, except that hex of 12 or
more digits (or shortened as `abcdef012345…6789`), did:key identifiers, UTC timestamps and
`(pid N)` match any value of their kind, and a line holding only `…` matches any number of lines. --update
rewrites the shown outputs with what the run printed instead of checking them (64-digit hex
shortened in the outputs that showed it shortened).

Exit 0 when every block ran and every shown output matched; 1 otherwise, naming the file, the
block's line and the difference.
"""

import argparse
import difflib
import http.server
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = "# not run by the docs test:"
GUIDE = "/tmp/guide"
MIRROR = "https://mirror.example"


def blocks(text):
    """The guide's commands as (line, code, shown output or None, output's line span): each
    ```sh block with the plain block after it, and each `$ ` line of a ```console block with
    the lines after it."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```console":
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            k = i + 1
            while k < j:
                if not lines[k].startswith("$ "):
                    k += 1
                    continue
                end = k + 1
                while end < j and not lines[end].startswith("$ "):
                    end += 1
                code = "{ " + lines[k][2:] + "\n} || true"
                out.append((k + 1, code, "\n".join(lines[k + 1 : end]), (k + 1, end)))
                k = end
            i = j + 1
        elif lines[i].strip() == "```sh":
            start = i + 1
            j = start
            while lines[j].strip() != "```":
                j += 1
            code = "\n".join(lines[start:j])
            shown, span = None, None
            if j + 1 < len(lines) and lines[j + 1].strip() == "```":
                k = j + 2
                while lines[k].strip() != "```":
                    k += 1
                shown, span = "\n".join(lines[j + 2 : k]), (j + 2, k)
                j = k
            out.append((start, code, shown, span))
            i = j + 1
        else:
            i += 1
    return out


HEX = re.compile(r"\b[0-9a-f]{12}…[0-9a-f]{4}\b|\b[0-9a-f]{12,}\b")
DID = re.compile(r"did:key:z[1-9A-HJ-NP-Za-km-z]{40,}")
LONG = re.compile(r"\b[0-9a-f]{64}\b")
PID = re.compile(r"\(pid \d+\)")
TIME = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b")


def normal(line):
    line = PID.sub("(pid <n>)", line.rstrip())
    return TIME.sub("<time>", DID.sub("<did>", HEX.sub("<hex>", line)))


def matches(shown, actual):
    """Whether the shown lines describe the actual ones (`…` alone spans any lines)."""
    want = [normal(l) for l in shown.split("\n")] if shown else []
    got = [normal(l) for l in actual.rstrip("\n").split("\n")] if actual.strip() else []

    def go(w, g):
        if w == len(want):
            return g == len(got)
        if want[w] == "…":
            return any(go(w + 1, k) for k in range(g, len(got) + 1))
        return g < len(got) and want[w] == got[g] and go(w + 1, g + 1)

    return go(0, 0)


class Mirror:
    """https://mirror.example: an HTTPS server with range requests over one directory."""

    def __init__(self, root, pki):
        ca_key, ca, key, cert = (pki / n for n in ("ca.key", "ca.pem", "leaf.key", "leaf.pem"))
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        run("openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", ca_key,
            "-out", ca, "-days", "2", "-subj", "/CN=msez docs mirror CA")
        run("openssl", "req", "-newkey", "ed25519", "-nodes", "-keyout", key, "-out",
            pki / "leaf.csr", "-subj", "/CN=localhost")
        (pki / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("openssl", "x509", "-req", "-in", pki / "leaf.csr", "-CA", ca, "-CAkey", ca_key,
            "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", pki / "ext")
        self.ca = ca
        handler = type("H", (RangeHandler,), {"root": root})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class RangeHandler(http.server.BaseHTTPRequestHandler):
    root = None

    def log_message(self, *_):
        pass

    def do_HEAD(self):
        self.serve(body=False)

    def do_GET(self):
        self.serve(body=True)

    def serve(self, body):
        path = Path(self.root) / self.path.lstrip("/").split("?")[0]
        if ".." in self.path or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if m:
            a, b = m.groups()
            if a == "":
                a, b = max(0, len(data) - int(b)), len(data) - 1
            else:
                a, b = int(a), min(int(b) if b else len(data) - 1, len(data) - 1)
            part = data[a : b + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {a}-{b}/{len(data)}")
        else:
            part = data
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if body:
            self.wfile.write(part)


def litter():
    """What the repository's working tree holds, outside target/ (a guide must not add to it)."""
    git = ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=all"]
    return set(subprocess.run(git, capture_output=True, text=True).stdout.splitlines())


def run_guide(md, update, keep):
    text = md.read_text()
    found = blocks(text)
    tmp = Path(tempfile.mkdtemp(prefix="msez-docs-"))
    work, state = tmp / "guide", tmp / ".run"
    work.mkdir()
    state.mkdir()
    mirror = None
    subs = [(GUIDE, str(work))]
    if MIRROR in text:
        pki = state / "pki"
        pki.mkdir()
        mirror = Mirror(work, pki)
        shutil.copy(mirror.ca, work / "mirror-ca.pem")
        subs.append((MIRROR, mirror.url))
    undo = [(b, a) for a, b in subs]

    def sub(s, table):
        for a, b in table:
            s = s.replace(a, b)
        return s

    script = ["set -euo pipefail", f"cd {ROOT}"]
    ran, skipped = [], []
    for n, (line, code, shown, span) in enumerate(found):
        marks = [l.strip() for l in code.split("\n") if l.strip().startswith(SKIP)]
        if marks:
            skipped.append((line, marks[0][len(SKIP):].strip()))
            continue
        ran.append(n)
        script += [
            f"exec >{state}/out.{n} 2>&1",
            f"echo {n} > {state}/block",
            sub(code, subs),
        ]
    script += [f"exec >{state}/out.end 2>&1", f"echo done > {state}/block"]
    (state / "run.sh").write_text("\n".join(script) + "\n")
    env = dict(os.environ)
    bin_dir = os.environ.get("MSEZ_BIN_DIR", str(ROOT / "target" / "debug"))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env.pop("SOURCE_DATE_EPOCH", None)
    for k in [k for k in env if k.startswith("MSEZ_TEST_") or k.startswith("AWS_")]:
        env.pop(k)
    before = litter()
    proc = subprocess.run(["bash", str(state / "run.sh")], env=env, cwd=ROOT,
                          stdin=subprocess.DEVNULL)
    left = litter() - before
    # A guide that stopped with something mounted must not keep it (or the directory) busy.
    with open("/proc/mounts") as mounts:
        for m in [l.split()[1] for l in mounts if l.split()[1].startswith(str(tmp))]:
            subprocess.run(["fusermount3", "-u", "-z", m], capture_output=True)
    if mirror:
        mirror.close()
    failures = []
    last = (state / "block").read_text().strip()
    if proc.returncode != 0 or last != "done":
        n = int(last)
        out = (state / f"out.{n}").read_text(errors="replace")
        failures.append(f"{md}:{found[n][0]}: the block exited {proc.returncode}:\n"
                        f"{sub(found[n][1], subs)}\n--- its output:\n{out}")
    if left:
        failures.append(f"{md}: the guide wrote into the repository (cd into {GUIDE} first): "
                        + ", ".join(sorted(left)))
    new = text.split("\n")
    for n in reversed(ran):
        line, code, shown, span = found[n]
        f = state / f"out.{n}"
        if not f.exists() or shown is None:
            continue
        actual = sub(f.read_text(errors="replace"), undo)
        if update:
            text = actual.rstrip("\n")
            if "…" in shown:
                text = LONG.sub(lambda m: f"{m[0][:12]}…{m[0][-4:]}", text)
            new[span[0] : span[1]] = text.split("\n")
        elif not matches(shown, actual):
            diff = "\n".join(difflib.unified_diff(shown.split("\n"),
                                                  actual.rstrip("\n").split("\n"),
                                                  "shown", "printed", lineterm=""))
            failures.append(f"{md}:{line}: the shown output differs from the real one:\n{diff}")
    if update:
        md.write_text("\n".join(new))
    for line, why in skipped:
        print(f"{md}:{line}: not run: {why}")
    print(f"{md}: {len(ran)} block(s) run, {len(skipped)} not run, "
          f"{len(failures)} failure(s)" + (f"; kept {tmp}" if keep else ""))
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("files", nargs="+", type=Path)
    a = ap.parse_args()
    failures = [f for md in a.files for f in run_guide(md.resolve(), a.update, a.keep)]
    for f in failures:
        print(f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
