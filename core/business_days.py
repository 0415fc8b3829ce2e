"""Business days: Monday to Friday, except the holidays kept in the admin (core.models.Holiday)."""

import datetime as dt
from collections.abc import Iterable

from core.models import Holiday


def holidays_between(start: dt.date, end: dt.date) -> set[dt.date]:
    """The holidays from `start` to `end`, both included (one query)."""
    return set(Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", flat=True))


def is_business_day(day: dt.date, holidays: Iterable[dt.date] = ()) -> bool:
    return day.weekday() < 5 and day not in set(holidays)


def business_days_between(start: dt.date, end: dt.date, holidays: Iterable[dt.date] | None = None) -> int:
    """Business days after `start` up to and including `end` (0 when end <= start).

    Something that started waiting on Friday has waited one business day on Monday, and none yet
    when Monday is a holiday. `holidays`: the holidays to skip, when the caller has read them
    already (many payables at once); else they are read here.
    """
    if end <= start:
        return 0
    full_weeks, rest = divmod((end - start).days, 7)
    count = full_weeks * 5 + sum(
        1 for offset in range(1, rest + 1) if (start + dt.timedelta(days=offset)).weekday() < 5
    )
    skipped = holidays_between(start + dt.timedelta(days=1), end) if holidays is None else set(holidays)
    return count - sum(1 for day in skipped if start < day <= end and day.weekday() < 5)
