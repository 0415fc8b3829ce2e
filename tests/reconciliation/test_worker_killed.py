"""Issues #7 and #14: a worker killed in the middle of a pay (by hand or on its scheduled day) or an
import loses nothing and sends nothing twice.

Each test starts a real worker process (tests/chaos_worker.py) on the test's own database
and emulator, holds its Dots call open (an emulator latency fault, or a server that never
answers), sends it SIGKILL mid-call, and then picks the work up again the way production
does: the task runs again and reconciliation runs. The emulator's own records are the judge.
"""

import fnmatch
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from core import roles
from core.audit import system_user
from core.models import AuditEvent
from dots.client import DotsClient
from notifications.models import Notification
from payables import scheduled
from payables import services as payable_services
from payables import tasks as payable_tasks
from payables.errors import InvalidTransition
from payables.models import Payable
from payables.seam import SCHEDULED_PAYMENT
from payouts import tasks as payout_tasks
from payouts.models import Payee, PayeeImport, PayeeImportRow, PayoutLink
from payouts.services import payee_import_check, payee_imports, payout_links
from tests.chaos_support import PAYMENT_ACTIONS
from tests.chaos_worker import worker_env
from tests.fixtures_emulator import REPO_ROOT
from tests.support import make_user

pytestmark = pytest.mark.django_db(transaction=True)
S = Payable.Status
Row = PayeeImportRow.Status
PAY_PATH = "/v2/accounts-payable/payables/*/pay"
HELD_MS = 3000  # how long the emulator holds the call the worker dies in


@pytest.fixture
def kill_settings(settings):
    # A pay_requested older than 1 s has no caller left; Dots showing "approved" is believed
    # only 5 s after the call, longer than the 3 s the emulator holds the killed call.
    settings.PAY_REQUEST_STALE_SECONDS = 1
    settings.PAY_OUTCOME_SETTLE_SECONDS = 5
    return settings


