"""django-q2 entry points for core: the queue of actions waiting for Dots."""

import datetime as dt

from django.utils import timezone
from django_q.models import Schedule

from core import action_queue


def run_queued_dots_actions() -> str:
    """Every minute: if Dots answers (probed when it was down), run the queued actions that are due."""
    return str(action_queue.drain())


def ensure_schedules() -> None:
    """Core's periodic work (core's setup_schedules calls this); safe to call again.

    A poller: Q_CLUSTER["catch_up"] is off (config/settings.py), so after downtime it
    runs once rather than once per missed minute.
    """
    Schedule.objects.update_or_create(
        name="Run actions queued while Dots was unreachable",
        defaults={
            "func": "core.tasks.run_queued_dots_actions",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now() + dt.timedelta(seconds=20),
        },
    )
