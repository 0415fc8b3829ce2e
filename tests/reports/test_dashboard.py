"""The business overview on the home page: each figure against numbers worked out by hand.

Payables are made as drafts through the services (vendor and bank account in the emulator) and
then placed in the status and dates each case needs: the figures read only the database.
"""

import datetime as dt
import re
import zoneinfo

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from core import roles
from payables import services
from payables.models import Payable
from payouts.models import PayoutLink
from reconciliation.models import AppWallet
from reports import figures
from tests.support import login_verified, make_user
from wallet.models import AchAccount, App, WalletTransfer

pytestmark = pytest.mark.django_db
P = Payable.Status
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TODAY = dt.date(2026, 12, 9)  # a Wednesday; its week starts Monday 7 December


def at(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.get_current_timezone())


def _place(payable, status, **fields):
    Payable.objects.filter(pk=payable.pk).update(status=status, **fields)
    payable.refresh_from_db()
    return payable


@pytest.fixture
def ny():
    with override_settings(TIME_ZONE="America/New_York"), timezone.override(NEW_YORK):
        yield


def test_a_week_runs_monday_to_sunday_in_local_time_and_each_payment_counts_once(ny, make_payable, people):
    sunday_night = at(dt.date(2026, 12, 6), 23, 30)  # local: still the week of 30 November
    monday_morning = at(dt.date(2026, 12, 7), 0, 30)  # local: the week of 7 December
    _place(make_payable(amount_cents=10_000), P.PAYMENT_COMPLETED, status_changed_at=sunday_night)
    _place(make_payable(amount_cents=20_000), P.PAYMENT_COMPLETED, status_changed_at=monday_morning)
    # Failed once, paid on the retry: one payable, counted once, in the week it was paid.
    retried = make_payable(amount_cents=40_000)
    _place(retried, P.PAYMENT_FAILED, status_changed_at=at(dt.date(2026, 11, 2)))
    _place(retried, P.PAYMENT_COMPLETED, status_changed_at=at(dt.date(2026, 12, 8)))
    # Not money out: still failed, or approved, or paid before the 13 weeks.
    _place(make_payable(amount_cents=99_900), P.PAYMENT_FAILED, status_changed_at=at(dt.date(2026, 12, 8)))
    _place(make_payable(amount_cents=99_900), P.APPROVED, status_changed_at=at(dt.date(2026, 12, 8)))
    _place(make_payable(amount_cents=99_900), P.PAYMENT_COMPLETED, status_changed_at=at(dt.date(2026, 9, 6)))
    link = PayoutLink.objects.create(amount_cents=5_000, status=PayoutLink.Status.CLAIMED, created_by=people.clerk)
    PayoutLink.objects.filter(pk=link.pk).update(updated_at=at(dt.date(2026, 12, 1)))
    PayoutLink.objects.create(amount_cents=7_000, status=PayoutLink.Status.EXPIRED, created_by=people.clerk)
    app = App.objects.create(dots_app_id="app-1", name="Ledgerline")
    account = AchAccount.objects.create(
        app=app, holder_name="Ledgerline Inc", routing_number="021000021", account_last4="6789", account_type="checking"
    )
    for kind, cents in ((WalletTransfer.Kind.WITHDRAWAL, 30_000), (WalletTransfer.Kind.DEPOSIT, 50_000)):
        moved = WalletTransfer.objects.create(
            app=app,
            ach_account=account,
            kind=kind,
            amount_cents=cents,
            requested_by=people.payer,
            status=WalletTransfer.Status.COMPLETED,
        )
        WalletTransfer.objects.filter(pk=moved.pk).update(updated_at=at(dt.date(2026, 12, 9)))

    data = figures.cash_out_by_week(TODAY)

    assert data.weeks[0] == dt.date(2026, 9, 14) and data.weeks[-1] == dt.date(2026, 12, 7) and len(data.weeks) == 13
    series = dict(data.series)
    assert series["Paid payables"][-2:] == [10_000, 60_000]
    assert series["Payout links claimed"][-2:] == [5_000, 0]
    assert series["App wallet withdrawals"][-1] == 30_000
    assert data.total == 10_000 + 60_000 + 5_000 + 30_000


