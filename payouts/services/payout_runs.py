"""Payout runs: prepared by an import with amounts, approved by a second person, sent as one payout link per item."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django_q.tasks import async_task

from core import audit
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.permissions import require_perm
from payouts import notify as payouts_notify
from payouts.errors import RunNotReady, SegregationOfDutiesViolation
from payouts.models import PayeeImport, PayeeImportRow, PayoutLink, PayoutRun, PayoutRunItem
from payouts.services.payout_links import send_link, store_link_intent

BATCH = 2000  # items per bulk insert

APPROVE_RUN = "payouts.approve_payoutrun"

Row = PayeeImportRow.Status


def payout_run_prepare(*, payee_import: PayeeImport, actor: User) -> PayoutRun:
    """The run of an import with amounts: one item per payable row, awaiting a second person's approval."""
    payable_rows = PayeeImportRow.objects.filter(
        payee_import=payee_import, status__in=[Row.PENDING, Row.EXISTING], amount_cents__gt=0
    )
    run = PayoutRun.objects.create(payee_import=payee_import, created_by=actor)
    items = (
        PayoutRunItem(run=run, row_id=row_id, amount_cents=cents, memo=memo)
        for row_id, cents, memo in payable_rows.values_list("id", "amount_cents", "memo").iterator()
    )
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            PayoutRunItem.objects.bulk_create(batch)
            batch = []
    PayoutRunItem.objects.bulk_create(batch)
    totals = run.items.aggregate(n=Count("id"), total=Sum("amount_cents"))
    run.item_count, run.total_cents = totals["n"], totals["total"] or 0
    run.save(update_fields=["item_count", "total_cents"])
    audit.record(
        actor=actor,
        action="payout_run.created",
        target=run,
        after={"count": run.item_count, "total_cents": run.total_cents},
    )
    return run


def payout_run_skip_items_without_payee(*, run: PayoutRun) -> None:
    """Items whose payee could not be created will not be paid; the run page says why."""
    for item in run.items.select_related("row").filter(status=PayoutRunItem.Status.WAITING):
        if item.row.payee_id is None:
            PayoutRunItem.objects.filter(pk=item.pk).update(
                status=PayoutRunItem.Status.SKIPPED,
                outcome=f"payee not created: {item.row.get_status_display().lower()} {item.row.error}".strip(),
            )


@transaction.atomic
def payout_run_approve(*, run_id: int, actor: User) -> PayoutRun:
    """A second person (never the importer, superusers included) approves; sending follows."""
    require_perm(actor, APPROVE_RUN, "approve payout runs")
    run = PayoutRun.objects.select_related("payee_import").get(pk=run_id)
    if actor.pk in (run.created_by_id, run.payee_import.uploaded_by_id):
        raise SegregationOfDutiesViolation(f"{run}: you prepared this run; another person must approve it.")
    if run.payee_import.status not in (PayeeImport.Status.COMPLETED, PayeeImport.Status.CANCELLED):
        raise RunNotReady(f"{run}: its payees are still being imported; approve it when the import has finished.")
    PayoutRun.TRANSITIONS.ensure(run, PayoutRun.Status.SENDING)
    updated = PayoutRun.objects.filter(pk=run_id, status=PayoutRun.Status.AWAITING_APPROVAL).update(
        status=PayoutRun.Status.SENDING, approved_by=actor, approved_at=timezone.now()
    )
    if not updated:
        raise RunNotReady(f"{run} was approved by someone else a moment ago.")
    run.refresh_from_db()
    audit.record(
        actor=actor,
        action="payout_run.approved",
        target=run,
        before={"status": PayoutRun.Status.AWAITING_APPROVAL},
        after={"status": run.status, "total_cents": run.total_cents, "count": run.item_count},
    )
    transaction.on_commit(lambda: async_task("payouts.tasks.payout_run_send", run_id))
    return run


@transaction.atomic
def payout_run_cancel(*, run_id: int, actor: User, reason: str = "") -> PayoutRun:
    require_perm(actor, APPROVE_RUN, "cancel payout runs")
    run = PayoutRun.objects.get(pk=run_id)
    PayoutRun.TRANSITIONS.ensure(run, PayoutRun.Status.CANCELLED)
    if not PayoutRun.objects.filter(pk=run_id, status=PayoutRun.Status.AWAITING_APPROVAL).update(
        status=PayoutRun.Status.CANCELLED, finished_at=timezone.now()
    ):
        raise RunNotReady(f"{run} changed a moment ago.")
    run.items.filter(status=PayoutRunItem.Status.WAITING).update(
        status=PayoutRunItem.Status.SKIPPED, outcome="run cancelled"
    )
    audit.record(
        actor=actor,
        action="payout_run.cancelled",
        target=run,
        before={"status": PayoutRun.Status.AWAITING_APPROVAL},
        after={"status": PayoutRun.Status.CANCELLED},
        reason=reason,
    )
    return run


