"""The figures on the home page, computed in the database from the records the other apps keep.

Everything here reads. Each figure is one grouped query (or a few), so its cost grows with the
number of weeks, statuses or buckets it shows, not with the number of payables. Money is cents;
weeks start on Monday in the project's time zone (settings.TIME_ZONE).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from core.business_days import business_days_between, holidays_between
from core.models import QueuedDotsAction
from payables import selectors as payable_selectors
from payables.models import Payable
from payouts.models import PayeeTransfer, PayoutLink, PayoutRequest, Transfer
from reconciliation.models import AppWallet, Discrepancy
from wallet.models import WalletTransfer

P = Payable.Status
CASH_OUT_WEEKS = 13
FORECAST_WEEKS = 8


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _weekly(queryset, moment: str, amount: str, since: dt.datetime) -> dict[dt.date, int]:
    """{Monday: cents} of `queryset` by the week its `moment` falls in (local time)."""
    rows = (
        queryset.filter(**{f"{moment}__gte": since})
        .annotate(week=TruncWeek(moment, tzinfo=timezone.get_current_timezone()))
        .values("week")
        .annotate(total=Sum(amount))
    )
    totals: dict[dt.date, int] = defaultdict(int)
    for row in rows:
        week = row["week"]
        day = timezone.localtime(week).date() if isinstance(week, dt.datetime) else week
        totals[day] += int(row["total"] or 0)
    return totals


# --- cash out by week ------------------------------------------------------------------------------------


@dataclass
class CashOut:
    weeks: list[dt.date]  # Mondays, oldest first
    series: list[tuple[str, list[int]]]  # (what, cents per week)
    first_day: dt.date
    last_day: dt.date

    @property
    def week_totals(self) -> list[int]:
        return [sum(values[i] for _, values in self.series) for i in range(len(self.weeks))]

    @property
    def total(self) -> int:
        return sum(self.week_totals)

    @property
    def series_totals(self) -> list[tuple[str, int]]:
        return [(name, sum(values)) for name, values in self.series]


# What counts as money out, and the moment it went (each record once, whatever its retries):
CASH_OUT_SOURCES = (
    # A payable once Dots says it is paid, in the week it became paid.
    ("Paid payables", lambda: Payable.objects.filter(status=P.PAYMENT_COMPLETED), "status_changed_at", "total_cents"),
    # Money sent to payees: approved payout requests and transfers into payees' wallets.
    (
        "Payouts",
        lambda: PayoutRequest.objects.filter(status=PayoutRequest.Status.APPROVED),
        "updated_at",
        "amount_cents",
    ),
    (
        "Payouts",
        lambda: PayeeTransfer.objects.filter(status=PayeeTransfer.Status.COMPLETED),
        "updated_at",
        "amount_cents",
    ),
    (
        "Payout links claimed",
        lambda: PayoutLink.objects.filter(status=PayoutLink.Status.CLAIMED),
        "updated_at",
        "amount_cents",
    ),
    (
        "App wallet withdrawals",
        lambda: WalletTransfer.objects.filter(
            kind=WalletTransfer.Kind.WITHDRAWAL, status=WalletTransfer.Status.COMPLETED
        ),
        "updated_at",
        "amount_cents",
    ),
)


def cash_out_by_week(today: dt.date | None = None, weeks: int = CASH_OUT_WEEKS) -> CashOut:
    today = today or timezone.localdate()
    first = week_start(today) - dt.timedelta(weeks=weeks - 1)
    mondays = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    since = _local_midnight(first)
    by_name: dict[str, dict[dt.date, int]] = {}
    for name, queryset, moment, amount in CASH_OUT_SOURCES:
        totals = _weekly(queryset(), moment, amount, since)
        into = by_name.setdefault(name, defaultdict(int))
        for day, cents in totals.items():
            into[day] += cents
    series = [(name, [totals.get(monday, 0) for monday in mondays]) for name, totals in by_name.items()]
    return CashOut(weeks=mondays, series=series, first_day=first, last_day=mondays[-1] + dt.timedelta(days=6))


# --- payables by status and age ------------------------------------------------------------------------


@dataclass
class StatusRow:
    status: str
    label: str
    count: int
    total_cents: int


@dataclass
class AgingRow:
    key: str
    label: str
    count: int
    total_cents: int


def payables_by_status() -> list[StatusRow]:
    rows = {
        row["status"]: row
        for row in Payable.objects.order_by().values("status").annotate(n=Count("id"), total=Sum("total_cents"))
    }
    return [
        StatusRow(status, label, rows[status]["n"], int(rows[status]["total"] or 0))
        for status, label in P.choices
        if status in rows
    ]


def aging(today: dt.date | None = None) -> list[AgingRow]:
    """Unpaid payables by days past due, in one query (one conditional count and sum per bucket)."""
    today = today or timezone.localdate()
    aggregates = {}
    for bucket in payable_selectors.AGING_BUCKETS:
        where = payable_selectors.aging_q(bucket, today)
        aggregates[f"n_{bucket.key}"] = Count("id", filter=where)
        aggregates[f"s_{bucket.key}"] = Sum("total_cents", filter=where)
    found = Payable.objects.filter(status__in=payable_selectors.AGING_STATUSES).aggregate(**aggregates)
    return [
        AgingRow(bucket.key, bucket.label, found[f"n_{bucket.key}"] or 0, int(found[f"s_{bucket.key}"] or 0))
        for bucket in payable_selectors.AGING_BUCKETS
    ]


# --- approvals waiting -----------------------------------------------------------------------------------


@dataclass
class ApproverLoad:
    user_id: int
    name: str
    waiting: int = 0
    oldest: dt.datetime | None = None
    over_service_level: int = 0
    bills: list[str] = field(default_factory=list)


def approvals_waiting(now: dt.datetime | None = None) -> list[ApproverLoad]:
    """Per approver: how many payables' current step waits for them, since when, and how many
    have waited longer than APPROVAL_SERVICE_LEVEL_BUSINESS_DAYS."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    limit = settings.APPROVAL_SERVICE_LEVEL_BUSINESS_DAYS
    holidays = holidays_between(dt.date.min, today)  # Holiday rows: a short list, read once
    cache = payable_selectors.StepCache()
    waiting = list(
        Payable.objects.filter(status=P.SUBMITTED)
        .only("id", "status", "approval_steps", "approval_policy_id", "created_by_id", "submitted_at", "created_at")
        .order_by("pk")
    )
    approvals = payable_selectors.last_approvals_by_step(Payable.objects.filter(status=P.SUBMITTED))
    loads: dict[int, ApproverLoad] = {}
    for payable in waiting:
        since = payable_selectors.step_waiting_since(payable, approvals.get(payable.pk, {}))
        for approver in payable_selectors.approvers_waiting(payable, cache):
            load = loads.get(approver.user_id)
            if load is None:
                load = loads[approver.user_id] = ApproverLoad(
                    approver.user_id, payable_selectors.approver_label(approver)
                )
            load.waiting += 1
            if since is not None:
                if load.oldest is None or since < load.oldest:
                    load.oldest = since
                if business_days_between(timezone.localtime(since).date(), today, holidays) > limit:
                    load.over_service_level += 1
    return sorted(loads.values(), key=lambda load: (-load.over_service_level, -load.waiting, load.name))