def test_aging_buckets_by_days_past_due_and_the_list_each_links_to(make_payable, people, client):
    today = timezone.localdate()
    due = {
        "due today": (today, P.SUBMITTED, 1_000),
        "no due date": (None, P.APPROVED, 2_000),
        "1 day late": (today - dt.timedelta(days=1), P.APPROVED, 3_000),
        "30 days late": (today - dt.timedelta(days=30), P.PAYMENT_FAILED, 4_000),
        "31 days late": (today - dt.timedelta(days=31), P.SUBMITTED, 5_000),
        "90 days late": (today - dt.timedelta(days=90), P.APPROVED, 6_000),
        "91 days late": (today - dt.timedelta(days=91), P.APPROVED, 7_000),
        # Not unpaid bills: paid, a draft, canceled.
        "paid late": (today - dt.timedelta(days=40), P.PAYMENT_COMPLETED, 90_000),
        "draft late": (today - dt.timedelta(days=40), P.CREATED, 90_000),
        "canceled late": (today - dt.timedelta(days=40), P.CANCELED, 90_000),
    }
    for name, (due_date, status, cents) in due.items():
        _place(make_payable(amount_cents=cents, bill_number=name.upper().replace(" ", "-")), status, due_date=due_date)

    rows = {row.key: (row.count, row.total_cents) for row in figures.aging(today)}

    assert rows == {
        "current": (2, 3_000),
        "1-30": (2, 7_000),
        "31-60": (1, 5_000),
        "61-90": (1, 6_000),
        "90+": (1, 7_000),
    }
    manager = make_user("manager", role=roles.MANAGER)
    login_verified(client, manager)
    listed = client.get(reverse("admin:payables_payable_changelist") + "?aging=1-30").content.decode()
    assert "1-DAY-LATE" in listed and "30-DAYS-LATE" in listed
    assert "31-DAYS-LATE" not in listed and "PAID-LATE" not in listed and "DUE-TODAY" not in listed


def test_the_forecast_marks_the_week_the_wallet_runs_short(make_payable):
    monday = figures.week_start(TODAY)
    AppWallet.objects.create(dots_app_id="app-1", balance_cents=100_000, synced_at=timezone.now())
    _place(make_payable(amount_cents=20_000), P.APPROVED, due_date=monday - dt.timedelta(days=3))  # overdue
    _place(make_payable(amount_cents=40_000), P.SUBMITTED, due_date=monday + dt.timedelta(days=4))
    _place(make_payable(amount_cents=50_000), P.APPROVED, due_date=monday + dt.timedelta(days=8))
    _place(make_payable(amount_cents=70_000), P.APPROVED, due_date=monday + dt.timedelta(weeks=9))  # later
    _place(make_payable(amount_cents=11_000), P.APPROVED, due_date=None)
    _place(make_payable(amount_cents=99_000), P.PAYMENT_COMPLETED, due_date=monday)  # paid: not due

    forecast = figures.cash_out_forecast(TODAY)

    first, second, third = forecast.weeks[:3]
    assert (first.monday, first.count, first.due_cents, first.balance_after_cents) == (monday, 2, 60_000, 40_000)
    assert (second.count, second.due_cents, second.balance_after_cents) == (1, 50_000, -10_000)
    assert second.short and not first.short and not third.short
    assert forecast.short_week is second
    assert (forecast.overdue_cents, forecast.later_cents, forecast.no_due_date_cents) == (20_000, 70_000, 11_000)


def test_the_forecast_without_a_known_balance_marks_no_week(make_payable):
    _place(make_payable(amount_cents=20_000), P.APPROVED, due_date=TODAY)
    forecast = figures.cash_out_forecast(TODAY)
    assert forecast.balance_cents is None and forecast.short_week is None
    assert forecast.weeks[0].due_cents == 20_000


def test_business_days_skip_the_weekend():
    friday = dt.date(2026, 12, 4)
    assert figures.business_days_between(friday, dt.date(2026, 12, 7)) == 1  # Monday
    assert figures.business_days_between(friday, dt.date(2026, 12, 6)) == 0  # Sunday
    assert figures.business_days_between(friday, dt.date(2026, 12, 11)) == 5
    assert figures.business_days_between(friday, dt.date(2026, 12, 14)) == 6
    assert figures.business_days_between(friday, friday) == 0


def test_approvals_waiting_per_approver_with_the_oldest_and_those_past_the_service_level(people, make_payable):
    # No policy: Dots' default step, any of the three AP approvers.
    old = make_payable(amount_cents=10_000)
    services.payable_submit(payable_id=old.pk, actor=people.clerk)
    fresh = make_payable(amount_cents=20_000)
    services.payable_submit(payable_id=fresh.pk, actor=people.clerk)
    six_business_days_ago = timezone.now() - dt.timedelta(days=8)
    Payable.objects.filter(pk=old.pk).update(submitted_at=six_business_days_ago)
    # Approved already: waits for nobody.
    done = make_payable(amount_cents=30_000)
    services.payable_submit(payable_id=done.pk, actor=people.clerk)
    services.payable_approve(payable_id=done.pk, actor=people.approver3)

    loads = {load.name: load for load in figures.approvals_waiting()}

    names = {people.approver.get_username(), people.approver2.get_username(), people.approver3.get_username()}
    assert names <= set(loads)
    for name in names:
        assert loads[name].waiting == 2
        assert loads[name].over_service_level == 1
        assert abs((loads[name].oldest - six_business_days_ago).total_seconds()) < 1
    assert people.clerk.get_username() not in loads  # the creator never waits on their own bill


