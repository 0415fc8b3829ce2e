"""The overview's heavy figures, kept as one snapshot (reports.models.OverviewSnapshot).

`refresh()` computes every figure (reports.figures) and stores them; the schedule runs it every
OVERVIEW_REFRESH_MINUTES. `current()` answers the snapshot, computing it first when there is none
or it is older than OVERVIEW_MAX_AGE_SECONDS (a worker that stopped never leaves the page stale
for long). So the home page costs the same at a thousand payables as at a million: the grouped
queries over the whole table run in the background, not while someone waits.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from reports import figures
from reports.models import OverviewSnapshot


def _day(value: dt.date) -> str:
    return value.isoformat()


def compute(now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    cash = figures.cash_out_by_week(today)
    forecast = figures.cash_out_forecast(today)
    return {
        "today": _day(today),
        "cash_out": {
            "weeks": [_day(w) for w in cash.weeks],
            "series": [[name, values] for name, values in cash.series],
            "first_day": _day(cash.first_day),
            "last_day": _day(cash.last_day),
        },
        "statuses": [[r.status, r.label, r.count, r.total_cents] for r in figures.payables_by_status()],
        "aging": [[r.key, r.label, r.count, r.total_cents] for r in figures.aging(today)],
        "approvals": [
            [
                load.user_id,
                load.name,
                load.waiting,
                load.oldest.isoformat() if load.oldest else None,
                load.over_service_level,
            ]
            for load in figures.approvals_waiting(now)
        ],
        "forecast": {
            "weeks": [[_day(w.monday), w.due_cents, w.count, w.balance_after_cents, w.short] for w in forecast.weeks],
            "balance_cents": forecast.balance_cents,
            "balance_read_at": forecast.balance_read_at.isoformat() if forecast.balance_read_at else None,
            "overdue_cents": forecast.overdue_cents,
            "later_cents": forecast.later_cents,
            "no_due_date_cents": forecast.no_due_date_cents,
        },
    }


def refresh() -> OverviewSnapshot:
    started = time.perf_counter()
    now = timezone.now()
    data = compute(now)
    took = int((time.perf_counter() - started) * 1000)
    snapshot, _ = OverviewSnapshot.objects.update_or_create(
        pk=1, defaults={"computed_at": now, "took_ms": took, "data": data}
    )
    return snapshot


def current() -> OverviewSnapshot:
    snapshot = OverviewSnapshot.objects.filter(pk=1).first()
    max_age = dt.timedelta(seconds=settings.OVERVIEW_MAX_AGE_SECONDS)
    if snapshot is None or timezone.now() - snapshot.computed_at > max_age:
        return refresh()
    if snapshot.data.get("today") != timezone.localdate().isoformat():
        return refresh()  # a new day: the weeks and the days past due move
    return snapshot
