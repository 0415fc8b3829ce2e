"""Holding a payable: nobody approves or pays it until the hold is released.

A hold has a reason and may name a release date; on that date the scheduled task
(`payables.tasks.release_due_holds`) releases it as the system user. Releasing is a
compare-and-set on `released_at`, so a person and the task (or two runs of the task)
release a hold once. Approving and paying check for a hold (payables.controls).
"""

import datetime as dt

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit
from core.models import AuditEvent
from core.permissions import require_perm
from payables.errors import InvalidTransition, ReasonRequired
from payables.models import Payable, PayableHold

S = Payable.Status
# A hold stops what is still to come: approving and paying. Closed, paid and in-flight payables are past that.
HOLDABLE = (S.CREATED, S.SUBMITTED, S.APPROVED, S.PAYMENT_FAILED)


def _snapshot(hold: PayableHold | None) -> dict:
    if hold is None:
        return {"on_hold": False}
    return {"on_hold": hold.released_at is None, "reason": hold.reason, "release_on": hold.release_on}


def payable_hold(*, payable_id: int, actor: User, reason: str, release_on: dt.date | None = None) -> PayableHold:
    """Put a payable on hold with a reason, until released by hand or on `release_on`."""
    require_perm(actor, "payables.hold_payable", "put payables on hold")
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the payable is put on hold.")
    if release_on is not None and release_on <= timezone.localdate():
        raise InvalidTransition("The release date must be after today (or leave it empty to release by hand).")
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        if payable.status not in HOLDABLE:
            raise InvalidTransition(
                f"{payable} is {payable.get_status_display().lower()}: only a payable still to approve or pay is held."
            )
        try:
            with transaction.atomic():
                hold = PayableHold.objects.create(
                    payable=payable, reason=reason, release_on=release_on, placed_by=actor
                )
        except IntegrityError:
            raise InvalidTransition(f"{payable} is already on hold.") from None
        audit.record(
            actor=actor,
            action="payable.held",
            target=payable,
            before={"on_hold": False},
            after=_snapshot(hold),
            reason=reason,
        )
    return hold


def _release(hold_id: int, *, actor: User, reason: str, source: str) -> bool:
    """Release one hold (compare-and-set); False when it was released already."""
    now = timezone.now()
    with transaction.atomic():
        released = PayableHold.objects.filter(pk=hold_id, released_at__isnull=True).update(
            released_at=now, released_by=actor, release_reason=reason
        )
        if not released:
            return False
        hold = PayableHold.objects.select_related("payable").get(pk=hold_id)
        audit.record(
            actor=actor,
            action="payable.hold_released",
            target=hold.payable,
            before={"on_hold": True, "reason": hold.reason, "release_on": hold.release_on},
            after={"on_hold": False},
            reason=reason,
            source=source,
        )
    return True


def payable_release(*, payable_id: int, actor: User, reason: str) -> Payable:
    """Release a payable's hold by hand, saying why."""
    require_perm(actor, "payables.hold_payable", "release payables from hold")
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired("Say why the hold is released.")
    payable = Payable.objects.get(pk=payable_id)
    hold = PayableHold.objects.filter(payable=payable, released_at__isnull=True).first()
    if hold is None or not _release(hold.pk, actor=actor, reason=reason, source=AuditEvent.Source.ADMIN):
        raise InvalidTransition(f"{payable} is not on hold.")
    return payable


def release_due_holds(*, actor: User, today: dt.date | None = None) -> int:
    """Release every hold whose release date has come (the scheduled task). Safe to run twice at once:
    each hold is released once, by whichever run gets it first. Answers how many this run released."""
    require_perm(actor, "payables.hold_payable", "release payables from hold")
    today = today or timezone.localdate()
    due = PayableHold.objects.filter(released_at__isnull=True, release_on__lte=today).values_list("pk", "release_on")
    count = 0
    for hold_id, release_on in list(due):
        reason = f"Released on its release date ({release_on:%d %b %Y})."
        if _release(hold_id, actor=actor, reason=reason, source=AuditEvent.Source.TASK):
            count += 1
    return count
