"""Payee imports: a CSV file previewed (payouts.services.payee_import_check: nothing sent), confirmed,
then created in Dots by a task.

With amounts, confirming also prepares the payout run (payouts.services.payout_runs).
"""

from __future__ import annotations

import queue
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django_q.tasks import async_task

from core import audit
from core.permissions import require_perm
from dots.types import User as DotsUser
from payouts import notify as payouts_notify
from payouts.errors import ImportNotConfirmable
from payouts.models import Payee, PayeeImport, PayeeImportRow, PayoutRun
from payouts.services.payees import create_or_link_user, payee_fields_from_dots
from payouts.services.payout_runs import payout_run_prepare, payout_run_skip_items_without_payee

PROGRESS_EVERY = 50  # progress counters are written at most once per this many rows
RECORD_EVERY = 64  # outcomes written per transaction
IMPORT_WORKERS = 8  # concurrent Dots calls while importing
REFILL_EVERY = 16  # rows marked `creating` and queued at a time

ADD_IMPORT = "payouts.add_payeeimport"
CHANGE_IMPORT = "payouts.change_payeeimport"

Row = PayeeImportRow.Status


@transaction.atomic
def payee_import_confirm(*, import_id: int, actor: User) -> PayeeImport:
    """Queue the import of the valid rows; with amounts, prepare the payout run too."""
    require_perm(actor, CHANGE_IMPORT, "confirm payee imports")
    updated = PayeeImport.objects.filter(pk=import_id, status=PayeeImport.Status.PREVIEW).update(
        status=PayeeImport.Status.QUEUED, confirmed_by=actor
    )
    payee_import = PayeeImport.objects.get(pk=import_id)
    if not updated:
        raise ImportNotConfirmable(
            f"{payee_import} is {payee_import.get_status_display().lower()}; only a previewed import can be confirmed."
        )
    audit.record(
        actor=actor,
        action="payee_import.confirmed",
        target=payee_import,
        before={"status": PayeeImport.Status.PREVIEW},
        after={"status": payee_import.status},
    )
    if payee_import.has_amount:
        payout_run_prepare(payee_import=payee_import, actor=actor)
    transaction.on_commit(lambda: async_task("payouts.tasks.payee_import_run", import_id))
    return payee_import


@transaction.atomic
def payee_import_discard(*, import_id: int, actor: User) -> PayeeImport:
    require_perm(actor, CHANGE_IMPORT, "discard payee imports")
    before = PayeeImport.objects.get(pk=import_id).status
    # While the worker checks the file it stops at its next batch (payee_import_check).
    updated = PayeeImport.objects.filter(
        pk=import_id, status__in=[PayeeImport.Status.PREVIEW, PayeeImport.Status.CHECKING]
    ).update(status=PayeeImport.Status.DISCARDED, finished_at=timezone.now())
    payee_import = PayeeImport.objects.get(pk=import_id)
    if not updated:
        raise ImportNotConfirmable(f"{payee_import} is {payee_import.get_status_display().lower()}.")
    audit.record(
        actor=actor,
        action="payee_import.discarded",
        target=payee_import,
        before={"status": before},
        after={"status": payee_import.status},
    )
    return payee_import


@transaction.atomic
def payee_import_cancel(*, import_id: int, actor: User) -> PayeeImport:
    """Stop a queued or running import after the rows in flight; a preview is discarded instead."""
    require_perm(actor, CHANGE_IMPORT, "cancel payee imports")
    payee_import = PayeeImport.objects.get(pk=import_id)
    if payee_import.status in (PayeeImport.Status.PREVIEW, PayeeImport.Status.CHECKING):
        return payee_import_discard(import_id=import_id, actor=actor)
    updated = PayeeImport.objects.filter(
        pk=import_id, status__in=[PayeeImport.Status.QUEUED, PayeeImport.Status.RUNNING], cancel_requested=False
    ).update(cancel_requested=True)
    if not updated:
        raise ImportNotConfirmable(
            f"{payee_import} is {payee_import.get_status_display().lower()}; there is nothing to cancel."
        )
    audit.record(
        actor=actor, action="payee_import.cancel_requested", target=payee_import, after={"cancel_requested": True}
    )
    if payee_import.status == PayeeImport.Status.QUEUED:
        # Nobody has started it: finish it now (a task that starts later finds it cancelled).
        transaction.on_commit(lambda: payee_import_process(import_id=import_id, actor=actor))
    return payee_import


@dataclass
class _Outcome:
    row: PayeeImportRow
    outcome: str  # created | linked | failed
    result: DotsUser | str  # the Dots user, or why it failed

    @property
    def user(self) -> DotsUser:
        assert isinstance(self.result, DotsUser), "a failed row has no Dots user"
        return self.result


