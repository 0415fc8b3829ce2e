"""Pay on the day: a Payer schedules an approved payable for a date, and the morning run pays it as them.

The run (payables.tasks.pay_scheduled, a django-q2 schedule) pays through the same
`payables.services.payable_pay` as a person would, as the payer who scheduled it, so every
check is made again on the day (still approved, account verified, funds, the payer's role,
segregation of duties, and whatever else payable_pay checks). Each payable is first claimed
by a compare-and-set on `pay_run_claimed_at`: two workers, or a task delivered twice, pay it
once. A worker killed after the claim leaves either an approved payable claimed but never sent
(released by a later run once the claim is older than PAY_REQUEST_STALE_SECONDS) or one in
`pay_requested`, which reconciliation and payables.tasks.follow_payment settle; the next run then
records the outcome and tells the payer.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import action_queue, audit
from core.errors import ActionQueued, DomainError
from core.models import AuditEvent
from core.people import full_name
from core.permissions import require_perm
from notifications.services import notify
from payables import controls
from payables import seam as payables_seam
from payables.errors import ApproverMayNotPay, InvalidTransition, ScheduleRefused, SegregationOfDutiesViolation
from payables.models import ControlOverride, Payable
from payables.models.payable import ScheduledOutcome
from payables.notify import describe

S = Payable.Status
O = ScheduledOutcome  # noqa: E741
C = ControlOverride.Control

# A run under way: claimed, and nothing recorded yet.
_RUN_UNDER_WAY = Q(pay_run_claimed_at__isnull=False, pay_run_outcome="")


def _schedule_snapshot(payable: Payable) -> dict:
    return {
        "pay_on": payable.pay_on.isoformat() if payable.pay_on else None,
        "pay_scheduled_by": payable.pay_scheduled_by.get_username() if payable.pay_scheduled_by_id else None,
    }


def company_today() -> dt.date:
    """Today in the company's time zone (TIME_ZONE)."""
    return timezone.localdate()


def scheduled_text(payable: Payable) -> str:
    """ "Scheduled to pay on 12 Dec 2026 by Pat Payer", and what came of it once the run has looked."""
    if payable.pay_on is None:
        return ""
    who = full_name(payable.pay_scheduled_by)
    text = f"Scheduled to pay on {payable.pay_on.day} {payable.pay_on:%b %Y} by {who}"
    if payable.pay_run_outcome == O.PAID:
        return f"{text}: paid on the day."
    if payable.pay_run_outcome == O.REFUSED:
        return f"{text}: not paid. {payable.pay_run_reason}"
    if payable.pay_run_outcome == O.FAILED:
        return f"{text}: the payment failed. {payable.pay_run_reason}"
    if payable.pay_run_claimed_at is not None:
        return f"{text}: being paid now."
    return f"{text}."


@transaction.atomic
def payable_schedule_pay(
    *, payable_id: int, actor: User, pay_on: dt.date | None, today: dt.date | None = None
) -> Payable:
    """Schedule an approved payable to be paid on `pay_on` (today or later), as `actor`.

    The admin asks for a fresh authenticator code first (as paying does). Scheduling again
    changes the date; a payable whose run is under way cannot be rescheduled.
    """
    require_perm(actor, "payables.pay_payable", "schedule payments")
    payable = Payable.objects.select_for_update(of=("self",)).select_related("pay_scheduled_by").get(pk=payable_id)
    if payable.created_by_id == actor.pk:
        raise SegregationOfDutiesViolation(f"{payable}: you created it, so someone else must pay it.")
    if payable.status != S.APPROVED:
        raise InvalidTransition(
            f"{payable}: only an approved payable can be scheduled; it is {payable.get_status_display().lower()}."
        )
    # Said now rather than on the day: the run pays as the scheduler, and an approver never pays.
    if controls.approved_by(payable, actor) and controls.usable_override(payable, C.APPROVER_IS_NOT_PAYER) is None:
        raise ApproverMayNotPay(f"{payable}: you approved it, so someone else must schedule and pay it.")
    # Likewise a payable changed since it was approved: its approvers approve it again first.
    controls.ensure_approval_current(payable, "scheduled")
    if pay_on is None:
        raise ScheduleRefused(f"{payable}: it has no due date to pay it on.")
    today = today or company_today()
    if pay_on < today:
        raise ScheduleRefused(f"{payable}: {pay_on.day} {pay_on:%b %Y} is in the past; choose today or a later date.")
    return _set_schedule(
        payable, Q(status=S.APPROVED), pay_on=pay_on, by=actor, actor=actor, action="payable.pay_scheduled"
    )


