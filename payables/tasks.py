"""django-q2 entry points for payables. Each is safe to run twice."""

import datetime as dt
import logging

from django.utils import timezone
from django_q.models import Schedule

from core.errors import DotsCallError
from payables import payments

logger = logging.getLogger(__name__)

# Seconds before each next look at a payment still in flight (the last one repeats).
FOLLOW_DELAYS_SECONDS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600)


def follow_payment(payable_id: int, attempt: int = 0) -> str:
    """Look at a payment in Dots; if it has not settled, look again later with backoff.

    The next look is a one-off schedule, not a sleep: the worker stays free, and a
    task that runs inline (tests) cannot call itself in a loop.
    """
    try:
        result = payments.payable_follow_payment(payable_id=payable_id)
    except DotsCallError as exc:
        logger.warning("following payable %s: %s", payable_id, exc)
        settled, status = False, "unreachable"
    else:
        settled, status = result.settled, result.status
    if not settled:
        delay = FOLLOW_DELAYS_SECONDS[min(attempt, len(FOLLOW_DELAYS_SECONDS) - 1)]
        # get_or_create by name: a task delivered twice schedules its next look once.
        Schedule.objects.get_or_create(
            name=f"follow-payment-{payable_id}-{attempt + 1}",
            defaults={
                "func": "payables.tasks.follow_payment",
                "args": f"{payable_id},{attempt + 1}",
                "schedule_type": Schedule.ONCE,
                "repeats": 1,
                "next_run": timezone.now() + dt.timedelta(seconds=delay),
            },
        )
    return status


def sync_approvers() -> str:
    """Bring Dots' dashboard users in as approvers and link them to users by email."""
    from core.audit import system_user
    from payables import approver_sync

    result = approver_sync.approvers_sync(actor=system_user())
    return str(result)


def pay_scheduled() -> str:
    """Pay the scheduled payables whose day has come (payables.scheduled): each once, as its payer."""
    from core.audit import system_user
    from payables import scheduled

    return str(scheduled.payables_pay_scheduled(actor=system_user()))


def remind_approvers() -> str:
    """Remind approvers of steps that wait, and escalate those that wait too long (payables.reminders)."""
    from core.audit import system_user
    from payables import reminders

    return str(reminders.approvals_remind(actor=system_user()))


def release_due_holds() -> str:
    """Release the holds whose release date has come (payables.holds); safe to run twice."""
    from core.audit import system_user
    from payables import holds

    released = holds.release_due_holds(actor=system_user())
    return f"{released} hold{'s' if released != 1 else ''} released"
