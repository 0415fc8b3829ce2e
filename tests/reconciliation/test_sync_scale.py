"""Issue #18 §1: a sync step runs on its own, in chunks with a stored cursor, reads through a pool,
follows records by age, and never runs twice at once (core.sync_runner)."""

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.utils import timezone

from core import registry, sync_runner
from core import tasks as core_tasks
from core.audit import system_user
from core.models import SyncProgress
from payouts import sync as payouts_sync
from payouts.models import PayoutRequest, Transfer
from payouts.services import payout_requests
from tests.support import make_user

pytestmark = pytest.mark.django_db
STEP = "payout requests"
READ_PATH = "/v2/payout-requests/*"


@pytest.fixture
def operator(db):
    from core import roles

    return make_user("operator", role=roles.PAYOUTS_OPERATOR)


def _requests(operator, count: int) -> list[PayoutRequest]:
    made = []
    for i in range(count):
        request = payout_requests.payout_request_request(
            amount_cents=1000 + i, phone=f"20155501{i:02d}", memo="refund", actor=operator, push=False
        )
        made.append(payout_requests.payout_request_push(payout_request_id=request.pk, actor=operator))
    assert all(r.status == PayoutRequest.Status.CREATED for r in made)
    return made


def _approve_in_dots(dots, requests) -> None:
    for request in requests:
        dots.control(f"payout-requests/{request.dots_id}/approve")


def _reads(dots) -> Counter:
    """How many times the emulator was asked for each payout request (GET by id)."""
    return Counter(
        entry["path"].rsplit("/", 1)[-1]
        for entry in dots.received("GET", READ_PATH)
        if entry["path"].count("/") >= 4 and not entry["path"].endswith("payout-requests")
    )


def _scheduled(name: str = STEP, *, full: bool = False):
    return sync_runner.run_step(registry.discover().sync_steps[name], actor=system_user(), full=full, scheduled=True)


class _Killed(BaseException):
    """What a worker's death looks like to the code it was running: nothing after it runs."""


def test_a_step_killed_mid_pass_resumes_after_its_cursor_and_reads_nothing_twice_beyond_the_chunk_in_flight(
    dots, operator, settings, monkeypatch
):
    settings.SYNC_CHUNK_SIZE = 3
    made = _requests(operator, 8)
    real_client = payouts_sync.client
    lock = threading.Lock()
    calls = {"n": 0}

    def dying_client():
        with lock:
            calls["n"] += 1
            if calls["n"] > 5:  # the sixth read, in the second chunk: the worker dies there
                raise _Killed()
        return real_client()

    monkeypatch.setattr(payouts_sync, "client", dying_client)
    with pytest.raises(_Killed):
        core_tasks.sync_step(STEP)

    progress = SyncProgress.objects.get(step=STEP)
    assert progress.cursor == str(made[2].pk)  # the first chunk was stored; the second was in flight
    checked = set(PayoutRequest.objects.filter(sync_checked_at__isnull=False).values_list("pk", flat=True))
    assert checked == {r.pk for r in made[:3]}

    monkeypatch.setattr(payouts_sync, "client", real_client)
    summary = core_tasks.sync_step(STEP)

    assert "5 checked, 0 changed (5 due, 0 left for the next run)" in summary
    assert PayoutRequest.objects.filter(sync_checked_at__isnull=True).count() == 0
    reads = _reads(dots)
    in_flight = {r.dots_id for r in made[3:6]}
    assert all(reads[r.dots_id] == 1 for r in made if r.dots_id not in in_flight)
    assert all(reads[dots_id] <= 2 for dots_id in in_flight)
    progress.refresh_from_db()
    assert progress.cursor == "" and progress.last_pass_finished_at is not None and progress.lease_until is None


def test_backoff_reads_a_record_again_after_a_tenth_of_its_age_between_five_minutes_and_six_hours(dots, operator):
    fresh, day_old, month_old = _requests(operator, 3)
    now = timezone.now()
    PayoutRequest.objects.filter(pk=day_old.pk).update(updated_at=now - dt.timedelta(hours=10))
    PayoutRequest.objects.filter(pk=month_old.pk).update(updated_at=now - dt.timedelta(days=30))

    report = _scheduled()

    assert (report.due, report.checked, report.left) == (3, 3, 0)
    due = {r.pk: r.sync_due_at - r.sync_checked_at for r in PayoutRequest.objects.all()}
    assert due[fresh.pk] == dt.timedelta(minutes=5)
    assert abs(due[day_old.pk] - dt.timedelta(hours=1)) < dt.timedelta(seconds=5)
    assert due[month_old.pk] == dt.timedelta(hours=6)

    # Nothing is due a moment later; once the fresh one's time comes, only it is read.
    assert _scheduled().due == 0
    PayoutRequest.objects.filter(pk=fresh.pk).update(sync_due_at=timezone.now() - dt.timedelta(seconds=1))
    before = _reads(dots)
    report = _scheduled()
    assert (report.due, report.checked) == (1, 1)
    assert _reads(dots) - before == Counter({fresh.dots_id: 1})


