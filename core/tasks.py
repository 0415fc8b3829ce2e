"""django-q2 entry points for core: the queue of actions waiting for Dots, one step of the sync, old task
results."""

import logging

from django.conf import settings
from django_q.models import Success
from django_q.tasks import async_task

from core import action_queue, registry, sync_runner
from core.audit import system_user

logger = logging.getLogger(__name__)


def run_queued_dots_actions() -> str:
    """Every minute: if Dots answers (probed when it was down), run the queued actions that are due."""
    return str(action_queue.drain())


def sync_step(name: str, full: bool = False) -> str:
    """One step of the scheduled sync, within SYNC_STEP_BUDGET_SECONDS; a pass it did not finish goes
    on in a new task (resuming after the step's stored cursor). Safe to run twice: a second run
    finds the step's lease held and leaves it to the first."""
    step = registry.discover().sync_steps.get(name)
    if step is None:
        return f"no sync step is named {name!r}"
    report = sync_runner.run_step(step, actor=system_user(), full=full, scheduled=True)
    for error in report.errors:
        logger.warning("sync %s: %s", report.name, error)
    if report.more:
        async_task("core.tasks.sync_step", name, full)
    return report.summary()


def prune_successful_tasks() -> str:
    """Every 10 minutes: keep the newest TASK_SUCCESSES_KEPT successful tasks' results, in one DELETE.

    django-q2's own `save_limit` prunes on every save by reading every kept result (config/settings.py);
    failures are never deleted here.
    """
    kept = max(0, settings.TASK_SUCCESSES_KEPT)
    older = Success.objects.all()
    if kept:
        oldest_kept = Success.objects.order_by("-stopped").values_list("stopped", flat=True)[kept - 1 : kept]
        if not oldest_kept:
            return "0"
        older = older.filter(stopped__lt=oldest_kept[0])  # ties with the oldest kept stay
    deleted, _ = older.delete()
    return str(deleted)
