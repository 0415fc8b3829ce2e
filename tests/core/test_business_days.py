"""Business days skip weekends and the holidays kept in the admin."""

import datetime as dt

import pytest

from core.business_days import business_days_between, is_business_day
from core.models import Holiday

pytestmark = pytest.mark.django_db
FRIDAY = dt.date(2026, 11, 27)
MONDAY = dt.date(2026, 11, 30)


def test_a_weekend_does_not_count():
    assert business_days_between(FRIDAY, FRIDAY + dt.timedelta(days=2)) == 0
    assert business_days_between(FRIDAY, MONDAY) == 1


def test_a_holiday_does_not_count():
    Holiday.objects.create(date=MONDAY, name="Office closed")
    assert business_days_between(FRIDAY, MONDAY) == 0
    assert business_days_between(FRIDAY, MONDAY + dt.timedelta(days=1)) == 1
    assert not is_business_day(MONDAY, {MONDAY})


def test_the_same_day_or_earlier_counts_nothing():
    assert business_days_between(MONDAY, MONDAY) == 0
    assert business_days_between(MONDAY, FRIDAY) == 0


def test_long_waits_count_whole_weeks_and_given_holidays_need_no_query(django_assert_num_queries):
    two_weeks_on = FRIDAY + dt.timedelta(days=14)
    assert business_days_between(FRIDAY, two_weeks_on) == 10
    with django_assert_num_queries(0):
        assert business_days_between(FRIDAY, two_weeks_on, holidays={MONDAY, FRIDAY + dt.timedelta(days=1)}) == 9