# --- cash-out forecast -----------------------------------------------------------------------------------

FORECAST_STATUSES = (P.SUBMITTED, P.APPROVED)


@dataclass
class ForecastWeek:
    monday: dt.date
    due_cents: int
    count: int
    balance_after_cents: int | None
    short: bool = False  # the first week the balance does not cover what is due


@dataclass
class Forecast:
    weeks: list[ForecastWeek]
    balance_cents: int | None
    balance_read_at: dt.datetime | None
    overdue_cents: int  # due before this week: counted in this week's figure too
    later_cents: int  # due after the last week shown
    no_due_date_cents: int

    @property
    def short_week(self) -> ForecastWeek | None:
        return next((week for week in self.weeks if week.short), None)


def wallet_balance() -> tuple[int | None, dt.datetime | None]:
    """The app wallet's balance as the sync last read it (no call to Dots while a page renders)."""
    wallet = AppWallet.objects.order_by("-synced_at").first()
    if wallet is None:
        return None, None
    return wallet.balance_cents, wallet.synced_at


def cash_out_forecast(today: dt.date | None = None, weeks: int = FORECAST_WEEKS) -> Forecast:
    today = today or timezone.localdate()
    first = week_start(today)
    end = first + dt.timedelta(weeks=weeks)
    open_ones = Payable.objects.filter(status__in=FORECAST_STATUSES)
    found = open_ones.aggregate(
        overdue=Sum("total_cents", filter=Q(due_date__lt=first)),
        later=Sum("total_cents", filter=Q(due_date__gte=end)),
        undated=Sum("total_cents", filter=Q(due_date__isnull=True)),
    )
    by_week: dict[dt.date, tuple[int, int]] = {}
    rows = (
        open_ones.filter(due_date__gte=first, due_date__lt=end)
        .order_by()
        .values("due_date")
        .annotate(n=Count("id"), total=Sum("total_cents"))
    )
    for row in rows:
        monday = week_start(row["due_date"])
        count, cents = by_week.get(monday, (0, 0))
        by_week[monday] = (count + row["n"], cents + int(row["total"] or 0))
    overdue = int(found["overdue"] or 0)
    overdue_count = open_ones.filter(due_date__lt=first).count() if overdue else 0
    balance, read_at = wallet_balance()
    remaining = balance
    out = []
    short_marked = False
    for i in range(weeks):
        monday = first + dt.timedelta(weeks=i)
        count, cents = by_week.get(monday, (0, 0))
        if i == 0:
            count, cents = count + overdue_count, cents + overdue
        if remaining is not None:
            remaining -= cents
        short = remaining is not None and remaining < 0 and not short_marked
        short_marked = short_marked or short
        out.append(ForecastWeek(monday, cents, count, remaining, short))
    return Forecast(
        weeks=out,
        balance_cents=balance,
        balance_read_at=read_at,
        overdue_cents=overdue,
        later_cents=int(found["later"] or 0),
        no_due_date_cents=int(found["undated"] or 0),
    )


