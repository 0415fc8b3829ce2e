"""Checks of the fields a user request carries, shared by the user routes (and payout links' metadata).

Each raises the emulator's 400 `invalid-input` naming the field, as Dots does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc, Metadata

RAILS = ("ach", "paypal", "venmo", "cash_app", "intl_bank", "airtm", "payoneer", "crypto")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# The spec's enum for w8ben.tax_treaty_income_type.
W8BEN_INCOME_TYPES = ("interest1", "dividend6", "dividend7", "pension15", "socialSecurity", "equipment10",
                      "knowhow10", "patent10", "film11", "copyright12")  # fmt: skip


def reject_unknown_fields(body: Doc, allowed: Iterable[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, "invalid-input", f"unknown field(s): {', '.join(unknown)}")


def require_email(ctx: Ctx, body: Doc, name: str) -> str:
    value = ctx.require_str(body, name)
    if not EMAIL.match(value):
        raise ApiError(400, "invalid-input", f"{name} must be an email address")
    return value


def optional_date(ctx: Ctx, body: Doc, name: str, *, prefix: str = "") -> str | None:
    value = body.get(name)
    if value is None:
        return None
    return require_date(ctx, body, name, prefix=prefix)


def require_date(ctx: Ctx, body: Doc, name: str, *, prefix: str = "") -> str:
    value = body.get(name)
    try:
        if not isinstance(value, str) or not DATE.match(value):
            raise ValueError
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise ApiError(400, "invalid-input", f"{prefix}{name} must be a date (YYYY-MM-DD)") from None
    return value


def require_address(address: object, name: str, required: tuple[str, ...]) -> Doc:
    if not isinstance(address, dict):
        raise ApiError(400, "invalid-input", f"{name} must be an object")
    for key in required:
        if not isinstance(address.get(key), str) or not address[key].strip():
            raise ApiError(400, "invalid-input", f"{name}.{key} is required")
    for key, value in address.items():
        if not isinstance(value, str):
            raise ApiError(400, "invalid-input", f"{name}.{key} must be a string")
    return address


def optional_metadata(body: Doc) -> Metadata:
    value = body.get("metadata")
    if value is not None and not isinstance(value, (str, dict)):
        raise ApiError(400, "invalid-input", "metadata must be a string or an object")
    return value


def optional_rail_list(body: Doc, name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or any(not isinstance(v, str) or v not in RAILS for v in value):
        raise ApiError(400, "invalid-input", f"{name} must be an array of {', '.join(RAILS)}")
    if len(set(value)) != len(value):
        raise ApiError(400, "invalid-input", f"{name} must not repeat a value")
    return value


def optional_1099_adjustment(body: Doc) -> Doc | None:
    """The spec's oneOf: a 1099-NEC {year, form, amount}
    or a 1099-K {year, form, monthly_amounts[, transaction_count]}."""
    value = body.get("1099_adjustment")
    if value is None:
        return None
    name = "1099_adjustment"
    if not isinstance(value, dict):
        raise ApiError(400, "invalid-input", f"{name} must be an object")
    form = value.get("form")
    if form == "1099-NEC":
        allowed, required = {"year", "form", "amount"}, ("year", "amount")
    elif form == "1099-K":
        allowed, required = {"year", "form", "monthly_amounts", "transaction_count"}, ("year", "monthly_amounts")
    else:
        raise ApiError(400, "invalid-input", f"{name}.form must be 1099-NEC or 1099-K")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ApiError(400, "invalid-input", f"{name} has unknown field(s) for {form}: {', '.join(unknown)}")
    for key in required:
        if key not in value:
            raise ApiError(400, "invalid-input", f"{name}.{key} is required")
    if not is_int(value["year"]):
        raise ApiError(400, "invalid-input", f"{name}.year must be an integer")
    for key in ("amount", "transaction_count"):
        if key in value and (not is_int(value[key]) or value[key] < 1):
            raise ApiError(400, "invalid-input", f"{name}.{key} must be a positive integer")
    if form == "1099-K":
        months = value["monthly_amounts"]
        if not isinstance(months, dict) or set(months) != set(MONTHS) or not all(is_int(v) for v in months.values()):
            raise ApiError(400, "invalid-input", f"{name}.monthly_amounts must give an integer for each month")
    return value


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_w8ben(ctx: Ctx, w8ben: Doc) -> None:
    """The `w8ben` object of submit-compliance: required fields, the signature, the treaty's enum and number."""
    for name in ("name", "citizenship_country"):
        ctx.require_str(w8ben, name)
    require_date(ctx, w8ben, "date_of_birth", prefix="w8ben.")
    require_address(w8ben.get("address"), "w8ben.address", ("line_1", "city", "country", "postcode"))
    signature = w8ben.get("signature")
    if not isinstance(signature, dict) or signature.get("consent") is not True:
        raise ApiError(400, "invalid-input", "w8ben.signature must be an object with consent: true, name and email")
    for name in ("name", "email"):
        if not isinstance(signature.get(name), str) or not signature[name]:
            raise ApiError(400, "invalid-input", f"w8ben.signature.{name} is required")
    income_type = w8ben.get("tax_treaty_income_type")
    if income_type is not None and income_type not in W8BEN_INCOME_TYPES:
        raise ApiError(
            400, "invalid-input", f"w8ben.tax_treaty_income_type must be one of {', '.join(W8BEN_INCOME_TYPES)}"
        )
    rate = w8ben.get("tax_treaty_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))):
        raise ApiError(400, "invalid-input", "w8ben.tax_treaty_rate must be a number (0.15 for 15%)")
    # The spec's if/then: a foreign tax id unless the country is one that does not issue them.
    if w8ben["citizenship_country"] not in ("AU", "BM", "VG", "KY", "JP") and not w8ben.get("foreign_tax_id"):
        raise ApiError(400, "invalid-input", "w8ben.foreign_tax_id is required for this citizenship_country")
