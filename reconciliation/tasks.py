"""django-q2 entry points for keeping in step with Dots. Safe to run twice (each reads Dots again)."""

import logging

from core.audit import system_user
from reconciliation import services, sync

logger = logging.getLogger(__name__)


def sync_dots(full: bool = False) -> str:
    # A step with a schedule of its own is not part of this one.
    steps = list(sync.step_names(scheduled_only=True))
    reports = sync.sync_all(actor=system_user(), full=full, steps=steps)
    for report in reports:
        for error in report.errors:
            logger.warning("sync %s: %s", report.name, error)
    return "; ".join(report.summary() for report in reports)


def reconcile() -> str:
    return services.reconcile_all(actor=system_user(), trigger="schedule").summary()
