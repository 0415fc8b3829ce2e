"""django-q2 entry points for keeping in step with Dots. Safe to run twice (each reads Dots again)."""

import datetime as dt
import logging

from django.utils import timezone
from django_q.models import Schedule

from reconciliation import services, sync

logger = logging.getLogger(__name__)

SYNC_SCHEDULE = "Sync with Dots (payables in flight, payouts, new transfers, payees, vendors, wallet)"
FULL_SYNC_SCHEDULE = "Full sync with Dots (every transfer)"
RECONCILE_SCHEDULE = "Reconcile with Dots (report disagreements, settle outcome-unknown records)"
# Replaced by SYNC_SCHEDULE; removed from databases set up before it.
_RETIRED_SCHEDULES = ("Sync payout requests, payout links and transfers from Dots",)


def sync_dots(full: bool = False) -> str:
    # Approvers have their own schedule (payables.tasks.sync_approvers).
    steps = [name for name in sync.step_names() if name != "approvers"]
    reports = sync.sync_all(full=full, steps=steps)
    for report in reports:
        for error in report.errors:
            logger.warning("sync %s: %s", report.name, error)
    return "; ".join(report.summary() for report in reports)


def reconcile() -> str:
    return services.reconcile_all(trigger="schedule").summary()


def ensure_schedules() -> None:
    Schedule.objects.filter(name__in=_RETIRED_SCHEDULES).delete()
    soon = timezone.now() + dt.timedelta(seconds=30)
    # The full sync reads every transfer: at night, when nobody waits on the worker.
    tonight = timezone.localtime().replace(hour=3, minute=0, second=0, microsecond=0)
    if tonight <= timezone.localtime():
        tonight += dt.timedelta(days=1)
    for name, func, kwargs, minutes, first in (
        (SYNC_SCHEDULE, "reconciliation.tasks.sync_dots", "", 5, soon),
        (FULL_SYNC_SCHEDULE, "reconciliation.tasks.sync_dots", "{'full': True}", 24 * 60, tonight),
        (RECONCILE_SCHEDULE, "reconciliation.tasks.reconcile", "", 60, soon),
    ):
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "kwargs": kwargs,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
                "next_run": first,
            },
        )