@transaction.atomic
def payable_unschedule_pay(*, payable_id: int, actor: User, reason: str = "") -> Payable:
    """Take a payable off the schedule, until its run has taken it."""
    require_perm(actor, "payables.pay_payable", "unschedule payments")
    payable = Payable.objects.select_for_update(of=("self",)).select_related("pay_scheduled_by").get(pk=payable_id)
    if payable.pay_on is None:
        raise ScheduleRefused(f"{payable}: it is not scheduled.")
    if payable.pay_run_outcome == O.PAID:
        raise ScheduleRefused(f"{payable}: it was paid on its scheduled day.")
    return _set_schedule(
        payable,
        Q(pay_on__isnull=False),
        pay_on=None,
        by=None,
        actor=actor,
        action="payable.pay_unscheduled",
        reason=reason,
    )


def _set_schedule(
    payable: Payable, still: Q, *, pay_on: dt.date | None, by: User | None, actor: User, action: str, reason: str = ""
) -> Payable:
    """Set (or clear) the schedule with a compare-and-set that refuses while a run is paying it; audited."""
    before = _schedule_snapshot(payable)
    now = timezone.now()
    updated = (
        Payable.objects.filter(still, pk=payable.pk)
        .exclude(_RUN_UNDER_WAY)
        .update(
            pay_on=pay_on,
            pay_scheduled_by=by,
            pay_scheduled_at=now if by else None,
            pay_run_claimed_at=None,
            pay_run_outcome="",
            pay_run_reason="",
            updated_at=now,
        )
    )
    if not updated:
        raise ScheduleRefused(f"{payable}: its scheduled payment is being made right now.")
    payable.refresh_from_db()
    audit.record(
        actor=actor, action=action, target=payable, before=before, after=_schedule_snapshot(payable), reason=reason
    )
    return payable


# --- the morning run -----------------------------------------------------------------------------------------


@dataclass
class RunReport:
    paid: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"paid {len(self.paid)}, refused {len(self.refused)}, failed {len(self.failed)}, "
            f"still in flight {len(self.in_flight)}, claims released {len(self.released)}"
        )


def due_filter(now: dt.datetime) -> Q:
    """Payables whose day has come: before today, or today once it is SCHEDULED_PAY_HOUR (company time)."""
    local = timezone.localtime(now)
    if local.hour >= settings.SCHEDULED_PAY_HOUR:
        return Q(pay_on__lte=local.date())
    return Q(pay_on__lt=local.date())


def payables_pay_scheduled(*, actor: User, now: dt.datetime | None = None) -> RunReport:
    """Pay every scheduled payable whose day has come, once each, as the payer who scheduled it.

    `actor` is the system user the run acts as (it records outcomes); each payment is made as
    the payer who scheduled it. Safe to run twice at once and after a worker died mid-run.
    """
    require_perm(actor, "payables.pay_payable", "pay scheduled payments")
    now = now or timezone.now()
    report = RunReport()
    _settle_earlier_runs(actor, report)
    due = (
        Payable.objects.filter(due_filter(now), pay_scheduled_by__isnull=False, pay_run_claimed_at__isnull=True)
        .order_by("pay_on", "id")
        .values_list("pk", "pay_on")
    )
    for pk, pay_on in list(due):
        claimed_at = timezone.now()
        # The claim: of two runs (or a task delivered twice), one takes this payable.
        if not Payable.objects.filter(pk=pk, pay_on=pay_on, pay_run_claimed_at__isnull=True).update(
            pay_run_claimed_at=claimed_at
        ):
            continue
        _pay_one(pk, claimed_at, actor, report)
    return report


