#!/usr/bin/env python
"""A tiny round-robin HTTP proxy on 127.0.0.1 for the two-node run of bench/load.py (as a load balancer).

    .venv/bin/python bench/rr_proxy.py --port 8080 --backend http://127.0.0.1:8001 --backend http://127.0.0.1:8002

Each request goes to the next backend in turn, whoever sent it (no sticky sessions: a session must
hold on every node). Threaded; a new connection to the backend for each request (a POST is never
sent twice); bodies are read whole (no streaming). `GET /_proxy/stats` answers how many requests each backend took.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


class RoundRobin:
    def __init__(self, backends: list[str]) -> None:
        self.backends = [urlsplit(b) for b in backends]
        self.turns = itertools.cycle(range(len(backends)))
        self.lock = threading.Lock()
        self.counts = [0] * len(backends)

    def next_backend(self) -> int:
        with self.lock:
            index = next(self.turns)
            self.counts[index] += 1
            return index


def make_handler(balancer: RoundRobin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args) -> None:  # noqa: A002, ANN001 - quiet
            pass

        def _forward(self) -> None:
            if self.path == "/_proxy/stats":
                body = json.dumps({"requests": balancer.counts}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            index = balancer.next_backend()
            backend = balancer.backends[index]
            conn = http.client.HTTPConnection(backend.hostname, backend.port, timeout=120)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                content = answer.read()
            finally:
                conn.close()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _forward

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", action="append", required=True, help="http://127.0.0.1:PORT (repeat)")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(RoundRobin(args.backend)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
