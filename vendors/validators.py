"""Checks on US bank details, shared by the bank-account form and the service."""

import re

from django.core.exceptions import ValidationError

_ROUTING = re.compile(r"[0-9]{9}")
_ACCOUNT = re.compile(r"[0-9]{4,17}")
# ABA routing-number check digit weights, position by position.
_ABA_WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7, 1)


def aba_checksum_ok(routing_number: str) -> bool:
    """The ABA rule: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) is a multiple of 10."""
    if not _ROUTING.fullmatch(routing_number):
        return False
    return sum(w * int(d) for w, d in zip(_ABA_WEIGHTS, routing_number, strict=False)) % 10 == 0


def validate_routing_number(value: str) -> None:
    if not _ROUTING.fullmatch(value or ""):
        raise ValidationError("A routing number is exactly 9 digits.", code="routing-format")
    if not aba_checksum_ok(value):
        raise ValidationError(
            "This is not a valid routing number (its check digit does not match); "
            "check it against the vendor's details.",
            code="routing-checksum",
        )


def validate_account_number(value: str) -> None:
    if not _ACCOUNT.fullmatch(value or ""):
        raise ValidationError("An account number is 4 to 17 digits, with no spaces or dashes.", code="account-format")