def _pay_one(pk: int, claimed_at: dt.datetime, actor: User, report: RunReport) -> None:
    from payables import services

    payable = Payable.objects.select_related("pay_scheduled_by").get(pk=pk)
    payer = payable.pay_scheduled_by
    assert payer is not None
    if payable.status != S.APPROVED:
        # Paid by hand meanwhile, or no longer approved: nothing to send on its day.
        reason = f"On its day it was {payable.get_status_display().lower()}, not approved."
        _record_outcome(payable, claimed_at, O.REFUSED, reason, actor, report)
        return
    try:
        payable = services.payable_pay(payable_id=pk, actor=payer)
    except ActionQueued:
        # Dots is unreachable: the queue sends it as the payer when Dots answers; the next run records it.
        report.in_flight.append(f"{payable}: queued until Dots answers")
        return
    except DomainError as exc:
        payable.refresh_from_db()
        if payable.status in Payable.PAYMENT_IN_FLIGHT:
            report.in_flight.append(f"{payable}: {exc}")
            return
        _record_outcome(payable, claimed_at, O.REFUSED, str(exc), actor, report)
        return
    _record_settled(payable, claimed_at, actor, report)


def _record_settled(payable: Payable, claimed_at: dt.datetime, actor: User, report: RunReport) -> bool:
    """Record the outcome of a payment the run sent, once Dots' answer is known. False while in flight."""
    if payable.status in (S.PAYMENT_INITIATED, S.PAYMENT_COMPLETED):
        _record_outcome(payable, claimed_at, O.PAID, "", actor, report)
    elif payable.status == S.PAYMENT_FAILED:
        _record_outcome(payable, claimed_at, O.FAILED, payable.failure_reason, actor, report)
    elif payable.status in Payable.PAYMENT_IN_FLIGHT:
        report.in_flight.append(str(payable))
        return False
    else:
        reason = f"it is {payable.get_status_display().lower()}."
        _record_outcome(payable, claimed_at, O.REFUSED, reason, actor, report)
    return True


def _record_outcome(
    payable: Payable, claimed_at: dt.datetime, outcome: str, reason: str, actor: User, report: RunReport
) -> None:
    with transaction.atomic():
        # Compare-and-set: the outcome of one claim is recorded (and the payer told) once.
        if not Payable.objects.filter(pk=payable.pk, pay_run_claimed_at=claimed_at, pay_run_outcome="").update(
            pay_run_outcome=outcome, pay_run_reason=reason
        ):
            return
        audit.record(
            actor=actor,
            action="payable.scheduled_pay_outcome",
            target=payable,
            before={"scheduled_payment": ""},
            after={"scheduled_payment": ScheduledOutcome(outcome).label},
            reason=reason,
            source=AuditEvent.Source.TASK,
        )
        payer = payable.pay_scheduled_by
        label = describe(payable)
        titles = {
            O.PAID: f"{label} was paid as you scheduled",
            O.REFUSED: f"{label} was not paid on its scheduled day",
            O.FAILED: f"The scheduled payment of {label} failed",
        }
        if payer is not None:
            notify(
                event=payables_seam.SCHEDULED_PAYMENT,
                recipients=[payer],
                target=payable,
                title=titles[ScheduledOutcome(outcome)],
                body=reason,
                dedupe_key=f"scheduled-pay:payable:{payable.pk}:{claimed_at.isoformat()}",
            )
    {O.PAID: report.paid, O.REFUSED: report.refused, O.FAILED: report.failed}[ScheduledOutcome(outcome)].append(
        f"{payable}: {reason}" if reason else str(payable)
    )


def _settle_earlier_runs(actor: User, report: RunReport) -> None:
    """Claims an earlier run left without an outcome (its worker died, or Dots' answer came later)."""
    stale = timezone.now() - dt.timedelta(seconds=settings.PAY_REQUEST_STALE_SECONDS)
    for payable in Payable.objects.filter(_RUN_UNDER_WAY).select_related("pay_scheduled_by", "vendor"):
        claimed_at = payable.pay_run_claimed_at
        assert claimed_at is not None
        sent = payable.pay_requested_at is not None and payable.pay_requested_at >= claimed_at
        if payable.status == S.APPROVED:
            if claimed_at > stale:
                continue  # a run may still be paying it
            queued = action_queue.active_action(
                kind=payables_seam.PAYABLE_PAY, target=payable, actor=payable.pay_scheduled_by
            )
            if queued is not None:
                continue  # the queue sends it when Dots answers
            # Never sent, or sent and read back from Dots as not paid (payables.payments): the day's
            # run may pay it. The release is a compare-and-set on the claim it releases.
            if Payable.objects.filter(pk=payable.pk, pay_run_claimed_at=claimed_at, pay_run_outcome="").update(
                pay_run_claimed_at=None
            ):
                report.released.append(f"{payable}: {'read back unpaid' if sent else 'never sent'}")
            continue
        _record_settled(payable, claimed_at, actor, report)