def payee_import_process(*, import_id: int, actor: User, workers: int = IMPORT_WORKERS) -> PayeeImport:
    """Create the import's pending rows in Dots. Safe to run twice and after a worker died.

    A row is marked `creating` (committed) before its Dots call. A row found `creating`
    later is created again: Dots answers a duplicate phone with the existing user's id,
    which is then linked, so a row never makes a second Dots user.
    """
    require_perm(actor, CHANGE_IMPORT, "import payees")
    started = PayeeImport.objects.filter(
        pk=import_id, status__in=[PayeeImport.Status.QUEUED, PayeeImport.Status.RUNNING]
    ).update(status=PayeeImport.Status.RUNNING)
    if not started:
        return PayeeImport.objects.get(pk=import_id)
    PayeeImport.objects.filter(pk=import_id, started_at__isnull=True).update(started_at=timezone.now())
    rows = PayeeImportRow.objects.filter(payee_import_id=import_id)
    # Rows a dead worker left `creating` go first; their Dots call may have happened.
    leftovers = list(rows.filter(status=Row.CREATING).order_by("id").values_list("id", flat=True))
    # Calls queued for the pool: the window is topped up before outcomes are written, so the threads
    # never run dry while this thread writes (40 to 90 ms for 64 outcomes on a loaded machine; 48
    # queued calls are six rounds of the threads, 150 ms at 20 ms a call).
    window = workers * 8
    refill_at = window - REFILL_EVERY
    in_flight: dict = {}
    # Each call, when done, puts its future here: this thread takes them as they come (concurrent.futures.wait
    # re-armed a waiter on every call in flight for each answer, 64 per answer).
    completed: queue.SimpleQueue[Future] = queue.SimpleQueue()
    finished: list[_Outcome] = []
    since_flush = 0
    cancelled = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="payee-import") as pool:

        def refill() -> None:
            nonlocal cancelled
            if not cancelled and len(in_flight) <= refill_at:
                # Cancel is read before each refill: at most one window of rows runs on after it.
                cancelled = PayeeImport.objects.filter(pk=import_id, cancel_requested=True).exists()
                if not cancelled:
                    _submit_rows(pool, in_flight, completed, rows, leftovers, window - len(in_flight), import_id)

        refill()
        while in_flight:
            future = completed.get()
            while True:
                finished.append(_Outcome(in_flight.pop(future), *future.result()))
                try:
                    future = completed.get_nowait()
                except queue.Empty:
                    break
            refill()
            if len(finished) >= RECORD_EVERY or not in_flight:
                _record_outcomes(finished, actor)
                since_flush += len(finished)
                finished = []
                if since_flush >= PROGRESS_EVERY:
                    _write_progress(import_id)
                    since_flush = 0
        if finished:
            _record_outcomes(finished, actor)
    return _finish_import(import_id, actor)


# What creating a row and recording its outcome read of it.
_SENT_FIELDS = (
    "id",
    "payee_import_id",
    "line_number",
    "first_name",
    "last_name",
    "email",
    "phone_e164",
    "country",
    "external_id",
    "status",
    "attempts",
)


def _submit_rows(
    pool, in_flight: dict, completed: queue.SimpleQueue, rows, leftovers: list[int], count: int, import_id: int
) -> None:
    if count <= 0:
        return
    retried_ids = leftovers[:count]
    del leftovers[: len(retried_ids)]
    rows = rows.only(*_SENT_FIELDS)  # not the cells: decoding their JSON was a tenth of this thread's time
    chunk = list(rows.filter(pk__in=retried_ids)) if retried_ids else []
    if len(chunk) < count:
        chunk += list(rows.filter(status=Row.PENDING).order_by("id")[: count - len(chunk)])
    if not chunk:
        return
    ids = [row.pk for row in chunk]
    # The intent, committed before any call (autocommit: this UPDATE is its own transaction).
    PayeeImportRow.objects.filter(pk__in=ids).update(status=Row.CREATING, attempts=F("attempts") + 1)
    for row in chunk:
        future = pool.submit(
            create_or_link_user,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone_e164=row.phone_e164,
            metadata={"ledgerline_import": str(import_id), "line": str(row.line_number)},
            already_tried=row.status == Row.CREATING or row.attempts > 0,
        )
        in_flight[future] = row
        future.add_done_callback(completed.put)