def test_the_nightly_full_pass_and_a_person_asking_read_every_followed_record_due_or_not(dots, operator):
    made = _requests(operator, 3)
    _scheduled()
    assert _scheduled().due == 0

    assert _scheduled(full=True).checked == 3
    report = sync_runner.run_step(
        registry.discover().sync_steps[STEP], actor=system_user(), full=False, scheduled=False
    )
    assert report.checked == 3
    assert SyncProgress.objects.get(step=STEP).last_full_pass_at is not None
    assert len(made) == 3


def test_the_pool_reads_concurrently_and_the_emulator_sees_the_reads_overlap(dots, operator, settings):
    settings.DOTS_READ_CONCURRENCY = 8
    _requests(operator, 8)
    dots.add_fault(method="GET", path=READ_PATH, kind="latency", ms=300)

    started = time.monotonic()
    report = _scheduled()
    elapsed = time.monotonic() - started

    assert report.checked == 8 and not report.errors
    assert elapsed < 8 * 0.3 / 2  # sequential reads would take 2.4 s
    reads = sorted(
        (e["at"], e["at"] + (e["ms"] or 0) / 1000) for e in dots.received("GET", READ_PATH) if e["status"] == 200
    )
    overlapping = sum(1 for (_, end), (start, _) in zip(reads, reads[1:], strict=False) if start < end)
    assert overlapping >= 4


def test_rate_limited_reads_are_retried_by_the_pool_without_multiplying_requests(dots, operator):
    made = _requests(operator, 6)
    _approve_in_dots(dots, made)
    dots.add_fault(method="GET", path=READ_PATH, kind="status", status=429, count=2)

    report = _scheduled()

    assert report.changed == 6 and not report.errors
    assert len(dots.received("GET", READ_PATH)) == 6 + 2  # each 429 retried once, nothing more


def test_two_runs_of_a_step_never_overlap_and_a_lapsed_lease_is_taken_over(dots, operator):
    _requests(operator, 2)
    assert sync_runner._acquire(STEP, "another-worker")

    summary = core_tasks.sync_step(STEP)

    assert "already running since" in summary and "left to that run" in summary
    assert dots.received("GET", READ_PATH) == []
    # The other run died: once its lease lapses, the next run takes the step.
    SyncProgress.objects.filter(step=STEP).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert "2 checked" in core_tasks.sync_step(STEP)
    assert SyncProgress.objects.get(step=STEP).lease_owner == ""


def test_a_run_out_of_time_reports_due_read_and_left_and_its_task_goes_on_with_the_rest(dots, operator, settings):
    settings.SYNC_CHUNK_SIZE = 2
    settings.SYNC_STEP_BUDGET_SECONDS = 0.5
    settings.DOTS_READ_CONCURRENCY = 1
    _requests(operator, 6)
    dots.add_fault(method="GET", path=READ_PATH, kind="latency", ms=300)

    report = _scheduled()

    read = report.checked
    assert 1 <= read < 6 and (report.due, report.left, report.more) == (6, 6 - read, True)
    assert f"{read} checked, 0 changed (6 due, {6 - read} left for the next run)" in report.summary()
    progress = SyncProgress.objects.get(step=STEP)
    assert (progress.last_due, progress.last_read, progress.last_left) == (6, read, 6 - read)

    # The task enqueues the step again until the pass is done (inline here: Q_CLUSTER sync).
    core_tasks.sync_step(STEP)
    assert PayoutRequest.objects.filter(sync_checked_at__isnull=True).count() == 0
    assert SyncProgress.objects.get(step=STEP).cursor == ""


def test_the_nightly_full_transfer_pass_resumes_page_by_page_within_its_budget(dots, settings):
    dots.control("seed/transfers", {"count": 350})
    settings.SYNC_STEP_BUDGET_SECONDS = 0  # one page a run

    first = _scheduled("transfers", full=True)

    assert first.more and Transfer.objects.count() == 100
    cursor = SyncProgress.objects.get(step="transfers").cursor
    assert cursor and Transfer.objects.filter(dots_id=cursor).exists()
    for _ in range(4):
        if not _scheduled("transfers", full=True).more:
            break
    assert Transfer.objects.count() == 350
    listed = [e["query"] for e in dots.received("GET", "/v2/transfers")]
    assert len(listed) == len({str(q) for q in listed})  # no page was read twice
    assert SyncProgress.objects.get(step="transfers").cursor == ""


def test_the_scheduled_sync_enqueues_one_task_per_step(dots, operator):
    from django_q.models import Success

    from reconciliation.tasks import sync_dots

    _requests(operator, 1)
    summary = sync_dots()

    assert "payout requests: 1 checked, 0 changed (1 due, 0 left for the next run)" in summary
    ran = set(Success.objects.filter(func="core.tasks.sync_step").values_list("args", flat=True))
    assert len(ran) == len([s for s in registry.sync_steps() if s.scheduled])


def test_the_sync_page_says_for_each_step_how_many_were_due_read_and_left(dots, operator, client):
    from core import roles
    from tests.support import login_verified

    _requests(operator, 2)
    _scheduled()
    SyncProgress.objects.filter(step=STEP).update(lease_until=timezone.now() + dt.timedelta(seconds=60))
    login_verified(client, make_user("payer", role=roles.PAYER))

    page = client.get("/admin/reconciliation/discrepancy/").content.decode()

    assert "Sync with Dots, step by step" in page
    assert "Payout requests" in page and "2 due, 2 read, 0 left for the next run" in page
    assert "running since" in page and "not run yet" in page  # the other steps have not run here
