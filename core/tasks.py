"""django-q2 entry points for core: the queue of actions waiting for Dots; old task results."""

from django.conf import settings
from django_q.models import Success

from core import action_queue


def run_queued_dots_actions() -> str:
    """Every minute: if Dots answers (probed when it was down), run the queued actions that are due."""
    return str(action_queue.drain())


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
