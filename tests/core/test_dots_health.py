"""Dots health: failures over HTTP make an outage after the threshold; the first answer ends it; the banner."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core import dots_health, roles
from core.dots_gateway import client, dots_call
from core.errors import DotsRejected, DotsUnavailable
from core.models import AuditEvent, DotsHealth, QueuedDotsAction
from tests.outage_support import ALL_DOWN
from tests.support import login_verified, make_user
from vendors import seam as vendors_seam

pytestmark = pytest.mark.django_db


@pytest.fixture
def health_settings(settings):
    settings.DOTS_OUTAGE_AFTER_SECONDS = 0
    settings.DOTS_OUTAGE_MIN_FAILURES = 3
    settings.DOTS_HEALTH_CACHE_SECONDS = 0
    dots_health.forget_cached()
    yield settings
    dots_health.forget_cached()


def _failing_call():
    # A POST without a key is never retried by the client: one call, one failure.
    with pytest.raises(DotsUnavailable), dots_call("create the app"):
        client().create_app(name="probe")


def _row() -> DotsHealth:
    return DotsHealth.objects.get(pk=1)


def test_failures_below_the_count_are_not_an_outage_and_the_third_makes_one(dots, health_settings):
    dots.add_fault(**ALL_DOWN)
    _failing_call()
    _failing_call()
    assert not dots_health.read().in_outage
    assert _row().consecutive_failures == 2 and _row().failing_since is not None

    _failing_call()

    assert dots_health.read().in_outage
    event = AuditEvent.objects.get(action="dots.outage_started")
    assert (event.actor_label, event.source) == ("system", AuditEvent.Source.SYSTEM)


def test_an_outage_needs_time_as_well_as_failures(dots, health_settings):
    health_settings.DOTS_OUTAGE_AFTER_SECONDS = 60
    dots.add_fault(**ALL_DOWN)
    for _ in range(5):
        _failing_call()
    assert not dots_health.read().in_outage

    DotsHealth.objects.filter(pk=1).update(failing_since=timezone.now() - dt.timedelta(seconds=61))

    assert dots_health.read().in_outage


def test_the_first_answer_ends_the_outage(dots, health_settings):
    dots.add_fault(**ALL_DOWN)
    for _ in range(3):
        _failing_call()
    dots.control("faults/clear")

    assert dots_health.probe() is True

    row = _row()
    assert (row.failing_since, row.consecutive_failures, row.outage_started_at) == (None, 0, None)
    assert row.last_success_at is not None
    assert not dots_health.read().in_outage
    assert AuditEvent.objects.filter(action="dots.outage_ended").count() == 1


def test_a_refusal_is_an_answer_so_it_ends_the_failures(dots, health_settings):
    dots.add_fault(method="GET", path="/v2/apps*", **ALL_DOWN)
    assert dots_health.probe() is False
    assert _row().consecutive_failures == 1

    with pytest.raises(DotsRejected), dots_call("read the payable"):
        client().retrieve_payable(payable_id="00000000-0000-0000-0000-000000000000")

    assert _row().consecutive_failures == 0


def test_successful_calls_while_healthy_do_not_write_the_health_row(dots, settings):
    settings.DOTS_HEALTH_CACHE_SECONDS = 60
    dots_health.forget_cached()
    try:
        with CaptureQueriesContext(connection) as queries:
            for _ in range(20):
                with dots_call("list the apps"):
                    client().list_apps(limit=1)
    finally:
        dots_health.forget_cached()
    health = [q["sql"] for q in queries.captured_queries if "core_dotshealth" in q["sql"]]
    assert len(health) == 1 and health[0].lstrip().upper().startswith("SELECT")


def test_health_and_waiting_count_are_read_in_one_query(db, health_settings):
    with CaptureQueriesContext(connection) as queries:
        dots_health.read()
    assert len(queries.captured_queries) == 1


def _queue(n, actor):
    for i in range(n):
        QueuedDotsAction.objects.create(
            kind=vendors_seam.VENDOR_SEND,
            target_type="vendors.vendor",
            target_id=str(i),
            target_repr=f"Vendor {i}",
            actor=actor,
            dedupe_key=f"vendor.send_to_dots:vendors.vendor:{i}",
            next_attempt_at=timezone.now(),
        )


def test_banner_on_admin_pages_says_since_when_and_how_many_actions_wait(client, db, health_settings):
    admin_user = make_user("admin", role=roles.ADMINISTRATOR)
    _queue(3, admin_user)
    today = timezone.localtime()
    since = today.replace(hour=14, minute=2, second=0, microsecond=0)
    if since > today:  # keep it earlier today
        since = today.replace(hour=0, minute=2, second=0, microsecond=0)
    DotsHealth.objects.filter(pk=1).update(failing_since=since, consecutive_failures=5)
    login_verified(client, admin_user)

    page = client.get(reverse("admin:index")).content.decode()

    assert f"Dots unreachable since {since:%H:%M}; 3 actions waiting" in page
    assert reverse("admin:core_queueddotsaction_changelist") + "?status__exact=waiting" in page


def test_banner_gives_the_date_when_the_outage_began_before_today(client, db, health_settings):
    user = make_user("manager", role=roles.MANAGER)
    since = timezone.localtime() - dt.timedelta(days=2)
    DotsHealth.objects.filter(pk=1).update(failing_since=since, consecutive_failures=5)
    login_verified(client, user)

    page = client.get(reverse("admin:index")).content.decode()

    assert f"Dots unreachable since {since:%Y-%m-%d %H:%M}; 0 actions waiting" in page


def test_no_banner_while_dots_answers(client, db, health_settings):
    user = make_user("manager", role=roles.MANAGER)
    DotsHealth.objects.filter(pk=1).update(failing_since=timezone.now(), consecutive_failures=2)  # not yet
    login_verified(client, user)

    assert "Dots unreachable" not in client.get(reverse("admin:index")).content.decode()


def _health_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "core_dotshealth" in q["sql"]]


def test_the_banner_costs_at_most_one_query_per_page(client, db, settings):
    user = make_user("manager", role=roles.MANAGER)
    login_verified(client, user)
    settings.DOTS_HEALTH_CACHE_SECONDS = 0
    dots_health.forget_cached()
    try:
        # Read each capture at once: Django empties the query log when the next request starts.
        with CaptureQueriesContext(connection) as uncached:
            client.get(reverse("admin:index"))
        uncached_health = _health_queries(uncached)
        settings.DOTS_HEALTH_CACHE_SECONDS = 60
        client.get(reverse("admin:index"))  # fills the process cache
        with CaptureQueriesContext(connection) as cached:
            client.get(reverse("admin:index"))
        cached_health = _health_queries(cached)
    finally:
        dots_health.forget_cached()

    assert len(uncached_health) == 1
    assert cached_health == []