def payout_run_send(*, run_id: int, actor: User) -> PayoutRun:
    """One payout link per item (key stored before each call). Safe to run again: sent items are kept.

    The run's approval is the permission for its links: they are made as the approver, who
    need not be allowed to create payout links one by one.
    """
    require_perm(actor, APPROVE_RUN, "send payout runs")
    run = PayoutRun.objects.get(pk=run_id)
    if run.status != PayoutRun.Status.SENDING:
        return run
    approver = run.approved_by or actor
    for item in run.items.select_related("row", "row__payee", "payout_link").exclude(
        status__in=[PayoutRunItem.Status.SENT, PayoutRunItem.Status.SKIPPED]
    ):
        payee = item.row.payee
        if payee is None or not payee.dots_user_id:
            PayoutRunItem.objects.filter(pk=item.pk).update(
                status=PayoutRunItem.Status.SKIPPED, outcome="payee not created in Dots"
            )
            continue
        link = item.payout_link
        if link is None:
            with transaction.atomic():
                link = store_link_intent(
                    amount_cents=item.amount_cents,
                    payee_id=payee.pk,
                    memo=item.memo,
                    delivery_method=PayoutLink.Delivery.SMS,
                    actor=approver,
                    push=False,
                )
                PayoutRunItem.objects.filter(pk=item.pk).update(payout_link=link, status=PayoutRunItem.Status.SENDING)
        try:
            # The run keeps each item's outcome and retries failed items itself: never queue here.
            link = send_link(payout_link_id=link.pk, actor=approver, retry_refused=True, queue=False)
        except (DotsRejected, DotsUnavailable, DotsOutcomeUnknownError) as exc:
            PayoutRunItem.objects.filter(pk=item.pk).update(status=PayoutRunItem.Status.FAILED, outcome=str(exc))
            continue
        if not link.dots_id:
            PayoutRunItem.objects.filter(pk=item.pk).update(
                status=PayoutRunItem.Status.FAILED, outcome=f"payout link {link.get_status_display()}"
            )
            continue
        PayoutRunItem.objects.filter(pk=item.pk).update(
            status=PayoutRunItem.Status.SENT, outcome=f"payout link {link.dots_id} {link.status}"
        )
    with transaction.atomic():
        PayoutRun.TRANSITIONS.ensure(run, PayoutRun.Status.SENT)
        if PayoutRun.objects.filter(pk=run_id, status=PayoutRun.Status.SENDING).update(
            status=PayoutRun.Status.SENT, finished_at=timezone.now()
        ):
            counts = dict(run.items.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
            audit.record(
                actor=actor,
                action="payout_run.sent",
                target=run,
                source="task",
                before={"status": PayoutRun.Status.SENDING},
                after={"status": PayoutRun.Status.SENT, **counts},
            )
            run.refresh_from_db()
            payouts_notify.payout_run_finished(run)
    run.refresh_from_db()
    return run


def payout_run_retry_failed(*, run_id: int, actor: User) -> PayoutRun:
    """Items that failed (Dots unreachable, unknown outcome) are sent again with the same key and body."""
    require_perm(actor, APPROVE_RUN, "retry payout runs")
    with transaction.atomic():
        run = PayoutRun.objects.select_for_update().get(pk=run_id)
        if run.status != PayoutRun.Status.SENT or not run.items.filter(status=PayoutRunItem.Status.FAILED).exists():
            raise RunNotReady(f"{run} has no failed items to retry.")
        PayoutRun.TRANSITIONS.ensure(run, PayoutRun.Status.SENDING)
        PayoutRun.objects.filter(pk=run_id).update(status=PayoutRun.Status.SENDING)
        audit.record(
            actor=actor,
            action="payout_run.approved",
            target=run,
            reason="retry failed items",
            before={"status": PayoutRun.Status.SENT},
            after={"status": PayoutRun.Status.SENDING},
        )
    return payout_run_send(run_id=run_id, actor=actor)