# --- what a manager must never miss -----------------------------------------------------------------------


@dataclass
class Attention:
    label: str
    count: int
    url_name: str  # admin URL name of the list
    query: str  # the list's filter


def needs_attention() -> list[Attention]:
    """Money whose outcome is unknown, actions waiting for Dots, disagreements, failures: counts."""
    recent = timezone.now() - dt.timedelta(days=30)
    return [
        Attention(
            "Payments whose outcome is unknown",
            Payable.objects.filter(status=P.OUTCOME_UNKNOWN).count(),
            "admin:payables_payable_changelist",
            f"status__exact={P.OUTCOME_UNKNOWN}",
        ),
        Attention(
            "Payables whose payment failed",
            Payable.objects.filter(status=P.PAYMENT_FAILED).count(),
            "admin:payables_payable_changelist",
            f"status__exact={P.PAYMENT_FAILED}",
        ),
        Attention(
            "Payout links sent to Dots with no answer",
            PayoutLink.objects.filter(status=PayoutLink.Status.UNKNOWN).count(),
            "admin:payouts_payoutlink_changelist",
            f"status__exact={PayoutLink.Status.UNKNOWN}",
        ),
        Attention(
            "Payout requests sent to Dots with no answer",
            PayoutRequest.objects.filter(status=PayoutRequest.Status.UNKNOWN).count(),
            "admin:payouts_payoutrequest_changelist",
            f"status__exact={PayoutRequest.Status.UNKNOWN}",
        ),
        Attention(
            "Transfers to payees with no answer from Dots",
            PayeeTransfer.objects.filter(status=PayeeTransfer.Status.UNKNOWN).count(),
            "admin:payouts_payeetransfer_changelist",
            f"status__exact={PayeeTransfer.Status.UNKNOWN}",
        ),
        Attention(
            "Deposits and withdrawals with no answer from Dots",
            WalletTransfer.objects.filter(status=WalletTransfer.Status.UNKNOWN).count(),
            "admin:wallet_wallettransfer_changelist",
            f"status__exact={WalletTransfer.Status.UNKNOWN}",
        ),
        Attention(
            "Actions queued until Dots is back",
            QueuedDotsAction.objects.filter(status=QueuedDotsAction.Status.WAITING).count(),
            "admin:core_queueddotsaction_changelist",
            f"status__exact={QueuedDotsAction.Status.WAITING}",
        ),
        Attention(
            "Open disagreements with Dots",
            Discrepancy.objects.filter(resolution=Discrepancy.Resolution.OPEN).count(),
            "admin:reconciliation_discrepancy_changelist",
            "state=open",
        ),
        Attention(
            "Transfers that failed in the last 30 days",
            Transfer.objects.filter(status=Transfer.Status.FAILED, dots_created_at__gte=recent).count(),
            "admin:payouts_transfer_changelist",
            f"status__exact={Transfer.Status.FAILED}",
        ),
    ]