class Worker:
    """A worker process on the test's database and emulator; its Dots calls are logged to stderr
    at debug level *before* they are sent, so the test knows when one is in flight."""

    def __init__(self, emulator, *args, dots_api_url=None, timeout_seconds=30.0, extra_env=None) -> None:
        env = worker_env(
            database=connection.settings_dict,
            dots_api_url=dots_api_url or emulator.base_url,
            client_id=emulator.client_id,
            api_key=emulator.api_key,
            timeout_seconds=timeout_seconds,
        )
        env["DOTS_LOG_LEVEL"] = "DEBUG"
        env.update(extra_env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos_worker", *map(str, args)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_until_sending(self, method: str, path_glob: str, *, seconds: float = 30.0) -> None:
        """Until the worker has logged the start of a call (`dots POST /v2/... body=...`)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in list(self.lines):
                words = line.split()
                if (
                    "dots" in words
                    and method in words
                    and "body=" in line
                    and any(fnmatch.fnmatchcase(word, path_glob) for word in words)
                ):
                    return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the worker exited ({self.process.returncode}) before calling "
                    f"{method} {path_glob}: {''.join(self.lines)[-2000:]}"
                )
            time.sleep(0.02)
        raise AssertionError(f"the worker did not call {method} {path_glob} within {seconds}s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        assert self.process.returncode == -signal.SIGKILL


def payments_in_dots(emulator, payable) -> int:
    remote = DotsClient(emulator.base_url, emulator.client_id, emulator.api_key).retrieve_payable(
        payable_id=payable.dots_id
    )
    return sum(1 for entry in remote.raw.get("action_history") or [] if entry.get("action") in PAYMENT_ACTIONS)


def reconcile_until(condition, *, seconds: float = 20.0) -> None:
    """Run reconciliation until `condition()` holds."""
    from reconciliation.services import reconcile_all

    deadline = time.monotonic() + seconds
    while not condition():
        seen = list(Payable.objects.values_list("pk", "status", "dots_status", "last_dots_error"))
        assert time.monotonic() < deadline, f"reconciliation did not settle it in time: {seen}"
        reconcile_all(actor=system_user())
        time.sleep(0.2)


def status_of(payable) -> str:
    return Payable.objects.get(pk=payable.pk).status


def finish_in_dots_and_follow(emulator, payable) -> None:
    """Dots completes the payment; the follower task (scheduled in production) sees it."""
    emulator.control(f"payables/{payable.dots_id}/payment", {"status": "payment_completed"})
    assert payable_tasks.follow_payment(payable.pk) == S.PAYMENT_COMPLETED


# --- pay ----------------------------------------------------------------------------------------------


def test_a_worker_killed_while_dots_takes_the_payment_is_found_paid_and_never_paid_again(
    dots, people, approved_payable, kill_settings
):
    dots.add_fault(method="POST", path=PAY_PATH, kind="latency", ms=HELD_MS, count=1)
    worker = Worker(dots, "pay", approved_payable.pk, people.payer.pk)
    worker.wait_until_sending("POST", PAY_PATH)
    time.sleep(0.3)  # the emulator now holds the pay call
    worker.kill()
    assert Payable.objects.get(pk=approved_payable.pk).status == S.PAY_REQUESTED

    # The work comes back: the pay task again (refused, a payment is under way), then reconciliation.
    with pytest.raises(InvalidTransition, match="already under way"):
        payable_services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    reconcile_until(lambda: status_of(approved_payable) not in (S.PAY_REQUESTED, S.OUTCOME_UNKNOWN))

    assert status_of(approved_payable) == S.PAYMENT_INITIATED
    assert payments_in_dots(dots, approved_payable) == 1
    finish_in_dots_and_follow(dots, approved_payable)
    assert payments_in_dots(dots, approved_payable) == 1
    assert len(dots.received("POST", PAY_PATH)) == 1


@pytest.fixture
def unanswering_dots():
    """A TCP port that accepts connections and never answers: a call that never reaches Dots' logic."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api"


def test_a_worker_killed_before_dots_saw_the_payment_is_paid_once_after_the_settle_window(
    dots, people, make_payable, unanswering_dots, kill_settings
):
    # ACH-funded: no wallet check, so the pay call is the worker's only call to Dots.
    payable = make_payable(funding_source=Payable.FundingSource.ACH)
    payable_services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable_services.payable_approve(payable_id=payable.pk, actor=people.approver)
    payable.refresh_from_db()
    worker = Worker(dots, "pay", payable.pk, people.payer.pk, dots_api_url=unanswering_dots)
    worker.wait_until_sending("POST", PAY_PATH)
    time.sleep(0.3)  # the request is on its way to a server that never answers
    worker.kill()
    assert status_of(payable) == S.PAY_REQUESTED

    # Reconciliation finds no payment in Dots; only after the settle window may it be paid again.
    reconcile_until(lambda: status_of(payable) == S.OUTCOME_UNKNOWN)
    with pytest.raises(InvalidTransition, match="already under way"):
        payable_services.payable_pay(payable_id=payable.pk, actor=people.payer)
    reconcile_until(lambda: status_of(payable) == S.APPROVED)
    assert payments_in_dots(dots, payable) == 0
    assert dots.received("POST", PAY_PATH) == []

    payable_services.payable_pay(payable_id=payable.pk, actor=people.payer)
    finish_in_dots_and_follow(dots, payable)
    assert payments_in_dots(dots, payable) == 1
    assert len(dots.received("POST", PAY_PATH)) == 1


# --- pay on the day ------------------------------------------------------------------------------------


def test_a_scheduled_pay_whose_worker_is_killed_mid_call_pays_once_and_tells_the_payer_once(
    dots, people, approved_payable, kill_settings
):
    # Due from midnight: the worker runs the production task as it is, on today's schedule.
    kill_settings.SCHEDULED_PAY_HOUR = 0
    scheduled.payable_schedule_pay(payable_id=approved_payable.pk, actor=people.payer, pay_on=timezone.localdate())
    dots.add_fault(method="POST", path=PAY_PATH, kind="latency", ms=HELD_MS, count=1)
    worker = Worker(dots, "scheduled", extra_env={"SCHEDULED_PAY_HOUR": "0"})
    worker.wait_until_sending("POST", PAY_PATH)
    time.sleep(0.3)  # the emulator now holds the pay call the morning run made
    worker.kill()
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.status == S.PAY_REQUESTED and payable.pay_requested_by == people.payer
    assert payable.pay_run_claimed_at is not None and payable.pay_run_outcome == ""

    # The schedule's next run: the payment is in flight, so it sends nothing and tells nobody yet.
    assert "still in flight 1" in payable_tasks.pay_scheduled()
    time.sleep(HELD_MS / 1000)  # Dots takes the held payment, with nobody left to record it
    assert len(dots.received("POST", PAY_PATH)) == 1
    # Reconciliation reads the interrupted call back from Dots; the follower sees it complete.
    reconcile_until(lambda: status_of(payable) not in (S.PAY_REQUESTED, S.OUTCOME_UNKNOWN))
    assert status_of(payable) == S.PAYMENT_INITIATED
    finish_in_dots_and_follow(dots, payable)

    # The runs after that record the outcome for the payer, once, and still send nothing.
    assert "paid 1," in payable_tasks.pay_scheduled()
    assert "paid 0," in payable_tasks.pay_scheduled()
    payable.refresh_from_db()
    assert (payable.status, payable.pay_run_outcome) == (S.PAYMENT_COMPLETED, "paid")
    assert payments_in_dots(dots, payable) == 1
    assert len(dots.received("POST", PAY_PATH)) == 1
    told = Notification.objects.filter(recipient=people.payer, event=SCHEDULED_PAYMENT)
    assert [n.title for n in told] == [f"{payable.bill_number} from Acme Supplies ($250.00) was paid as you scheduled"]
    emails = [m.subject for m in mail.outbox if m.to == [people.payer.email] and "scheduled" in m.subject]
    assert emails == [told[0].title]
    assert AuditEvent.objects.filter(action="payable.scheduled_pay_outcome", object_id=str(payable.pk)).count() == 1


# --- payout link -----------------------------------------------------------------------------------------


def test_a_worker_killed_mid_link_push_makes_one_link_when_the_task_runs_again(dots):
    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    link = payout_links.payout_link_request(amount_cents=1_234, actor=operator, memo="killed push", push=False)
    dots.add_fault(method="POST", path="/v2/payout-links", kind="latency", ms=HELD_MS, count=1)
    worker = Worker(dots, "push", link.pk)
    worker.wait_until_sending("POST", "/v2/payout-links")
    time.sleep(0.3)  # the emulator now holds the call
    worker.kill()
    time.sleep(HELD_MS / 1000)  # Dots makes the link, with nobody left to record it
    link.refresh_from_db()
    assert (link.status, link.dots_id) == (PayoutLink.Status.PENDING, None)

    # The ORM broker presents the unacknowledged task again: same key, same body.
    payout_tasks.payout_link_push(link.pk)
    link.refresh_from_db()
    dots_links = [item.raw for item in DotsClient(dots.base_url, dots.client_id, dots.api_key).iter_payout_links()]
    assert [item["id"] for item in dots_links] == [link.dots_id]
    assert link.status == dots_links[0]["status"] == PayoutLink.Status.CREATED
    sent = dots.received("POST", "/v2/payout-links")
    assert len(sent) == 2 and sent[0].get("idempotent_replay")


# --- import ---------------------------------------------------------------------------------------------


def _csv(rows: int) -> bytes:
    lines = ["first_name,last_name,email,phone"]
    lines += [f"Kim{i},Park{i},kim{i}@example.com,201557{i:04d}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _dots_users(emulator) -> list[dict]:
    dots = DotsClient(emulator.base_url, emulator.client_id, emulator.api_key)
    return [user.raw for user in dots.iter_users()]


def test_a_worker_killed_mid_import_creates_every_payee_once_when_the_import_runs_again(dots, monkeypatch):
    rows = 40
    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    upload = __import__("io").BytesIO(_csv(rows))
    payee_import = payee_import_check.payee_import_preview(fileobj=upload, file_name="payees.csv", actor=operator)
    # Confirm here, run in the worker process: keep the queued task from running inline in this one.
    monkeypatch.setattr(payee_imports, "async_task", lambda *args, **kwargs: None)
    payee_imports.payee_import_confirm(import_id=payee_import.pk, actor=operator)

    dots.add_fault(method="POST", path="/v2/users", kind="latency", ms=HELD_MS)
    worker = Worker(dots, "import", payee_import.pk)
    worker.wait_until_sending("POST", "/v2/users")
    time.sleep(0.3)  # the emulator now holds the first calls
    worker.kill()
    in_flight = PayeeImportRow.objects.filter(payee_import=payee_import, status=Row.CREATING).count()
    assert in_flight > 0
    assert PayeeImport.objects.get(pk=payee_import.pk).status == PayeeImport.Status.RUNNING

    # The held calls finish in Dots with nobody to record them; then the task runs again.
    time.sleep(HELD_MS / 1000)
    dots.control("faults/clear")
    payout_tasks.payee_import_run(payee_import.pk)

    payee_import.refresh_from_db()
    assert payee_import.status == PayeeImport.Status.COMPLETED
    assert payee_import.created_count + payee_import.linked_count == rows
    assert payee_import.failed_count == 0
    assert set(payee_import.rows.values_list("status", flat=True)) <= {Row.CREATED, Row.LINKED}
    users = _dots_users(dots)
    phones = [user["phone_number"]["phone_number"] for user in users]
    assert len(phones) == rows == len(set(phones))
    assert Payee.objects.count() == rows
    assert set(Payee.objects.values_list("dots_user_id", flat=True)) == {user["id"] for user in users}
