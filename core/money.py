"""Money is integer cents end to end, as Dots does; formatted only for display."""

import re
from typing import Any

from django import forms
from django.core import validators
from django.db import models

_AMOUNT = re.compile(r"^(?P<whole>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d*))?$")

# A bill over a hundred million dollars is a typo, not a payable.
MAX_CENTS = 100_000_000_00


class MoneyParseError(ValueError):
    """The text is not an amount of dollars and cents; the message says why."""


def format_cents(cents: int | None, *, currency: str = "$") -> str:
    """1234567 -> "$12,345.67"; negative amounts keep their sign in front."""
    if cents is None:
        return ""
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}{currency}{dollars:,}.{rest:02d}"


def parse_money(text: str) -> int:
    """ "1234.56", "1,234.56" or "$1,234.56" -> 123456 cents.

    Refuses more than two decimals, negative and non-numeric input with a message
    a user can act on.
    """
    raw = (text or "").strip()
    if not raw:
        raise MoneyParseError("Enter an amount, for example 1,234.56.")
    cleaned = raw.replace(" ", "")
    if cleaned.startswith("-") or cleaned.startswith("$-") or cleaned.startswith("("):
        raise MoneyParseError(f"“{raw}” is negative: enter an amount of zero or more.")
    if cleaned.startswith("$"):
        cleaned = cleaned[1:]
    match = _AMOUNT.match(cleaned)
    if not match or (match.group("whole") is None and not match.group("frac")):
        raise MoneyParseError(f"“{raw}” is not an amount: use digits, an optional $ and commas, for example 1,234.56.")
    frac = match.group("frac") or ""
    if len(frac) > 2:
        raise MoneyParseError(f"“{raw}” has more than two decimals: amounts are in dollars and cents.")
    whole = int((match.group("whole") or "0").replace(",", ""))
    cents = whole * 100 + int(frac.ljust(2, "0") or 0)
    if cents > MAX_CENTS:
        raise MoneyParseError(f"“{raw}” is more than {format_cents(MAX_CENTS)}.")
    return cents


class MoneyFormField(forms.Field):
    """A text input for dollars that cleans to integer cents."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.00", "class": "money-input"})

    def __init__(self, *, min_cents: int = 0, **kwargs: Any) -> None:
        self.min_cents = min_cents
        # Integer model fields pass their database range; cents have their own limits.
        for unused in ("max_length", "min_value", "max_value", "step_size"):
            kwargs.pop(unused, None)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        # Shows stored cents as dollars; leaves what the user typed alone on a re-render.
        if isinstance(value, int):
            return format_cents(value, currency="")
        return value

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if isinstance(value, int):
            return value
        try:
            cents = parse_money(str(value))
        except MoneyParseError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc
        if cents < self.min_cents:
            raise forms.ValidationError(f"Enter at least {format_cents(self.min_cents)}.", code="min_value")
        return cents


class MoneyField(models.BigIntegerField):
    """Integer cents in the database; a dollars-and-cents input in forms."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validators.append(validators.MinValueValidator(0))

    def formfield(
        self,
        form_class: type[forms.Field] | None = MoneyFormField,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        # The admin gives every BigIntegerField a number input, which refuses "$1,234.56"
        # before the form ever sees it: keep the money field's own text input.
        kwargs.pop("widget", None)
        return super().formfield(form_class=form_class, choices_form_class=choices_form_class, **kwargs)
