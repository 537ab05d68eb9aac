#!/usr/bin/env python3
"""A counting HTTP proxy for benchmarks and tests (Python standard library only).

Every request a client makes passes through it to an upstream HTTP server (an S3 endpoint:
signatures stay valid because the Host header is forwarded as the client signed it) or is
served from a static directory; the proxy counts requests by method and status and the body
bytes in each direction. The counts are what the benchmarks report as request counts: they
come from here, never from the counters of the program under test.

    counting-proxy.py (--upstream URL | --dir DIR) [--listen HOST:PORT] [--counts FILE] [--log FILE]

It prints `listening on http://HOST:PORT` (port 0: a free port chosen by the kernel) on stdout
once it accepts connections. Start it in the background, read that line, stop it by PID:

    SIGUSR1   write the counts to --counts now (atomically: a temp file renamed)
    SIGUSR2   reset the counts to zero (and truncate --log)
    SIGTERM   write the counts and exit (also SIGINT)

The counts file is JSON: {"requests": N, "by_method": {"GET": n, ...}, "by_status": {"200": n,
...}, "bytes_in": request body bytes from clients, "bytes_out": response body bytes to clients}.
--log appends one line per request, `METHOD PATH STATUS BYTES_IN BYTES_OUT`, written (and
flushed) before the response goes back, so once a client has its answers the log holds them.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Hop-by-hop headers are the proxy's own business (RFC 9110 7.6.1); Expect is answered here.
HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "content-length",
}


class Counts:
    """Thread-safe request counts and the optional per-request log."""

    def __init__(self, counts_path, log_path):
        self.lock = threading.RLock()  # signal handlers run in the main thread, maybe inside write()
        self.counts_path = counts_path
        self.log_path = log_path
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = 0
            self.by_method = {}
            self.by_status = {}
            self.bytes_in = 0
            self.bytes_out = 0
            if self.log:
                self.log.seek(0)
                self.log.truncate()
                self.log.flush()

    def add(self, method, path, status, n_in, n_out):
        with self.lock:
            self.requests += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1
            key = str(status)
            self.by_status[key] = self.by_status.get(key, 0) + 1
            self.bytes_in += n_in
            self.bytes_out += n_out
            if self.log:
                self.log.write(f"{method} {path} {status} {n_in} {n_out}\n")
                self.log.flush()

    def write(self):
        if not self.counts_path:
            return
        with self.lock:
            doc = {
                "requests": self.requests,
                "by_method": dict(sorted(self.by_method.items())),
                "by_status": dict(sorted(self.by_status.items())),
                "bytes_in": self.bytes_in,
                "bytes_out": self.bytes_out,
            }
        tmp = f"{self.counts_path}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.counts_path)


def read_body(handler):
    """The request body, whether sent with Content-Length or chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts = []
        while True:
            line = handler.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(parts)
    n = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(n) if n else b""


def make_handler(counts, upstream, root):
    local = threading.local()

    def connection():
        c = getattr(local, "conn", None)
        if c is None:
            cls = (
                http.client.HTTPSConnection
                if upstream.scheme == "https"
                else http.client.HTTPConnection
            )
            c = cls(upstream.hostname, upstream.port, timeout=300)
            c.connect()
            # Small requests and answers go out at once: Nagle's algorithm against the peer's
            # delayed ACK would add ~40 ms to each, and the proxy would measure itself.
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            local.conn = c
        return c

    def forward(method, path, headers, body):
        # One kept-alive connection per thread; a request that fails on a connection the
        # server closed meanwhile is sent once more on a fresh one.
        for attempt in (0, 1):
            c = connection()
            try:
                c.request(method, path, body=body if body or method in ("PUT", "POST") else None,
                          headers=headers)
                r = c.getresponse()
                return r.status, r.reason, r.getheaders(), r.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                c.close()
                local.conn = None
                if attempt:
                    raise

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args):
            pass

        def reply(self, status, reason, headers, data):
            self.send_response(status, reason)
            length = str(len(data))
            for k, v in headers:
                if k.lower() == "content-length" and self.command == "HEAD":
                    length = v  # a HEAD answer has no body but tells the object's size
                elif k.lower() not in HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def static(self):
            rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
            full = os.path.realpath(os.path.join(root, rel))
            inside = full == root or full.startswith(root + os.sep)
            if self.command in ("GET", "HEAD") and inside and os.path.isfile(full):
                with open(full, "rb") as f:
                    data = f.read()
                return 200, "OK", [("Content-Type", "application/octet-stream")], data
            if self.command not in ("GET", "HEAD"):
                return 405, "Method Not Allowed", [], b""
            return 404, "Not Found", [], b""

        def handle_one(self):
            body = read_body(self)
            if root is not None:
                status, reason, headers, data = self.static()
            else:
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP]
                if body or self.command in ("PUT", "POST"):
                    headers.append(("Content-Length", str(len(body))))
                try:
                    status, reason, headers, data = forward(self.command, self.path,
                                                            dict(headers), body)
                except (http.client.HTTPException, OSError) as e:
                    status, reason, headers, data = 502, "Bad Gateway", [], str(e).encode()
            sent = 0 if self.command == "HEAD" else len(data)
            counts.add(self.command, self.path, status, len(body), sent)
            self.reply(status, reason, headers, data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--upstream", help="base URL of the server to forward to (http or https)")
    src.add_argument("--dir", help="serve the files under this directory (GET and HEAD)")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (default 127.0.0.1:0)")
    ap.add_argument("--counts", help="the JSON counts file (SIGUSR1 and exit write it)")
    ap.add_argument("--log", help="append one line per request to this file")
    a = ap.parse_args()

    upstream = urllib.parse.urlsplit(a.upstream) if a.upstream else None
    if upstream is not None and (upstream.scheme not in ("http", "https") or not upstream.hostname):
        ap.error(f"--upstream {a.upstream!r}: an http(s)://host[:port] URL")
    root = os.path.realpath(a.dir) if a.dir else None
    counts = Counts(a.counts, a.log)
    host, _, port = a.listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), make_handler(counts, upstream, root))
    server.daemon_threads = True

    def stop(*_):
        counts.write()
        # Every answered request is in the counts and the log already; a graceful shutdown
        # would only wait for idle keep-alive connections.
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, lambda *_: counts.write())
    signal.signal(signal.SIGUSR2, lambda *_: counts.reset())
    counts.write()
    h, p = server.server_address[:2]
    print(f"listening on http://{h}:{p}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
