"""Business days: Monday to Friday, except the holidays kept in the admin (core.models.Holiday)."""

import datetime as dt
from collections.abc import Iterable

from core.models import Holiday


def holidays_between(start: dt.date, end: dt.date) -> set[dt.date]:
    return set(Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", flat=True))


def is_business_day(day: dt.date, holidays: Iterable[dt.date] = ()) -> bool:
    return day.weekday() < 5 and day not in set(holidays)


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Business days that have ended after `start` up to and including `end` (0 when end <= start).

    Something that started waiting on Friday has waited one business day on Monday, and on
    Tuesday when Monday is a holiday.
    """
    if end <= start:
        return 0
    holidays = holidays_between(start, end)
    days = 0
    day = start + dt.timedelta(days=1)
    while day <= end:
        if is_business_day(day, holidays):
            days += 1
        day += dt.timedelta(days=1)
    return days