def _record_outcomes(outcomes: list[_Outcome], actor: User) -> None:
    """One transaction per batch: a few set-based queries and one bulk write of the payees' audit events."""
    now = timezone.now()
    with transaction.atomic():
        succeeded = [item for item in outcomes if item.outcome != "failed"]
        user_ids = [item.user.id for item in succeeded]
        phones = [item.row.phone_e164 for item in succeeded]
        known = {p.dots_user_id: p for p in Payee.objects.filter(dots_user_id__in=user_ids)}
        by_phone = {p.phone_e164: p for p in Payee.objects.filter(phone_e164__in=phones)}
        new: list[tuple[_Outcome, Payee]] = []
        for item in succeeded:
            row, user = item.row, item.user
            if known.get(user.id) or by_phone.get(row.phone_e164):
                continue
            payee = Payee(
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                phone_e164=row.phone_e164,
                country=row.country or "US",
                external_id=row.external_id,
                dots_user_id=user.id,
                linked_existing=item.outcome == "linked",
                created_by=actor,
                last_dots_attempt_at=now,
                **payee_fields_from_dots(user),
            )
            by_phone[row.phone_e164] = payee
            new.append((item, payee))
        Payee.objects.bulk_create([payee for _item, payee in new])
        if new and new[0][1].pk is None:  # a backend that does not return ids
            pks = dict(
                Payee.objects.filter(phone_e164__in=[p.phone_e164 for _i, p in new]).values_list("phone_e164", "pk")
            )
            for _item, payee in new:
                payee.pk = payee.id = pks[payee.phone_e164]
        # One event per payee, on the payee (its timeline finds it), written together: one lock of the
        # audit chain per batch instead of one per payee, which kept this thread from feeding the pool.
        audit.record_many(
            actor=actor,
            source="task",
            entries=[
                audit.Entry(
                    action="payee.created" if item.outcome == "created" else "payee.linked",
                    target=payee,
                    after={"dots_user_id": payee.dots_user_id, "phone": payee.phone_e164},
                    reason=f"import #{item.row.payee_import_id}, line {item.row.line_number}",
                )
                for item, payee in new
            ],
        )
        updates = []
        for item in outcomes:
            row = item.row
            if item.outcome == "failed":
                updates.append((Row.FAILED, str(item.result)[:2000], None, row.pk))
            else:
                payee = known.get(item.user.id) or by_phone[row.phone_e164]
                status = Row.CREATED if item.outcome == "created" else Row.LINKED
                updates.append((status, "", payee.pk, row.pk))
        # Plain executemany: bulk_update's CASE expressions cost more Python than the calls they record.
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {PayeeImportRow._meta.db_table} SET status = %s, error = %s, payee_id = %s WHERE id = %s",
                updates,
            )


def _write_progress(import_id: int) -> None:
    counts = dict(
        PayeeImportRow.objects.filter(payee_import_id=import_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    PayeeImport.objects.filter(pk=import_id).update(
        created_count=counts.get(Row.CREATED, 0),
        linked_count=counts.get(Row.LINKED, 0),
        failed_count=counts.get(Row.FAILED, 0),
        cancelled_count=counts.get(Row.CANCELLED, 0),
        progress_updated_at=timezone.now(),
    )


def _finish_import(import_id: int, actor: User) -> PayeeImport:
    with transaction.atomic():
        payee_import = PayeeImport.objects.select_for_update().get(pk=import_id)
        if payee_import.cancel_requested:
            PayeeImportRow.objects.filter(payee_import_id=import_id, status=Row.PENDING).update(
                status=Row.CANCELLED, error="import cancelled before this row"
            )
        elif PayeeImportRow.objects.filter(payee_import_id=import_id, status__in=[Row.PENDING, Row.CREATING]).exists():
            return payee_import  # another run is still working on it
        _write_progress(import_id)
        payee_import.refresh_from_db()
        before = payee_import.status
        payee_import.status = (
            PayeeImport.Status.CANCELLED if payee_import.cancel_requested else PayeeImport.Status.COMPLETED
        )
        payee_import.finished_at = timezone.now()
        payee_import.save(update_fields=["status", "finished_at"])
        audit.record(
            actor=actor,
            action="payee_import.finished",
            target=payee_import,
            source="task",
            before={"status": before},
            after={
                "status": payee_import.status,
                "created": payee_import.created_count,
                "linked": payee_import.linked_count,
                "failed": payee_import.failed_count,
                "cancelled": payee_import.cancelled_count,
            },
        )
        payouts_notify.payee_import_finished(payee_import)
        run = PayoutRun.objects.filter(payee_import=payee_import).first()
        if run is not None:
            payout_run_skip_items_without_payee(run=run)
    return payee_import
