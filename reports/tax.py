"""The 1099 reporting threshold by tax year, in one place.

$600 for payments through 2025; $2,000 for payments made in 2026 (the One Big Beautiful Bill Act
raised it); from 2027 it is indexed for inflation, so each later year is added here when the IRS
publishes it. A year without an entry is said plainly, never guessed.
"""

from core.money import format_cents

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
        f"for {year} to reports/tax.py (THRESHOLDS_CENTS); until then no payee is marked over it."
    )
