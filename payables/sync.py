"""Payables in flight follow what Dots did on its own.

An approver may approve in Dots' dashboard, a payment settles or fails days later,
someone pays from the dashboard: Dots sends no webhooks for accounts payable, so the
scheduled sync reads each payable that can still change and adopts the moves Dots may
make without us (the `dots` side of `Payable.TRANSITIONS`). Any other difference is not adopted silently: the
reconciliation report shows it for a person to judge (payables/reconcile.py).
"""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit, sync_runner
from core.dots_gateway import client, dots_call
from core.errors import DotsCallError
from core.models import AuditEvent
from core.sync_report import SyncReport
from dots.types import Payable as DotsPayable
from payables import notify as payables_notify
from payables import payments, reconcile
from payables.models import Payable

S = Payable.Status

# Statuses from which a payable can still change in Dots: those Dots moves on its own, and a
# payment whose outcome we did not learn. `pay_requested` is not here: its `pay` call may
# still be on its way (reconciliation settles one left there too long).
FOLLOWED = [*Payable.TRANSITIONS.followed(), S.OUTCOME_UNKNOWN]


def payables_in_flight_sync(*, actor: User, source: str = AuditEvent.Source.SYNC) -> SyncReport:
    """Read every payable that can still change from Dots; adopt Dots' own moves.

    One read per payable, in chunks through core's read pool (core.sync_runner.follow): the
    reads run concurrently, each answer is adopted here as `payable_follow_dots` would.
    """
    report = sync_runner.follow(
        sync_runner.Followed(
            name="payables in flight",
            label="Payable",
            rows=Payable.objects.filter(status__in=FOLLOWED, dots_id__isnull=False),
            refresh=lambda pk: payable_follow_dots(payable_id=pk, actor=actor, source=source),
            read=payable_read,
            apply=lambda row, answer: payable_adopt(
                payable_id=row.pk, answer=answer, actor=actor, source=source, before_status=row.status, seen=row
            ),
            what="read a payable from Dots",
        )
    )
    # A create whose answer was lost blocks a second create until settled: do it here, every few
    # minutes, rather than leave the clerk waiting for the hourly reconciliation.
    try:
        report.changes += reconcile.settle_interrupted_creates(actor=actor)
    except DotsCallError as exc:
        report.errors.append(f"interrupted creates: {exc}")
    return report


def payable_follow_dots(*, payable_id: int, actor: User, source: str = AuditEvent.Source.SYNC) -> str:
    """Read one payable from Dots and adopt a move Dots made on its own. Answers what changed ("" if nothing)."""
    payable = Payable.objects.get(pk=payable_id)
    before_status = payable.status
    if payable.status == S.OUTCOME_UNKNOWN:
        # The payment's own read-back, with its settle window (payables.services).
        payable = payments.payable_reconcile_payment(payable_id=payable_id, actor=actor, source=source)
        return "" if payable.status == before_status else f"{_label(payable)}: {before_status} -> {payable.status}"
    if payable.status not in FOLLOWED or not payable.dots_id:
        return ""
    with dots_call(f"read {payable} from Dots"):
        answer = client().retrieve_payable(payable_id=payable.dots_id)
    return payable_adopt(payable_id=payable_id, answer=answer, actor=actor, source=source, before_status=before_status)


def payable_read(payable: Payable) -> DotsPayable | None:
    """The sync's read of one payable (in a pool thread: Dots only). None: one whose payment's
    outcome is unknown, settled by its own read-back on the sync's thread instead."""
    if payable.status == S.OUTCOME_UNKNOWN or payable.status not in FOLLOWED or not payable.dots_id:
        return None
    return client().retrieve_payable(payable_id=payable.dots_id)


def payable_adopt(
    *,
    payable_id: int,
    answer: DotsPayable,
    actor: User,
    source: str,
    before_status: str,
    seen: Payable | None = None,
) -> str:
    """Adopt a move Dots made on its own, from Dots' answer for the payable read while it was
    `before_status`. Answers what changed ("" if nothing, or if someone acted meanwhile).

    `seen`: the payable as the sync loaded it; when Dots' answer changes nothing we would
    write, no transaction is opened (most reads of a large sync change nothing).
    """
    dots_status = answer.status or ""
    moves = Payable.TRANSITIONS.dots_may_move(before_status, dots_status)
    if (
        seen is not None
        and not moves
        and seen.dots_status == dots_status
        and _approvals_done(answer.approval_steps or seen.approval_steps) == _approvals_done(seen.approval_steps)
    ):
        return ""
    # Reading the failure reason is a call to Dots too: made before the transaction, never inside it.
    reason = payments.payment_failure_reason(answer) if moves and dots_status == S.PAYMENT_FAILED else ""
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        if payable.status != before_status:
            return ""  # someone acted meanwhile; the next sync looks again
        before = {
            "status": payable.status,
            "dots_status": payable.dots_status,
            "approvals": _approvals_done(payable.approval_steps),
        }
        payable.dots_status = dots_status
        payable.approval_steps = answer.approval_steps or payable.approval_steps
        if answer.transfer_id:
            payable.dots_transfer_id = answer.transfer_id
        if moves:
            payable.status = dots_status
            payable.status_changed_at = timezone.now()
            if dots_status == S.PAYMENT_FAILED:
                payable.failure_reason = reason
        after = {
            "status": payable.status,
            "dots_status": payable.dots_status,
            "approvals": _approvals_done(payable.approval_steps),
        }
        if after == before:
            return ""
        payable.save()
        audit.record(
            actor=actor,
            action="payable.synced",
            target=payable,
            before=before,
            after=after,
            reason=reason,
            source=source,
        )
        if moves and payable.status in (S.PAYMENT_FAILED, S.APPROVED):  # Dots moved it on its own: tell people
            (payables_notify.payment_failed if payable.status == S.PAYMENT_FAILED else payables_notify.approved)(
                payable
            )
    if moves:
        return f"{_label(payable)}: {before_status} -> {payable.status}"
    return f"{_label(payable)}: Dots shows {dots_status}, approvals {after['approvals']}"


def _approvals_done(steps) -> int:
    """How many approvals Dots' approval steps record (spec: each step's `user_approvals`)."""
    total = 0
    for step in steps or []:
        if isinstance(step, dict):
            approvals = step.get("user_approvals") or []
            total += sum(1 for a in approvals if isinstance(a, dict) and a.get("approval_given"))
    return total


def _label(payable: Payable) -> str:
    return f"Payable {payable.bill_number} (#{payable.pk})"


# --- the payables app's steps of the sync with Dots (declared in payables/seam.py) ---------------------


def approvers_step(*, actor: User, full: bool = False) -> SyncReport:
    """Dots' dashboard users in as approvers, linked to users by email."""
    from payables import approver_sync

    result = approver_sync.approvers_sync(actor=actor)
    report = SyncReport("approvers", checked=len(result.created) + len(result.updated) + result.unchanged)
    report.changes += [f"approver {name} added" for name in result.created]
    report.changes += [f"approver {name} changed" for name in result.updated]
    report.changes += [f"approver {name} linked to a user" for name in result.linked]
    return report


def payables_in_flight_step(*, actor: User, full: bool = False) -> SyncReport:
    return payables_in_flight_sync(actor=actor, source=AuditEvent.Source.SYNC)
