"""The 1099 reporting threshold by tax year, what a payee was paid in a year, and the optional guard
that refuses paying a payee past the threshold without a matched TIN.

$600 for payments through 2025; $2,000 for payments made in 2026 (the One Big Beautiful Bill Act
raised it); from 2027 it is indexed for inflation, so each later year is added here when the IRS
publishes it. A year without an entry is said plainly, never guessed.

Paid to a payee in a year (local time): payout links they claimed (tax-exempt links left out),
approved payout requests and completed transfers into their wallet. The 1099 readiness report
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


def year_window(year: int) -> Q:
    start = timezone.make_aware(dt.datetime(year, 1, 1))
    end = timezone.make_aware(dt.datetime(year + 1, 1, 1))
    return Q(updated_at__gte=start, updated_at__lt=end, payee__isnull=False)


def paid_sources(where: Q) -> tuple[QuerySet, ...]:
    """What counts as paid to payees, each a queryset with payee_id and amount_cents."""
    return (
        PayoutLink.objects.filter(where, status=PayoutLink.Status.CLAIMED, tax_exempt=False),
        PayoutRequest.objects.filter(where, status=PayoutRequest.Status.APPROVED),
        PayeeTransfer.objects.filter(where, status=PayeeTransfer.Status.COMPLETED),
    )


def paid_in_year(payee_id: int, year: int) -> int:
    where = year_window(year) & Q(payee_id=payee_id)
    return sum(int(q.aggregate(t=Sum("amount_cents"))["t"] or 0) for q in paid_sources(where))


def refuse_unless_1099_ready(payee: Payee | None, adding_cents: int, *, tax_exempt: bool = False) -> None:
    """With PAYOUTS_REQUIRE_MATCHED_TIN_OVER_1099_THRESHOLD on (off by default): refuse paying a payee
    whose total this year, with this payment, reaches the year's threshold while Dots has not matched
    their TIN. Tax-exempt payments never count."""
    if not settings.PAYOUTS_REQUIRE_MATCHED_TIN_OVER_1099_THRESHOLD or payee is None or tax_exempt:
        return
    year = timezone.localdate().year
    threshold = threshold_cents(year)
    if threshold is None:
        return
    if str((payee.compliance or {}).get("tax_id_verification") or "") == "matched":
        return
    paid = paid_in_year(payee.pk, year)
    if paid + adding_cents >= threshold:
        raise InvalidPayee(
            f"{payee} would be paid {format_cents(paid + adding_cents)} in {year}, at or over the "
            f"{format_cents(threshold)} 1099 threshold, and Dots has not matched their TIN. Collect their W-9 "
            f"(the TIN must be matched) before paying them more.",
            code="tin-not-matched",
        )
