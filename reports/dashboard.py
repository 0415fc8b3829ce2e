"""The business overview on the home page (Managers and Administrators): what each panel shows.

Each `*_panel(request)` answers the template's context (core.dashboard renders it); each
`*_chart(request)` answers the numbers core.charts draws. The panel's table and its chart come
from the same figure, so they never disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone

from core.charts import ChartData
from core.money import format_cents
from reports import figures

# The buckets' names, short enough to sit under a bar.
CHART_BUCKET_LABELS = {
    "current": "Not yet due",
    "1-30": "1–30 days late",
    "31-60": "31–60 days late",
    "61-90": "61–90 days late",
    "90+": "90+ days late",
}


def _day(day) -> str:
    return f"{day.day} {day:%b %Y}"


def _week_label(monday) -> str:
    return f"{monday.day} {monday:%b}"


def _payables_list(query: str) -> str:
    return f"{reverse('admin:payables_payable_changelist')}?{query}"


def attention_panel(request) -> dict[str, Any]:
    rows = []
    for item in figures.needs_attention():
        url = reverse(item.url_name)
        rows.append({"label": item.label, "count": item.count, "url": f"{url}?{item.query}" if item.query else url})
    return {"rows": rows, "all_clear": not any(row["count"] for row in rows)}


def cash_out_panel(request) -> dict[str, Any]:
    data = figures.cash_out_by_week(timezone.localdate())
    weeks = [
        {
            "label": _week_label(monday),
            "values": [format_cents(values[i]) for _, values in data.series],
            "total": format_cents(data.week_totals[i]),
        }
        for i, monday in enumerate(data.weeks)
    ]
    return {
        "period": f"{_day(data.first_day)} to {_day(data.last_day)}",
        "names": [name for name, _ in data.series],
        "weeks": weeks,
        "series_totals": [format_cents(cents) for _, cents in data.series_totals],
        "total": format_cents(data.total),
        "chart_url": reverse("admin:dashboard_chart", args=["cash_out_by_week"]),
        "chart_alt": f"Stacked bars of money out per week, {_day(data.first_day)} to {_day(data.last_day)}: "
        f"{format_cents(data.total)} in all. The numbers are in the table below.",
    }


def cash_out_chart(request) -> ChartData:
    data = figures.cash_out_by_week(timezone.localdate())
    return ChartData(
        title=f"Money out per week, {_day(data.first_day)} to {_day(data.last_day)}",
        x_labels=[_week_label(monday) for monday in data.weeks],
        series=data.series,
    )


def payables_panel(request) -> dict[str, Any]:
    today = timezone.localdate()
    statuses = [
        {
            "label": row.label,
            "count": row.count,
            "total": format_cents(row.total_cents),
            "url": _payables_list(f"status__exact={row.status}"),
        }
        for row in figures.payables_by_status()
    ]
    buckets = figures.aging(today)
    aging = [
        {
            "label": row.label,
            "count": row.count,
            "total": format_cents(row.total_cents),
            "url": _payables_list(f"aging={row.key}"),
            "late": row.key != "current" and row.count > 0,
        }
        for row in buckets
    ]
    return {
        "statuses": statuses,
        "aging": aging,
        "aging_total": format_cents(sum(row.total_cents for row in buckets)),
        "aging_count": sum(row.count for row in buckets),
        "today": _day(today),
        "chart_url": reverse("admin:dashboard_chart", args=["aging"]),
        "chart_alt": "Bars of unpaid payables by days past due; the numbers are in the table beside it.",
    }


def aging_chart(request) -> ChartData:
    buckets = figures.aging(timezone.localdate())
    return ChartData(
        title=f"Unpaid payables by days past due, on {_day(timezone.localdate())}",
        x_labels=[CHART_BUCKET_LABELS.get(row.key, row.label) for row in buckets],
        series=[("Unpaid (waiting for approval, approved, payment failed)", [row.total_cents for row in buckets])],
        kind="bar",
    )


def approvals_panel(request) -> dict[str, Any]:
    from django.conf import settings

    now = timezone.now()
    rows = [
        {
            "name": load.name,
            "waiting": load.waiting,
            "oldest": load.oldest,
            "over": load.over_service_level,
            "url": _payables_list(f"waiting={load.user_id}"),
        }
        for load in figures.approvals_waiting(now)
    ]
    return {"rows": rows, "days": settings.APPROVAL_SERVICE_LEVEL_BUSINESS_DAYS}


def forecast_panel(request) -> dict[str, Any]:
    forecast = figures.cash_out_forecast(timezone.localdate())
    weeks = [
        {
            "label": f"Week of {_week_label(week.monday)}",
            "count": week.count,
            "due": format_cents(week.due_cents),
            "balance_after": format_cents(week.balance_after_cents) if week.balance_after_cents is not None else "—",
            "short": week.short,
            "negative": week.balance_after_cents is not None and week.balance_after_cents < 0,
        }
        for week in forecast.weeks
    ]
    short = forecast.short_week
    return {
        "weeks": weeks,
        "balance": format_cents(forecast.balance_cents) if forecast.balance_cents is not None else None,
        "balance_read_at": forecast.balance_read_at,
        "overdue": format_cents(forecast.overdue_cents) if forecast.overdue_cents else "",
        "later": format_cents(forecast.later_cents),
        "undated": format_cents(forecast.no_due_date_cents),
        "short_week": f"week of {_week_label(short.monday)}" if short else "",
        "first": _day(forecast.weeks[0].monday),
        "last": _day(forecast.weeks[-1].monday + dt.timedelta(days=6)),
        "chart_url": reverse("admin:dashboard_chart", args=["forecast"]),
        "chart_alt": "Bars of payables due per week for the next 8 weeks; the table beside it has the numbers "
        "and the balance left after each week.",
    }


def forecast_chart(request) -> ChartData:
    forecast = figures.cash_out_forecast(timezone.localdate())
    return ChartData(
        title="Payables due per week (waiting for approval and approved)",
        x_labels=[_week_label(week.monday) for week in forecast.weeks],
        series=[("Due", [week.due_cents for week in forecast.weeks])],
        kind="bar",
    )


def reports_panel(request) -> dict[str, Any]:
    from core.reports import reports_for

    return {"reports": reports_for(request)}
