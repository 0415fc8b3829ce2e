"""The worker runs only registered Ledgerline tasks (core.registry.registered_tasks).

A Schedule or OrmQ row names its function by dotted path, and django-q2's worker
(django_q/worker.py, `worker`) turns that string into a function with `pydoc.locate(f)`
and calls it. Whoever can write such a row (an admin form, a SQL console, a restored
backup) could otherwise make the worker run `os.system` with their own arguments.

Where we hook in, and why there: django-q2 1.11 has no setting that names the function
resolver, and its `pre_execute` signal is sent *after* resolution with the function in a
local variable; a receiver can neither replace it nor refuse it (raising there escapes the
worker's try block, kills the worker process and leaves the ORM task to be redelivered
forever). So `install()` (from core's AppConfig.ready, which also runs in every worker
process) replaces the `pydoc` name that `django_q.worker` looks `locate` up on with
`GuardedLocator`: the one line where a string becomes a function. The cluster and the
`sync=True` path both go through that same `worker` function (`django_q.tasks._sync` calls
it), so tests exercise the production path. For an unregistered path it returns a function
that raises `TaskRefused`; the worker's own `try` catches that, so the task is saved as a
failed task with our message and the real function is never imported or called.
"""

from __future__ import annotations

import pydoc
from typing import Any, NoReturn

from core import registry

REFUSED_MESSAGE = "not a registered Ledgerline task"


class TaskRefused(Exception):
    pass


def _refuser(path: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        _audit_refusal(path)
        raise TaskRefused(f"{path!r} is {REFUSED_MESSAGE}; the worker did not run it")

    refused.__name__ = "refused_task"
    return refused


def _audit_refusal(path: str) -> None:
    from core import audit
    from core.models import AuditEvent

    audit.record(
        actor=audit.system_user(),
        action="task.refused",
        object_type="background task",
        object_repr=path[:200],
        after={"func": path},
        reason=f"{REFUSED_MESSAGE}: {path}",
        source=AuditEvent.Source.TASK,
    )


def locate(path: Any) -> Any:
    """`pydoc.locate` for registered task paths only; anything else resolves to a refuser."""
    if isinstance(path, str) and path in registry.registered_tasks():
        return pydoc.locate(path)
    return _refuser(str(path))


class GuardedLocator:
    """Stands in for the `pydoc` module inside django_q.worker: it only ever calls `locate`."""

    locate = staticmethod(locate)

    def __getattr__(self, name: str) -> Any:
        return getattr(pydoc, name)


def install() -> None:
    from django_q import worker

    worker.pydoc = GuardedLocator()  # type: ignore[assignment]
