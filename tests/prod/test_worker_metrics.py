"""The worker's own metrics (WORKER_METRICS_BIND): Dots calls made by tasks in qcluster's processes, added up."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection
from django_q.tasks import async_task
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures_emulator import _free_port
from tests.prod.test_gunicorn import _database_url

ROOT = Path(__file__).resolve().parents[2]
OPERATION = "GET /v2/accounts-payable/approvers"

pytestmark = [pytest.mark.serving, pytest.mark.django_db(transaction=True)]


def _approver_reads(base: str) -> float:
    text = requests.get(base + "/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ledgerline_dots_calls_total" and sample.labels["operation"] == OPERATION
    )


def test_a_task_s_dots_calls_are_counted_on_the_worker_s_metrics(dots, tmp_path, settings):
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_SETTINGS"))},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,  # tasks are signed with it
        "DATABASE_URL": _database_url(),
        "DOTS_API_URL": dots.base_url,
        "DOTS_CLIENT_ID": dots.client_id,
        "DOTS_API_KEY": dots.api_key,
        "Q_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "WORKER_METRICS_BIND": f"127.0.0.1:{port}",
    }
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "counter_1.db").write_bytes(b"left by a previous run")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                before = _approver_reads(base)
                break
            except requests.RequestException:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                assert time.monotonic() < deadline, "the worker's metrics did not answer within 30 s"
                time.sleep(0.3)
        assert before == 0  # the previous run's file was removed at start
        connection.close()  # the worker reads the queue from its own connection; nothing of ours is held open
        async_task("payables.tasks.sync_approvers", sync=False)
        deadline = time.monotonic() + 60
        while _approver_reads(base) < 1:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)  # the cluster stops its own processes
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()
