"""The transfer mirror kept in step with Dots: incremental and full sync, failures days later,
webhooks, query counts per page, and a page that fails half-way."""

import json
import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.audit import system_user
from core.errors import DotsUnavailable
from core.models import AuditEvent
from dots.webhooks import sign
from payables import services as payable_services
from payouts import transfers
from payouts.models import Transfer, TransferSyncState

pytestmark = pytest.mark.django_db

THREE_DAYS = 3 * 24 * 3600


def list_requests(dots) -> list[dict]:
    return [r for r in dots.received("GET", "/v2/transfers") if r["path"].endswith("/v2/transfers")]


def seed(dots, count: int, **body) -> dict:
    return dots.control("seed/transfers", {"count": count, **body})


@pytest.fixture
def paid_and_pending(dots, people, approved_payable):
    """A payable paid in Dots whose transfer the bank has taken (pending), mirrored here."""
    payable = payable_services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert payable.dots_transfer_id
    dots.control(f"transfers/{payable.dots_transfer_id}/advance", {"status": "pending"})
    transfers.transfers_sync(actor=system_user())
    assert Transfer.objects.get(dots_id=payable.dots_transfer_id).status == "pending"
    return payable


def _assert_failed_with_reason_and_audited(payable, *, source: str):
    transfer = Transfer.objects.get(dots_id=payable.dots_transfer_id)
    assert (transfer.status, transfer.failure_reason) == ("failed", "R01: insufficient funds")
    event = AuditEvent.objects.get(action="transfer.changed", object_id=str(transfer.pk))
    assert (event.actor_label, event.source) == ("system", source)
    assert event.changes["status"] == {"before": "pending", "after": "failed"}
    assert event.changes["failure_reason"] == {"before": "", "after": "R01: insufficient funds"}
    assert transfers.links_for([transfer])[transfer.pk].payable == payable


def test_a_payment_that_fails_three_days_later_shows_failed_with_its_reason_after_the_sync(dots, paid_and_pending):
    dots.control("clock", {"advance_seconds": THREE_DAYS})
    dots.control(
        f"transfers/{paid_and_pending.dots_transfer_id}/advance",
        {"status": "failed", "reason": "R01: insufficient funds"},
    )

    result = transfers.transfers_sync(actor=system_user())

    _assert_failed_with_reason_and_audited(paid_and_pending, source=AuditEvent.Source.SYNC)
    assert result.changed == 1 and result.created == 0
    assert result.lines == [
        f"transfer {paid_and_pending.dots_transfer_id[:8]}… pending → failed (R01: insufficient funds)"
    ]


def test_a_pending_transfer_far_down_the_list_is_re_read_by_id_when_it_fails(dots, paid_and_pending):
    seed(dots, 250)  # newer transfers: the payment is now on page 3
    transfers.transfers_sync(actor=system_user())
    dots.control("clock", {"advance_seconds": THREE_DAYS})
    dots.control(
        f"transfers/{paid_and_pending.dots_transfer_id}/advance",
        {"status": "failed", "reason": "R01: insufficient funds"},
    )
    listed_before = len(list_requests(dots))

    result = transfers.transfers_sync(actor=system_user())

    assert result.stopped_early and result.pages == 1 and len(list_requests(dots)) == listed_before + 1
    assert result.reread == 1
    assert dots.received("GET", f"/v2/transfers/{paid_and_pending.dots_transfer_id}")
    _assert_failed_with_reason_and_audited(paid_and_pending, source=AuditEvent.Source.SYNC)


