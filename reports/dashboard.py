"""The business overview on the home page (Managers and Administrators): what each panel shows.

Each `*_panel(request)` answers the template's context (core.dashboard renders it); each
`*_chart(request)` answers the numbers core.charts draws. Panel and chart read the same snapshot
of figures (reports.overview), so they never disagree; "Needs attention" is read live.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.charts import ChartData
from core.money import format_cents
from reports import figures, overview

# The buckets' names, short enough to sit under a bar.
CHART_BUCKET_LABELS = {
    "current": "Not yet due",
    "1-30": "1–30 days late",
    "31-60": "31–60 days late",
    "61-90": "61–90 days late",
    "90+": "90+ days late",
}


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _week_label(monday: dt.date) -> str:
    return f"{monday.day} {monday:%b}"


def _payables_list(query: str) -> str:
    return f"{reverse('admin:payables_payable_changelist')}?{query}"


def _as_of(snapshot) -> dict[str, Any]:
    return {"computed_at": snapshot.computed_at, "refresh_minutes": settings.OVERVIEW_REFRESH_MINUTES}


def attention_panel(request) -> dict[str, Any]:
    rows = []
    for item in figures.needs_attention():
        url = reverse(item.url_name)
        rows.append({"label": item.label, "count": item.count, "url": f"{url}?{item.query}" if item.query else url})
    return {"rows": rows, "all_clear": not any(row["count"] for row in rows), "now": timezone.now()}


def cash_out_panel(request) -> dict[str, Any]:
    snapshot = overview.current()
    data = snapshot.data["cash_out"]
    mondays = [_date(w) for w in data["weeks"]]
    series = data["series"]
    week_totals = [sum(values[i] for _, values in series) for i in range(len(mondays))]
    total = sum(week_totals)
    first, last = _date(data["first_day"]), _date(data["last_day"])
    return {
        **_as_of(snapshot),
        "period": f"{_day(first)} to {_day(last)}",
        "names": [name for name, _ in series],
        "weeks": [
            {
                "label": _week_label(monday),
                "values": [format_cents(values[i]) for _, values in series],
                "total": format_cents(week_totals[i]),
            }
            for i, monday in enumerate(mondays)
        ],
        "series_totals": [format_cents(sum(values)) for _, values in series],
        "total": format_cents(total),
        "chart_url": reverse("admin:dashboard_chart", args=["cash_out_by_week"]),
        "chart_alt": f"Stacked bars of money out per week, {_day(first)} to {_day(last)}: "
        f"{format_cents(total)} in all. The numbers are in the table below.",
    }


def cash_out_chart(request) -> ChartData:
    data = overview.current().data["cash_out"]
    first, last = _date(data["first_day"]), _date(data["last_day"])
    return ChartData(
        title=f"Money out per week, {_day(first)} to {_day(last)}",
        x_labels=[_week_label(_date(w)) for w in data["weeks"]],
        series=[(name, values) for name, values in data["series"]],
    )


def payables_panel(request) -> dict[str, Any]:
    snapshot = overview.current()
    statuses = [
        {
            "label": label,
            "count": count,
            "total": format_cents(cents),
            "url": _payables_list(f"status__exact={status}"),
        }
        for status, label, count, cents in snapshot.data["statuses"]
    ]
    buckets = snapshot.data["aging"]
    aging = [
        {
            "label": label,
            "count": count,
            "total": format_cents(cents),
            "url": _payables_list(f"aging={key}"),
            "late": key != "current" and count > 0,
        }
        for key, label, count, cents in buckets
    ]
    return {
        **_as_of(snapshot),
        "statuses": statuses,
        "aging": aging,
        "aging_total": format_cents(sum(row[3] for row in buckets)),
        "aging_count": sum(row[2] for row in buckets),
        "today": _day(_date(snapshot.data["today"])),
        "chart_url": reverse("admin:dashboard_chart", args=["aging"]),
        "chart_alt": "Bars of unpaid payables by days past due; the numbers are in the table beside it.",
    }


def aging_chart(request) -> ChartData:
    snapshot = overview.current()
    buckets = snapshot.data["aging"]
    return ChartData(
        title=f"Unpaid payables by days past due, on {_day(_date(snapshot.data['today']))}",
        x_labels=[CHART_BUCKET_LABELS.get(key, label) for key, label, _, _ in buckets],
        series=[("Unpaid (waiting for approval, approved, payment failed)", [row[3] for row in buckets])],
        kind="bar",
    )


def approvals_panel(request) -> dict[str, Any]:
    snapshot = overview.current()
    rows = [
        {
            "name": name,
            "waiting": waiting,
            "oldest": parse_datetime(oldest) if oldest else None,
            "over": over,
            "url": _payables_list(f"waiting={user_id}"),
        }
        for user_id, name, waiting, oldest, over in snapshot.data["approvals"]
    ]
    return {**_as_of(snapshot), "rows": rows, "days": settings.APPROVAL_SERVICE_LEVEL_BUSINESS_DAYS}


def forecast_panel(request) -> dict[str, Any]:
    snapshot = overview.current()
    data = snapshot.data["forecast"]
    weeks = data["weeks"]
    short = next((week for week in weeks if week[4]), None)
    balance = data["balance_cents"]
    return {
        **_as_of(snapshot),
        "weeks": [
            {
                "label": f"Week of {_week_label(_date(monday))}",
                "count": count,
                "due": format_cents(due),
                "balance_after": format_cents(after) if after is not None else "—",
                "short": is_short,
                "negative": after is not None and after < 0,
            }
            for monday, due, count, after, is_short in weeks
        ],
        "balance": format_cents(balance) if balance is not None else None,
        "balance_read_at": parse_datetime(data["balance_read_at"]) if data["balance_read_at"] else None,
        "overdue": format_cents(data["overdue_cents"]) if data["overdue_cents"] else "",
        "later": format_cents(data["later_cents"]),
        "undated": format_cents(data["no_due_date_cents"]),
        "short_week": f"week of {_week_label(_date(short[0]))}" if short else "",
        "first": _day(_date(weeks[0][0])),
        "last": _day(_date(weeks[-1][0]) + dt.timedelta(days=6)),
        "chart_url": reverse("admin:dashboard_chart", args=["forecast"]),
        "chart_alt": "Bars of payables due per week for the next 8 weeks; the table beside it has the numbers "
        "and the balance left after each week.",
    }


def forecast_chart(request) -> ChartData:
    weeks = overview.current().data["forecast"]["weeks"]
    return ChartData(
        title="Payables due per week (waiting for approval and approved)",
        x_labels=[_week_label(_date(week[0])) for week in weeks],
        series=[("Due", [week[1] for week in weeks])],
        kind="bar",
    )


def reports_panel(request) -> dict[str, Any]:
    from core.reports import reports_for

    return {"reports": reports_for(request)}
