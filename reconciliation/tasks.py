"""django-q2 entry points for keeping in step with Dots. Safe to run twice (each reads Dots again)."""

from django.utils import timezone
from django_q.tasks import async_task

from core import sync_runner
from core.audit import system_user
from reconciliation import services, sync


def sync_dots(full: bool = False) -> str:
    """The scheduled sync: one task per step (core.tasks.sync_step), so that no step depends on
    finishing inside one task's timeout and a slow one holds up none of the others. Answers what
    each step's last run said, for those that have already run (others: queued)."""
    started = timezone.now()
    # A step with a schedule of its own is not part of this one.
    names = sync.step_names(scheduled_only=True)
    for name in names:
        async_task("core.tasks.sync_step", name, full)
    return sync_runner.summaries(names, since=started)


def reconcile() -> str:
    return services.reconcile_all(actor=system_user(), trigger="schedule").summary()
