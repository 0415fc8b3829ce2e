"""A worker killed while Dots holds its deposit call: the task runs again, Dots has one transfer.

The worker is a real process on the test's database and emulator; the emulator holds the call
(a latency fault: it does the work after the wait, with nobody left to hear the answer), the
worker gets SIGKILL mid-call, and then the task runs again as the ORM broker would present it.
"""

import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from core.audit import system_user
from dots.client import DotsClient
from tests.chaos_worker import worker_env
from tests.fixtures_emulator import REPO_ROOT
from wallet import sync, tasks, transfers
from wallet.models import WalletTransfer

pytestmark = pytest.mark.django_db(transaction=True)
HELD_MS = 3000
SCRIPT = (
    "import sys, django; django.setup(); from wallet import tasks; "
    "tasks.wallet_transfer_send(int(sys.argv[1]), int(sys.argv[2]))"
)


def _deposits_in_dots(dots) -> list[dict]:
    remote = DotsClient(dots.base_url, dots.client_id, dots.api_key)
    return [t.raw for t in remote.iter_transfers() if t.type == "refill"]


def _start_worker(dots, transfer, actor):
    env = worker_env(
        database=connection.settings_dict,
        dots_api_url=dots.base_url,
        client_id=dots.client_id,
        api_key=dots.api_key,
        timeout_seconds=30.0,
    )
    env["DOTS_LOG_LEVEL"] = "DEBUG"  # each call is logged, with its body, before it is sent
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(transfer.pk), str(actor.pk)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_sending(worker) -> None:
    """Until the worker logged the start of its deposit call."""
    seen = []
    for line in worker.stderr:
        seen.append(line)
        if "POST" in line and "/deposit" in line and "body=" in line:
            return
    raise AssertionError(f"the worker exited ({worker.wait()}) before calling Dots: {''.join(seen)[-3000:]}")


@pytest.mark.parametrize("then", ["task again", "sync"])
def test_a_worker_killed_mid_deposit_leaves_one_transfer_in_dots(
    dots, verified_account, team, settings, monkeypatch, then
):
    # Asked here, sent by the worker process: keep the task from running inline in this one.
    monkeypatch.setattr(transfers, "async_task", lambda *args, **kwargs: None)
    settings.PAY_REQUEST_STALE_SECONDS = 0  # the sync may take over a half-sent transfer at once
    transfer = transfers.transfer_request(
        actor=team.payer, app_id=verified_account.app.pk, kind="deposit", amount_cents=42_000
    )
    dots.add_fault(method="POST", path="/v2/apps/*/deposit", kind="latency", ms=HELD_MS, count=1)
    worker = _start_worker(dots, transfer, team.payer)
    _wait_until_sending(worker)
    time.sleep(0.3)  # the emulator now holds the call
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    time.sleep(HELD_MS / 1000 + 0.5)  # Dots makes the transfer, with nobody left to record it
    transfer.refresh_from_db()
    assert (transfer.status, transfer.dots_transfer_id) == (WalletTransfer.Status.TO_SEND, None)
    assert len(_deposits_in_dots(dots)) == 1

    if then == "task again":
        tasks.wallet_transfer_send(transfer.pk, team.payer.pk)  # the broker presents the task again
    else:
        sync.transfers_step(actor=system_user())

    transfer.refresh_from_db()
    in_dots = _deposits_in_dots(dots)
    assert [t["id"] for t in in_dots] == [transfer.dots_transfer_id]
    assert transfer.status == WalletTransfer.Status.CREATED
    sent = dots.received("POST", "/v2/apps/*/deposit")
    assert len(sent) == 2 and sent[0].get("idempotent_replay")