def test_a_payment_that_fails_three_days_later_shows_failed_after_dots_webhook(
    dots, paid_and_pending, client, settings, django_capture_on_commit_callbacks
):
    dots.control("clock", {"advance_seconds": THREE_DAYS})
    dots.control(
        f"transfers/{paid_and_pending.dots_transfer_id}/advance",
        {"status": "failed", "reason": "R01: insufficient funds"},
    )
    body = json.dumps({"event": "transfer.failed", "transfer_id": paid_and_pending.dots_transfer_id}).encode()
    headers = sign(
        secret=settings.DOTS_WEBHOOK_SECRET, msg_id="msg_" + uuid.uuid4().hex, timestamp=int(time.time()), body=body
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/webhooks/dots/", data=body, content_type="application/json", headers=headers)

    assert response.status_code == 200
    _assert_failed_with_reason_and_audited(paid_and_pending, source=AuditEvent.Source.WEBHOOK)


def test_an_incremental_sync_with_nothing_new_reads_one_page_and_a_full_one_reads_all(dots, db):
    seed(dots, 350)
    first = transfers.transfers_sync(actor=system_user())
    assert (first.pages, first.created, Transfer.objects.count()) == (4, 350, 350)
    before = len(list_requests(dots))

    again = transfers.transfers_sync(actor=system_user())

    assert (again.pages, again.stopped_early, again.created, again.changed) == (1, True, 0, 0)
    assert len(list_requests(dots)) == before + 1
    full = transfers.transfers_sync(actor=system_user(), full=True)
    assert (full.pages, full.stopped_early, full.unchanged) == (4, False, 350)
    assert len(list_requests(dots)) == before + 5


def test_new_transfers_on_top_are_read_until_a_known_page_and_audited_once_per_run(dots, db):
    seed(dots, 350)
    transfers.transfers_sync(actor=system_user())
    seed(dots, 120)

    result = transfers.transfers_sync(actor=system_user())

    # page 1: 100 new; page 2: 20 new, 80 known; page 3: all known -> stop
    assert (result.pages, result.created, result.stopped_early) == (3, 120, True)
    assert Transfer.objects.count() == 470
    summaries = AuditEvent.objects.filter(action="transfers.synced").order_by("id")
    assert [e.changes["new"]["after"] for e in summaries] == [350, 120]
    assert {(e.actor_label, e.source) for e in summaries} == {("system", "sync")}
    assert not AuditEvent.objects.filter(action="transfer.changed").exists()


def _split(queries) -> tuple[int, int]:
    """(queries on the transfer table, the rest: sync state and the run's summary audit event)."""
    on_transfers = [q for q in queries if '"payouts_transfer"' in q["sql"]]
    return len(on_transfers), len(queries) - len(on_transfers)


def test_a_full_sync_and_an_unchanged_one_stay_within_three_queries_per_page(dots, db):
    seed(dots, 2000, statuses={"completed": 8, "pending": 1, "failed": 1})
    actor = system_user()

    with CaptureQueriesContext(connection) as full:
        result = transfers.transfers_sync(actor=actor, full=True)
    with CaptureQueriesContext(connection) as unchanged:
        again = transfers.transfers_sync(actor=actor, full=True)

    assert result.pages == again.pages == 20 and result.created == 2000
    # Per page: one SELECT of the page's known rows and one upsert (SQLite splits a 100-row upsert
    # in two: at most 999 parameters a statement). Per run, whatever the pages: the sync state row
    # and one summary audit event.
    per_page, per_run = _split(full)
    assert per_page <= 3 * result.pages and per_run <= 12, (per_page, per_run)
    per_page, per_run = _split(unchanged)
    assert per_page <= result.pages and per_run <= 4, (per_page, per_run)
    assert Transfer.objects.filter(status="failed").exclude(failure_reason="R01").count() == 0


def test_a_changed_page_writes_only_the_changed_rows(dots, db):
    made = seed(dots, 50)
    transfers.transfers_sync(actor=system_user())
    dots.control(f"transfers/{made['newest_id']}/advance", {"status": "reversed"})

    with CaptureQueriesContext(connection) as queries:
        result = transfers.transfers_sync(actor=system_user())

    assert (result.changed, result.unchanged) == (1, 49)
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].startswith(('INSERT INTO "payouts_transfer"', 'UPDATE "payouts_transfer"'))
    ]
    # one compare-and-set UPDATE of that row (the re-read's checked_at UPDATE aside), no upsert
    [update] = [sql for sql in writes if "fingerprint" in sql]
    assert update.startswith("UPDATE") and "reversed" in update
    assert not [sql for sql in writes if sql.startswith("INSERT")]
    assert Transfer.objects.get(dots_id=made["newest_id"]).status == "reversed"


