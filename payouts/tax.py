"""The 1099 reporting threshold by tax year, what a payee was paid in a year, and the optional guard
that refuses paying a payee past the threshold without a matched TIN.

$600 for payments through 2025; $2,000 for payments made in 2026 (the One Big Beautiful Bill Act
raised it); from 2027 it is indexed for inflation, so each later year is added here when the IRS
publishes it. A year without an entry is said plainly, never guessed.

Paid to a payee in a year (local time): payout links they claimed (tax-exempt links left out),
approved payout requests, completed transfers into their wallet and paid payout batch items. The 1099
readiness report
(reports/reports.py) and the guard count the same way: `paid_sources`.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from core.money import format_cents
from payouts.errors import InvalidPayee
from payouts.models import Payee, PayeeTransfer, PayoutLink, PayoutRequest

THRESHOLDS_CENTS: dict[int, int] = {
    **dict.fromkeys(range(2000, 2026), 60000),
    2026: 2_000_00,
}


def threshold_cents(year: int) -> int | None:
    return THRESHOLDS_CENTS.get(year)


def threshold_words(year: int) -> str:
    cents = threshold_cents(year)
    return format_cents(cents) if cents is not None else "not recorded"


def missing_threshold_message(year: int) -> str:
    return (
        f"No 1099 threshold is recorded for {year}: from 2027 it is indexed for inflation. Add the IRS figure "
        f"for {year} to payouts/tax.py (THRESHOLDS_CENTS); until then no payee is marked over it."
    )


def _year(field: str, year: int) -> Q:
    start = timezone.make_aware(dt.datetime(year, 1, 1))
    end = timezone.make_aware(dt.datetime(year + 1, 1, 1))
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


def paid_sources(year: int, payee_ids: list[int] | None = None) -> tuple[QuerySet, ...]:
    """What counts as paid to payees in `year` (local time), each a queryset with payee_id and amount_cents:
    payout links claimed (tax-exempt ones left out), approved payout requests, completed transfers into
    their wallets and paid payout batch items (the batch's last change dates them)."""
    from payouts.models import PayoutBatchItem

    sources = (
        PayoutLink.objects.filter(_year("updated_at", year), status=PayoutLink.Status.CLAIMED, tax_exempt=False),
        PayoutRequest.objects.filter(_year("updated_at", year), status=PayoutRequest.Status.APPROVED),
        PayeeTransfer.objects.filter(_year("updated_at", year), status=PayeeTransfer.Status.COMPLETED),
        PayoutBatchItem.objects.filter(_year("batch__updated_at", year), status=PayoutBatchItem.Status.COMPLETED),
    )
    if payee_ids is None:
        return tuple(q.filter(payee__isnull=False) for q in sources)
    return tuple(q.filter(payee_id__in=payee_ids) for q in sources)


def paid_by_payee(year: int, payee_ids: list[int] | None = None) -> dict[int, int]:
    """{payee id: cents} paid in `year`: one grouped query per source, whatever the number of payees."""
    totals: dict[int, int] = {}
    for queryset in paid_sources(year, payee_ids):
        grouped = queryset.order_by().values("payee_id").annotate(t=Sum("amount_cents"))
        for payee_id, cents in grouped.values_list("payee_id", "t"):
            totals[payee_id] = totals.get(payee_id, 0) + int(cents or 0)
    return totals


def paid_in_year(payee_id: int, year: int) -> int:
    return paid_by_payee(year, [payee_id]).get(payee_id, 0)


def refuse_unless_1099_ready(payee: Payee | None, adding_cents: int, *, tax_exempt: bool = False) -> None:
    """With PAYOUTS_REQUIRE_MATCHED_TIN_OVER_1099_THRESHOLD on (off by default): refuse paying a payee
    whose total this year, with this payment, reaches the year's threshold while Dots has not matched
    their TIN. Tax-exempt payments never count."""
    if payee is None or tax_exempt:
        return
    refuse_batch_unless_1099_ready([(payee, adding_cents)])


def refuse_batch_unless_1099_ready(rows: list[tuple[Payee, int]]) -> None:
    """The same guard for many payees at once (a payout batch), naming the first one refused."""
    if not settings.PAYOUTS_REQUIRE_MATCHED_TIN_OVER_1099_THRESHOLD or not rows:
        return
    year = timezone.localdate().year
    threshold = threshold_cents(year)
    if threshold is None:
        return
    unmatched = [
        (payee, cents)
        for payee, cents in rows
        if str((payee.compliance or {}).get("tax_id_verification") or "") != "matched"
    ]
    if not unmatched:
        return
    paid = paid_by_payee(year, [payee.pk for payee, _ in unmatched])
    for payee, cents in unmatched:
        total = paid.get(payee.pk, 0) + cents
        if total >= threshold:
            raise InvalidPayee(
                f"{payee} would be paid {format_cents(total)} in {year}, at or over the "
                f"{format_cents(threshold)} 1099 threshold, and Dots has not matched their TIN. Collect their "
                f"W-9 (the TIN must be matched) before paying them more.",
                code="tin-not-matched",
            )
