"""gunicorn.conf.py with DEBUG=false, as a web node runs: probes, hashed static files, metrics of every worker."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures_emulator import _free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
TOKEN = "gunicorn-test-metrics-token-0123456789"

pytestmark = [pytest.mark.serving, pytest.mark.django_db]


def _database_url() -> str:
    """The test database this run created, for the gunicorn workers to use too."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="module")
def node(django_db_setup, tmp_path_factory):
    """collectstatic into a temporary STATIC_ROOT, then gunicorn (2 workers) on a free port; stopped with SIGTERM."""
    tmp_path = tmp_path_factory.mktemp("node")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "gunicorn-test-secret-key-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": _database_url(),
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "2",
        "WEB_THREADS": "2",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "LOG_FORMAT": "json",
    }
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert collected.returncode == 0, collected.stderr
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or a worker still importing the app
                pass
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz within 30 s"
            time.sleep(0.2)
        yield base, tmp_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_a_web_node_answers_probes_and_serves_hashed_compressed_static_files(node):
    base, tmp_path = node
    health = requests.get(base + "/healthz", timeout=5)
    assert health.json() == {"status": "ok"}
    ready = requests.get(base + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"

    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    hashed = manifest["admin/css/base.css"]
    assert hashed != "admin/css/base.css"
    static = requests.get(f"{base}/static/{hashed}", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert static.status_code == 200
    assert static.headers["Content-Type"].startswith("text/css")
    assert static.headers["Content-Encoding"] == "gzip"
    assert "immutable" in static.headers["Cache-Control"]

    login = requests.get(base + "/admin/login/", timeout=10)
    assert login.status_code == 200
    assert f"/static/{hashed}" in login.text  # pages link the hashed names
    assert "style-src 'self'" in login.headers["Content-Security-Policy"]


def _login_requests_counted(base: str) -> tuple[float, str]:
    text = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).text
    counted = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ledgerline_http_request_duration_seconds_count":
                counted += sample.value if sample.labels["view"] == "admin:login" else 0
    return counted, text


def test_metrics_from_any_worker_add_up_every_worker(node):
    base, _ = node
    before, _ = _login_requests_counted(base)
    pages = 12
    for _ in range(pages):
        # A new connection each time, so both workers answer some of them.
        assert requests.get(base + "/admin/login/", timeout=10, headers={"Connection": "close"}).status_code == 200
    after, text = _login_requests_counted(base)
    assert after - before == pages
    assert "ledgerline_disagreements_open" in text
