"""Helpers for payouts tests: users in roles, CSV files, distinct phone numbers."""

import io
import itertools

import pytest

from core import roles
from tests.support import make_user

_phones = itertools.count(1000)


def phone() -> str:
    """A distinct valid US number per call (a counter, not random: no accidental duplicates)."""
    n = next(_phones)
    return f"201{555 + n // 10_000}{n % 10_000:04d}"  # 201-555-xxxx, then 201-556-..., never 11 digits


def csv_bytes(rows, *, header="first_name,last_name,email,phone", encoding="utf-8", newline="\n") -> bytes:
    lines = [header, *rows]
    return (newline.join(lines) + newline).encode(encoding)


def good_rows(n: int, *, amount: str | None = None):
    rows = []
    for i in range(n):
        number = phone()
        row = f"Ann{i},Lee{i},ann{number}@example.com,{number}"
        if amount is not None:
            row += f",{amount}"
        rows.append(row)
    return rows


def upload(data: bytes, name: str = "payees.csv"):
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


@pytest.fixture
def operator(db):
    return make_user("operator", role=roles.PAYOUTS_OPERATOR)


@pytest.fixture
def payer(db):
    return make_user("payer", role=roles.PAYER)