def test_a_page_that_fails_leaves_what_was_read_and_the_next_sync_fills_the_gap(dots, db):
    seed(dots, 350)
    # pages 1 and 2 answer; page 3 fails on the first try and on each of the client's retries
    dots.add_fault(method="GET", path="/v2/transfers", kind="status", status=503, after=2, count=4)

    with pytest.raises(DotsUnavailable):
        transfers.transfers_sync(actor=system_user())

    assert Transfer.objects.count() == 200
    state = TransferSyncState.objects.get()
    assert state.resume_after and not state.walk_open
    interrupted = AuditEvent.objects.get(action="transfers.synced")
    assert interrupted.changes["new"]["after"] == 200 and "interrupted" in interrupted.reason

    seed(dots, 30)  # and new ones arrive meanwhile
    result = transfers.transfers_sync(actor=system_user())

    assert Transfer.objects.count() == 380 and result.created == 180 and result.stopped_early
    assert TransferSyncState.objects.get().resume_after == ""
    assert transfers.transfers_sync(actor=system_user()).pages == 1


def test_after_a_sync_that_died_without_a_word_the_next_one_reads_every_page(dots, db):
    seed(dots, 250)
    transfers.transfers_sync(actor=system_user())
    TransferSyncState.objects.update(walk_open=True)  # as a killed worker leaves it

    result = transfers.transfers_sync(actor=system_user())

    assert result.full and result.pages == 3 and result.unchanged == 250
    assert not TransferSyncState.objects.get().walk_open


def test_a_resume_point_dots_no_longer_knows_falls_back_to_reading_everything(dots, db):
    seed(dots, 150)
    TransferSyncState.objects.create(pk=1, resume_after=str(uuid.uuid4()))

    result = transfers.transfers_sync(actor=system_user())

    assert result.full and Transfer.objects.count() == 150
    assert TransferSyncState.objects.get().resume_after == ""


def test_an_open_transfer_dots_cannot_find_is_reported_and_the_sync_goes_on(dots, db):
    Transfer.objects.create(dots_id=str(uuid.uuid4()), status="pending", fingerprint="x")
    seed(dots, 10)

    result = transfers.transfers_sync(actor=system_user())

    assert result.created == 10 and len(result.errors) == 1 and "not found" in result.errors[0]


def test_a_change_seen_by_a_webhook_and_a_sync_at_once_is_audited_once(dots, paid_and_pending):
    dots.control(
        f"transfers/{paid_and_pending.dots_transfer_id}/advance",
        {"status": "failed", "reason": "R01: insufficient funds"},
    )
    stale = Transfer.objects.get(dots_id=paid_and_pending.dots_transfer_id)
    # The webhook's refresh writes the change first...
    transfers.transfer_refresh(dots_transfer_id=stale.dots_id, actor=system_user(), source="webhook")
    # ...and a sync that read the row before it (the same fingerprint) loses the compare-and-set.
    raw = dots_transfer_raw(dots, stale.dots_id)
    result = transfers.TransferSyncResult()
    transfers._apply_change(
        pk=stale.pk,
        fingerprint=stale.fingerprint,
        mirrored=transfers._mirrored(raw),
        before={"status": "pending", "amount_cents": stale.amount_cents, "failure_reason": ""},
        actor=system_user(),
        source="sync",
        result=result,
    )

    assert result.changed == 0
    assert AuditEvent.objects.filter(action="transfer.changed").count() == 1


def dots_transfer_raw(dots, transfer_id: str) -> dict:
    import requests

    return requests.get(f"{dots.base_url}/v2/transfers/{transfer_id}", auth=dots.auth, timeout=10).json()
