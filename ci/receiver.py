#!/usr/bin/env python3
"""A loopback stand-in for the Allstacks Custom CD webhook, for end-to-end tests.

Listens on 127.0.0.1:PORT (0 picks a free port; --host only for a CI runner whose action
containers cannot reach the host loopback), records every request as one JSON line
(method, path, headers, body parsed as JSON when it is JSON, else the raw text) in --log, answers
200 with a small JSON body (or --status CODE), and stops by itself after --lifetime seconds or
after --max-requests requests. With --port-file it writes the port it bound, once listening,
so callers can wait for that file instead of sleeping.
"""
import argparse
import json
import os
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
    args = ap.parse_args()

    lock = threading.Lock()
    count = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, MAX_BODY)) if length else b""
            text = raw.decode("utf-8", "replace")
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
            entry = {
                "time": time.time(),
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": body,
            }
            with lock:
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")
                count["n"] += 1
                done = count["n"] >= args.max_requests
            answer = json.dumps({"ok": args.status < 300, "received": count["n"]}).encode()
            self.send_response(args.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer)
            if done:
                threading.Thread(target=server.shutdown, daemon=True).start()

        do_POST = do_PUT = do_GET = _record

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
