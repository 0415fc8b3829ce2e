"""bench/rr_proxy.py, the load test's stand-in load balancer: each request to the next node in turn, as sent.

The two-node load test (bench/load.py) only proves sessions and files are shared if the proxy really
sends consecutive requests of one person to different nodes, passing cookies, bodies, statuses and
redirects through untouched.
"""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.fixtures_emulator import _free_port

ROOT = Path(__file__).resolve().parents[2]


def _node(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/go-elsewhere":
                self._answer(302, b"", Location="/admin/login/")
                return
            seen = {"node": name, "path": self.path, "cookie": self.headers.get("Cookie", "")}
            self._answer(200, json.dumps(seen).encode(), Set_Cookie=f"served_by={name}")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self._answer(201, json.dumps({"node": name, "body": body.decode()}).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def proxy():
    nodes = [_node("A"), _node("B")]
    port = _free_port()
    backends = [arg for n in nodes for arg in ("--backend", f"http://127.0.0.1:{n.server_address[1]}")]
    process = subprocess.Popen([sys.executable, "bench/rr_proxy.py", "--port", str(port), *backends], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            requests.get(url + "/_proxy/stats", timeout=1)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "the proxy did not start"
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)
    for node in nodes:
        node.shutdown()


def test_one_persons_requests_alternate_between_the_nodes_with_their_cookies(proxy):
    session = requests.Session()
    session.cookies.set("sessionid", "abc123", domain="127.0.0.1")
    answers = [session.get(proxy + f"/page/{i}").json() for i in range(4)]

    assert [a["node"] for a in answers] == ["A", "B", "A", "B"]
    assert [a["path"] for a in answers] == ["/page/0", "/page/1", "/page/2", "/page/3"]
    assert all("sessionid=abc123" in a["cookie"] for a in answers)
    # A cookie one node set reaches the other.
    assert "served_by=A" in answers[1]["cookie"]
    assert requests.get(proxy + "/_proxy/stats").json() == {"requests": [2, 2]}


def test_bodies_statuses_and_redirects_pass_through_untouched(proxy):
    posted = requests.post(proxy + "/form", data={"confirm": "1", "comment": "Checked."})
    assert posted.status_code == 201
    assert posted.json()["body"] == "confirm=1&comment=Checked."

    moved = requests.get(proxy + "/go-elsewhere", allow_redirects=False)
    assert moved.status_code == 302
    assert moved.headers["Location"] == "/admin/login/"
