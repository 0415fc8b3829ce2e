"""Approvals that never stall: remind the approvers of a step that waits, escalate one that waits too long.

A step waits from when it began (the submit for step 1, the previous step's last approval for
the others: payables.selectors.step_waiting_since), counted in business days (core.business_days:
weekends and the holidays kept in the admin skip). From APPROVAL_REMINDER_BUSINESS_DAYS the step's
approvers are reminded once each business day (from APPROVAL_REMINDER_HOUR); from
APPROVAL_ESCALATION_BUSINESS_DAYS the policy's escalation contact (else the Managers) is told once per
step, and the payable shows "escalated".

Run by a django-q2 schedule (payables.tasks.remind_approvers). Each notification carries a dedupe
key (one per payable, step and day; one per escalated step), which the notifications app enforces
with a unique constraint: two workers running at once, or a run after a worker died mid-run, send
each reminder once.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit, roles
from core.business_days import business_days_between, holidays_between, is_business_day
from core.models import AuditEvent
from core.people import full_name
from core.permissions import require_perm
from notifications.services import notify
from payables import seam, selectors
from payables.models import Payable
from payables.notify import describe

S = Payable.Status


@dataclass
class ReminderReport:
    reminded: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"reminded {len(self.reminded)}, escalated {len(self.escalated)}"


def escalation_contacts(payable: Payable) -> list[User]:
    """Who is told when a payable waits too long: its policy's escalation contact, else the Managers."""
    policy = payable.approval_policy
    if policy is not None and policy.escalation_contact_id:
        return [policy.escalation_contact]
    return list(get_user_model().objects.filter(groups__name=roles.MANAGER, is_active=True).distinct())


def approvals_remind(*, actor: User, now: dt.datetime | None = None) -> ReminderReport:
    """Remind and escalate every approval step that has waited long enough. Safe to run twice at once."""
    require_perm(actor, "payables.view_payable", "remind approvers")
    now = now or timezone.now()
    today = timezone.localdate(now)
    report = ReminderReport()
    waiting = list(
        Payable.objects.filter(status=S.SUBMITTED).select_related("vendor", "approval_policy__escalation_contact")
    )
    approvals = selectors.last_approvals_by_step(waiting)
    cache = selectors.StepCache()
    # Reminders go out on business days, from APPROVAL_REMINDER_HOUR (company time), not in the night.
    remind_now = (
        is_business_day(today, holidays_between(today, today))
        and timezone.localtime(now).hour >= settings.APPROVAL_REMINDER_HOUR
    )
    for payable in waiting:
        since = selectors.step_waiting_since(payable, approvals.get(payable.pk, {}))
        index = selectors.current_step_index(payable)
        if since is None or index is None:
            continue
        step = index + 1
        if payable.escalated_at is not None and payable.escalated_at < since:
            # Escalated on an earlier step, which has since been approved: this step starts afresh.
            Payable.objects.filter(pk=payable.pk, escalated_at=payable.escalated_at).update(escalated_at=None)
            payable.escalated_at = None
        waited = business_days_between(timezone.localdate(since), today)
        if waited >= settings.APPROVAL_ESCALATION_BUSINESS_DAYS:
            if _escalate(payable, step, waited, actor, now):
                report.escalated.append(f"{payable} step {step}")
        if waited >= settings.APPROVAL_REMINDER_BUSINESS_DAYS and remind_now:
            approvers = selectors.approvers_waiting(payable, cache)
            users = [a.user for a in approvers if a.user is not None]
            sent = notify(
                event=seam.APPROVAL_REMINDER,
                recipients=users,
                target=payable,
                title=f"Reminder: {describe(payable)} waits for your approval (step {step}, "
                f"{waited} business day{'s' if waited != 1 else ''})",
                dedupe_key=f"reminder:payable:{payable.pk}:step:{step}:{today.isoformat()}",
            )
            if sent:
                report.reminded.append(f"{payable} step {step}")
    return report


def _escalate(payable: Payable, step: int, waited: int, actor: User, now: dt.datetime) -> bool:
    """Mark the payable escalated and tell the contact, once per step (compare-and-set on escalated_at)."""
    with transaction.atomic():
        if not Payable.objects.filter(pk=payable.pk, escalated_at__isnull=True, status=S.SUBMITTED).update(
            escalated_at=now
        ):
            return False
        contacts = escalation_contacts(payable)
        audit.record(
            actor=actor,
            action="payable.approval_escalated",
            target=payable,
            before={"escalated": None},
            after={"escalated": f"{timezone.localtime(now):%Y-%m-%d %H:%M}"},
            reason=f"step {step} has waited {waited} business days; told "
            + (", ".join(full_name(u) for u in contacts) or "nobody (no Managers)"),
            source=AuditEvent.Source.TASK,
        )
        notify(
            event=seam.APPROVAL_ESCALATED,
            recipients=contacts,
            target=payable,
            title=f"Escalated: {describe(payable)} has waited {waited} business days for approval (step {step})",
            dedupe_key=f"escalation:payable:{payable.pk}:step:{step}",
        )
    return True
