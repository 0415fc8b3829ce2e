"""django-q2 entry points for core: the queue of actions waiting for Dots."""

from core import action_queue


def run_queued_dots_actions() -> str:
    """Every minute: if Dots answers (probed when it was down), run the queued actions that are due."""
    return str(action_queue.drain())
