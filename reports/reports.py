"""The reports a manager reads and exports: AP aging by vendor, vendor spend, 1099 readiness.

Each `*_report(request)` reads its filters from the query string and answers a
core.reports.ReportTable (core renders the page and the CSV and Excel exports from it).
Aggregates are computed in the database, grouped by vendor or payee.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from core.exports import ExportColumn
from core.reports import ReportFilter, ReportTable
from payables import selectors as payable_selectors
from payables.models import Payable
from payouts import tax
from payouts.models import Payee

P = Payable.Status
MAX_MONTHS = 24


def _date(request, name: str, default: dt.date | None, problems: list[str], label: str) -> dt.date | None:
    raw = (request.GET.get(name) or "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{label}: “{raw[:20]}” is not a date (YYYY-MM-DD); {default or 'none'} is used instead.")
        return default


def _local_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# --- AP aging by vendor ----------------------------------------------------------------------------------


def ap_aging_report(request) -> ReportTable:
    problems: list[str] = []
    today = timezone.localdate()
    as_of = _date(request, "as_of", today, problems, "As of") or today
    due_from = _date(request, "due_from", None, problems, "Due from")
    due_to = _date(request, "due_to", None, problems, "Due to")
    unpaid = Payable.objects.filter(status__in=payable_selectors.AGING_STATUSES)
    if due_from:
        unpaid = unpaid.filter(due_date__gte=due_from)
    if due_to:
        unpaid = unpaid.filter(due_date__lte=due_to)
    buckets = payable_selectors.AGING_BUCKETS
    sums = {f"b{i}": Sum("total_cents", filter=payable_selectors.aging_q(b, as_of)) for i, b in enumerate(buckets)}
    grouped = (
        unpaid.order_by()
        .values("vendor__name")
        .annotate(n=Count("id"), total=Sum("total_cents"), **sums)
        .order_by("-total", "vendor__name")
    )
    rows = [
        (
            row["vendor__name"],
            row["n"],
            *(int(row[f"b{i}"] or 0) for i in range(len(buckets))),
            int(row["total"] or 0),
        )
        for row in grouped
    ]
    columns = (
        ExportColumn("Vendor", "vendor"),
        ExportColumn("Unpaid payables", "count", "number"),
        *(ExportColumn(bucket.label, bucket.key, "money") for bucket in buckets),
        ExportColumn("Total unpaid", "total", "money"),
    )
    totals = ("All vendors", *(sum(row[i] for row in rows) for i in range(1, len(columns))))
    return ReportTable(
        columns=columns,
        rows=rows,
        totals=totals if rows else None,
        filters=[
            ReportFilter("as_of", "As of", as_of.isoformat()),
            ReportFilter("due_from", "Due from", due_from.isoformat() if due_from else ""),
            ReportFilter("due_to", "Due to", due_to.isoformat() if due_to else ""),
        ],
        notes=[
            "Unpaid: waiting for approval, approved, or approved with a payment that failed. Days past due are "
            f"counted on {as_of.day} {as_of:%b %Y}; a payable with no due date counts as not yet due. "
            "Largest balance first."
        ],
        problems=problems,
    )


# --- vendor spend ------------------------------------------------------------------------------------------


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def vendor_spend_report(request) -> ReportTable:
    problems: list[str] = []
    this_month = _month_start(timezone.localdate())
    first = _month_start(_date(request, "from", _add_months(this_month, -11), problems, "From") or this_month)
    last = _month_start(_date(request, "to", this_month, problems, "To") or this_month)
    if last < first:
        problems.append("“To” is before “From”: the two are swapped.")
        first, last = last, first
    months = []
    month = first
    while month <= last and len(months) < MAX_MONTHS:
        months.append(month)
        month = _add_months(month, 1)
    if month <= last:
        problems.append(f"At most {MAX_MONTHS} months at once: shown up to {months[-1]:%b %Y}.")
    end = _add_months(months[-1], 1)
    paid = (
        Payable.objects.filter(
            status=P.PAYMENT_COMPLETED,
            status_changed_at__gte=_local_start(first),
            status_changed_at__lt=_local_start(end),
        )
        .annotate(month=TruncMonth("status_changed_at", tzinfo=timezone.get_current_timezone()))
        .order_by()
        .values("vendor__name", "month")
        .annotate(total=Sum("total_cents"))
    )
    spend: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for row in paid:
        moment = row["month"]
        day = timezone.localtime(moment).date() if isinstance(moment, dt.datetime) else moment
        spend[row["vendor__name"]][_month_start(day)] += int(row["total"] or 0)
    rows = sorted(
        ((vendor, *(by_month.get(m, 0) for m in months), sum(by_month.values())) for vendor, by_month in spend.items()),
        key=lambda row: (-row[-1], row[0]),
    )
    columns = (
        ExportColumn("Vendor", "vendor"),
        *(ExportColumn(f"{m:%b %Y}", f"m{i}", "money") for i, m in enumerate(months)),
        ExportColumn("Total", "total", "money"),
    )
    totals = ("All vendors", *(sum(row[i] for row in rows) for i in range(1, len(columns))))
    return ReportTable(
        columns=columns,
        rows=rows,
        totals=totals if rows else None,
        filters=[
            ReportFilter("from", "From", first.isoformat()),
            ReportFilter("to", "To", last.isoformat()),
        ],
        notes=[
            "Paid: payables Dots paid, in the month the payment completed (local time); each payable once, "
            "however many times its payment was tried. Largest total first."
        ],
        problems=problems,
    )


# --- 1099 readiness ----------------------------------------------------------------------------------------

TIN_WORDS = {
    "unsubmitted": "not submitted",
    "pending": "being checked",
    "matched": "matched",
    "mismatched": "does not match",
}


def paid_to_payees(year: int) -> dict[int, int]:
    """{payee id: cents} paid to each payee in `year` (local time), counted as payouts.tax counts it."""
    return tax.paid_by_payee(year)


def readiness_rows(year: int, threshold: int | None) -> list[tuple]:
    totals = paid_to_payees(year)
    rows = []
    payees = Payee.objects.filter(pk__in=list(totals)).only("first_name", "last_name", "email", "compliance")
    for payee in payees.iterator(chunk_size=2000):
        c = payee.compliance or {}
        w9 = c.get("w9") or {}
        tin = str(c.get("tax_id_verification") or "unsubmitted")
        paid = totals[payee.pk]
        over = threshold is not None and paid >= threshold
        rows.append(
            (
                f"{payee.first_name} {payee.last_name}".strip(),
                payee.email,
                paid,
                over,
                bool(w9.get("tax_id_collected") or c.get("tax_id_collected")),
                TIN_WORDS.get(tin, tin),
                bool(c.get("must_collect_1099")),
                bool(c.get("1099_collected")),
                tin == "matched",
            )
        )
    # Over the threshold without a matched TIN first, then the largest amounts.
    rows.sort(key=lambda row: (not (row[3] and not row[8]), not row[3], -row[2], row[0]))
    return [row[:8] for row in rows]


def tax_1099_report(request) -> ReportTable:
    problems: list[str] = []
    this_year = timezone.localdate().year
    raw = (request.GET.get("year") or "").strip()
    year = this_year
    if raw:
        if raw.isdigit() and 2000 <= int(raw) <= this_year + 1:
            year = int(raw)
        else:
            problems.append(f"Year: “{raw[:10]}” is not a tax year; {this_year} is shown.")
    threshold = tax.threshold_cents(year)
    if threshold is None:
        problems.append(tax.missing_threshold_message(year))
    columns = (
        ExportColumn("Payee", "payee"),
        ExportColumn("Email", "email"),
        ExportColumn(f"Paid in {year}", "paid", "money"),
        ExportColumn("Over the threshold", "over", "bool"),
        ExportColumn("W-9 collected", "w9", "bool"),
        ExportColumn("TIN verification", "tin"),
        ExportColumn("Dots: must collect 1099", "must_collect", "bool"),
        ExportColumn("Dots: 1099 collected", "collected", "bool"),
    )
    years = [str(y) for y in range(this_year, this_year - 4, -1)]
    return ReportTable(
        columns=columns,
        rows=readiness_rows(year, threshold),
        filters=[ReportFilter("year", "Tax year", str(year), kind="select", options=[(y, y) for y in years])],
        notes=[
            f"Paid: payout links payees claimed (tax-exempt links left out), approved payout requests, transfers "
            f"into payees' wallets and paid payout batch items, in {year} (local time). "
            + (
                f"The {year} threshold is {tax.threshold_words(year)}. "
                if threshold is not None
                else "No threshold is recorded for this year. "
            )
            + "Payees over the threshold without a matched TIN come first.",
        ],
        problems=problems,
    )