def test_needs_attention_counts_link_to_their_lists(make_payable):
    _place(make_payable(amount_cents=1_000), P.OUTCOME_UNKNOWN)
    _place(make_payable(amount_cents=1_000), P.OUTCOME_UNKNOWN)
    _place(make_payable(amount_cents=1_000), P.PAYMENT_FAILED)
    rows = {row.label: row for row in figures.needs_attention()}
    assert rows["Payments whose outcome is unknown"].count == 2
    assert rows["Payables whose payment failed"].count == 1
    assert rows["Open disagreements with Dots"].count == 0


# --- the page ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.MANAGER, roles.ADMINISTRATOR])
def test_managers_and_administrators_see_the_overview_with_its_charts(client, role, make_payable):
    _place(make_payable(amount_cents=123_456), P.APPROVED, due_date=timezone.localdate() - dt.timedelta(days=45))
    login_verified(client, make_user("boss", role=role))
    page = client.get(reverse("admin:index")).content.decode()
    for title in (
        "Needs attention: money in doubt",
        "Cash out by week",
        "Payables by status and age",
        "Approvals waiting, by approver",
        "Cash-out forecast",
    ):
        assert title in page
    assert "Figures as of" in page and "Counted live" in page and "US dollars" in page
    assert "31–60 days past due" in page and "$1,234.56" in page
    charts = re.findall(r'<img src="(/admin/dashboard/chart/[a-z_]+\.svg)" alt="([^"]+)"', page)
    assert {url for url, _ in charts} == {
        "/admin/dashboard/chart/cash_out_by_week.svg",
        "/admin/dashboard/chart/aging.svg",
        "/admin/dashboard/chart/forecast.svg",
    }
    assert all(alt for _, alt in charts)
    for url, _ in charts:
        svg = client.get(url)
        assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
        body = svg.content.decode()
        assert body.startswith("<svg") and ("<rect" in body or "<path" in body)
        policy = svg["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy


def test_the_aging_chart_draws_the_buckets(client, make_payable):
    _place(make_payable(amount_cents=123_456), P.APPROVED, due_date=timezone.localdate() - dt.timedelta(days=45))
    login_verified(client, make_user("boss", role=roles.MANAGER))
    body = client.get("/admin/dashboard/chart/aging.svg").content.decode()
    assert "31–60 days late" in body and "$1,234.56" in body


@pytest.mark.parametrize("role", [roles.AP_CLERK, roles.APPROVER, roles.PAYER, roles.PAYOUTS_OPERATOR])
def test_other_roles_see_no_overview_and_no_chart(client, role):
    login_verified(client, make_user("someone", role=role))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Cash out by week" not in page and "Cash-out forecast" not in page
    assert client.get("/admin/dashboard/chart/cash_out_by_week.svg").status_code == 403


def test_an_unknown_chart_is_not_found(client):
    login_verified(client, make_user("boss", role=roles.MANAGER))
    assert client.get("/admin/dashboard/chart/nothing.svg").status_code == 404


def test_the_overview_is_read_from_a_snapshot_the_schedule_refreshes(client, make_payable, settings):
    from reports import overview, tasks
    from reports.models import OverviewSnapshot

    _place(make_payable(amount_cents=10_000), P.APPROVED, due_date=timezone.localdate())
    login_verified(client, make_user("boss", role=roles.MANAGER))
    client.get(reverse("admin:index"))
    first = OverviewSnapshot.objects.get(pk=1)
    assert [row[2] for row in first.data["aging"]][0] == 1
    # A new payable shows after the next refresh, not before: the page says when it was computed.
    _place(make_payable(amount_cents=20_000), P.APPROVED, due_date=timezone.localdate())
    assert overview.current().computed_at == first.computed_at
    assert "computed in" in tasks.refresh_overview()
    assert OverviewSnapshot.objects.get(pk=1).data["aging"][0][2] == 2
    # Too old (the worker stopped): the page computes it itself.
    OverviewSnapshot.objects.filter(pk=1).update(computed_at=timezone.now() - dt.timedelta(hours=1))
    assert overview.current().computed_at > timezone.now() - dt.timedelta(minutes=1)
