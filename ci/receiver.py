#!/usr/bin/env python3
"""A loopback stand-in for the Allstacks Custom CD webhook, for end-to-end tests.

Listens on 127.0.0.1:PORT (0 picks a free port; --host only for a CI runner whose action
containers cannot reach the host loopback), records every request as one JSON line
(method, path, headers, body parsed as JSON when it is JSON, else the raw text) in --log, answers
200 with a small JSON body (or --status CODE), and stops by itself after --lifetime seconds or
after --max-requests requests. With --port-file it writes the port it bound, once listening,
so callers can wait for that file instead of sleeping.

With --files DIR it is a file server instead (a release host stand-in): GET and HEAD answer with
the file under DIR (404 when absent or outside DIR), and each request is logged as above plus
the status it got, so a test can prove which files were fetched.
"""
import argparse
import json
import os
import posixpath
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (tests here: loopback only)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True, help="JSON Lines file to append requests to")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--status", type=int, default=200, help="HTTP status to answer with")
    ap.add_argument("--lifetime", type=float, default=600.0, help="seconds before stopping")
    ap.add_argument("--max-requests", type=int, default=100)
    ap.add_argument("--files", help="serve the files under this directory instead of recording posts")
    args = ap.parse_args()
    files_root = os.path.realpath(args.files) if args.files else None

    lock = threading.Lock()
    count = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _log(self, body, **extra) -> bool:
            """Appends this request to the log; says whether it was the last one allowed."""
            entry = {
                "time": time.time(),
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body,
                **extra,
            }
            with lock:
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")
                count["n"] += 1
                return count["n"] >= args.max_requests

        def _answer(self, status, ctype, data, send_body=True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if send_body:
                self.wfile.write(data)

        def _stop_if(self, done) -> None:
            if done:
                threading.Thread(target=server.shutdown, daemon=True).start()

        def _serve_file(self) -> None:
            rel = posixpath.normpath("/" + self.path.split("?", 1)[0]).lstrip("/")
            path = os.path.realpath(os.path.join(files_root, rel))
            data, status = None, 404
            if (path == files_root or path.startswith(files_root + os.sep)) and os.path.isfile(path):
                with open(path, "rb") as f:
                    data, status = f.read(), 200
            done = self._log(None, status=status)
            if data is None:
                self._answer(404, "text/plain", b"not found\n", self.command != "HEAD")
            else:
                self._answer(200, "application/octet-stream", data, self.command != "HEAD")
            self._stop_if(done)

        def _record(self) -> None:
            if files_root is not None:
                if self.command in ("GET", "HEAD"):
                    self._serve_file()
                else:
                    done = self._log(None, status=405)
                    self._answer(405, "text/plain", b"method not allowed\n")
                    self._stop_if(done)
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, MAX_BODY)) if length else b""
            text = raw.decode("utf-8", "replace")
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
            done = self._log(body)
            answer = json.dumps({"ok": args.status < 300, "received": count["n"]}).encode()
            self._answer(args.status, "application/json", answer, self.command != "HEAD")
            self._stop_if(done)

        do_POST = do_PUT = do_GET = do_HEAD = _record

        def log_message(self, fmt, *a):  # quiet: the log file is the record
            sys.stderr.write("receiver: %s\n" % (fmt % a))

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, args.port_file)
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    sys.stderr.write(f"receiver: listening on {args.host}:{port}, log {args.log}\n")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        timer.cancel()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
