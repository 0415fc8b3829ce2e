"""Whether Dots has been answering, recorded by every call and read by the banner and the queue.

`core.dots_gateway.dots_call` reports each call here: a call Dots could not answer
(connection refused, 5xx, 429, a lost answer, our credentials refused) counts a
failure; any answer, refusals included, is a success. An *outage* is failures for at
least DOTS_OUTAGE_AFTER_SECONDS *and* at least DOTS_OUTAGE_MIN_FAILURES in a row; the
first success ends it. While in outage the admin shows a banner and actions that can
wait are queued (core.action_queue) instead of failing one by one.

Successes do not write while all is well: what was last read is kept in Django's cache for
DOTS_HEALTH_CACHE_SECONDS, and a success writes only when the row says Dots was failing. With
Redis that cache is shared by every web node and worker, and every write to the row clears it, so
an outage one node records shows on every node's next page (without Redis: one machine, one process'
memory).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Func, IntegerField, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.models import AuditEvent, DotsHealth, QueuedDotsAction

HEALTH_PK = 1


@dataclass(frozen=True)
class HealthView:
    """What the row said when read, with the number of queued actions not yet finished."""

    failing_since: dt.datetime | None
    consecutive_failures: int
    last_failure_message: str
    actions_waiting: int
    in_outage: bool

    @property
    def failing(self) -> bool:
        return self.failing_since is not None or self.consecutive_failures > 0


# In the shared cache (core/cache.py). Nodes may race to refresh it; the worst case is one extra
# read, or a view read just before another node's write kept for DOTS_HEALTH_CACHE_SECONDS. Stored as
# plain values, not a pickled HealthView: during a rolling upgrade nodes of two releases read it, and
# a value they cannot rebuild is a miss, never an error.
CACHE_KEY = "dots_health:view"


def forget_cached() -> None:
    cache.delete(CACHE_KEY)


def _is_outage(*, failing_since: dt.datetime | None, consecutive_failures: int, now: dt.datetime) -> bool:
    if failing_since is None:
        return False
    min_failures: int = settings.DOTS_OUTAGE_MIN_FAILURES
    after_seconds: float = settings.DOTS_OUTAGE_AFTER_SECONDS
    return consecutive_failures >= min_failures and (now - failing_since).total_seconds() >= after_seconds


def _ensure_row() -> None:
    DotsHealth.objects.get_or_create(pk=HEALTH_PK)


def read(*, fresh: bool = False) -> HealthView:
    """The health row and the count of actions waiting, in one query (cached briefly, for every node)."""
    ttl = settings.DOTS_HEALTH_CACHE_SECONDS
    if not fresh and ttl > 0:
        cached = cache.get(CACHE_KEY)
        if isinstance(cached, dict):
            try:
                return HealthView(**cached)
            except TypeError:
                pass
    # COUNT as a plain function keeps the subquery ungrouped: one row, one number.
    waiting = (
        QueuedDotsAction.objects.filter(status__in=QueuedDotsAction.ACTIVE)
        .order_by()
        .annotate(n=Func(F("id"), function="COUNT"))
        .values("n")
    )
    row = (
        DotsHealth.objects.filter(pk=HEALTH_PK)
        .annotate(waiting=Coalesce(Subquery(waiting, output_field=IntegerField()), 0))
        .values("failing_since", "consecutive_failures", "last_failure_message", "waiting")
        .first()
    )
    if row is None:
        _ensure_row()
        row = {"failing_since": None, "consecutive_failures": 0, "last_failure_message": "", "waiting": 0}
    view = HealthView(
        failing_since=row["failing_since"],
        consecutive_failures=row["consecutive_failures"],
        last_failure_message=row["last_failure_message"],
        actions_waiting=row["waiting"],
        in_outage=_is_outage(
            failing_since=row["failing_since"], consecutive_failures=row["consecutive_failures"], now=timezone.now()
        ),
    )
    if ttl > 0:
        cache.set(CACHE_KEY, asdict(view), ttl)
    return view


def current_outage() -> HealthView | None:
    """The health view when Dots counts as unreachable now, else None."""
    view = read()
    return view if view.in_outage else None


def record_failure(message: str) -> None:
    """A call Dots did not answer. Counts it; the first one that makes an outage is audited."""
    from core import audit

    now = timezone.now()
    updated = DotsHealth.objects.filter(pk=HEALTH_PK).update(
        consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now, last_failure_message=message[:2000]
    )
    if not updated:
        _ensure_row()
        DotsHealth.objects.filter(pk=HEALTH_PK).update(
            consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now, last_failure_message=message[:2000]
        )
    # Conditional: of two workers failing at once, the first one's time stands.
    DotsHealth.objects.filter(pk=HEALTH_PK, failing_since__isnull=True).update(failing_since=now)
    forget_cached()
    row = DotsHealth.objects.get(pk=HEALTH_PK)
    if row.outage_started_at is not None:
        return
    if not _is_outage(failing_since=row.failing_since, consecutive_failures=row.consecutive_failures, now=now):
        return
    with transaction.atomic():
        # Compare-and-set: the outage is announced once, whoever notices it first.
        if DotsHealth.objects.filter(pk=HEALTH_PK, outage_started_at__isnull=True).update(outage_started_at=now):
            audit.record(
                actor=audit.system_user(),
                action="dots.outage_started",
                target=row,
                object_repr="Dots",
                source=AuditEvent.Source.SYSTEM,
                after={"failing_since": row.failing_since, "consecutive_failures": row.consecutive_failures},
                reason=message[:500],
            )


def record_success() -> None:
    """Dots answered. Writes only when the row said it was failing."""
    from core import audit

    view = read()
    if not view.failing:
        return
    now = timezone.now()
    with transaction.atomic():
        row = DotsHealth.objects.select_for_update().filter(pk=HEALTH_PK).first()
        if row is None or (row.failing_since is None and row.consecutive_failures == 0):
            forget_cached()
            return
        before = {"failing_since": row.failing_since, "consecutive_failures": row.consecutive_failures}
        was_outage = row.outage_started_at is not None
        row.failing_since = None
        row.consecutive_failures = 0
        row.outage_started_at = None
        row.last_success_at = now
        row.save(update_fields=["failing_since", "consecutive_failures", "outage_started_at", "last_success_at"])
        if was_outage:
            audit.record(
                actor=audit.system_user(),
                action="dots.outage_ended",
                target=row,
                object_repr="Dots",
                source=AuditEvent.Source.SYSTEM,
                before=before,
                after={"failing_since": None, "consecutive_failures": 0},
            )
    forget_cached()


def probe() -> bool:
    """One cheap GET through the app's client: does Dots answer now? (Records health like any call.)"""
    from core.dots_gateway import client, dots_call
    from core.errors import DotsCallError, DotsRejected

    try:
        with dots_call("check that Dots answers"):
            client().list_apps(limit=1)
    except DotsRejected:
        return True  # it answered, if only to refuse: it is up
    except DotsCallError:
        return False
    return True


def format_since(moment: dt.datetime, *, now: dt.datetime | None = None) -> str:
    """HH:MM in local time, with the date in front when it is not today."""
    local = timezone.localtime(moment)
    today = timezone.localtime(now or timezone.now()).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")


def unreachable_since_text(view: HealthView) -> str:
    """'Dots is unreachable since 14:02' (or without a time if the row lost it)."""
    if view.failing_since is None:
        return "Dots is unreachable"
    return f"Dots is unreachable since {format_since(view.failing_since)}"


def banner_text(view: HealthView) -> str:
    """'Dots unreachable since 14:02; 3 actions waiting'."""
    since = format_since(view.failing_since) if view.failing_since else "a while"
    count = view.actions_waiting
    return f"Dots unreachable since {since}; {count} action{'s' if count != 1 else ''} waiting"
