"""The README's "Dots operations and where to find them" lists every operation of the resources Ledgerline
works with, in both spec files, each with where it is used or why it is not."""

import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = Path(os.environ.get("DOTS_SPEC_DIR", "/work/shared/dots-api"))
SPEC_FILES = ("v2.yaml", "v2-2026-01-14.yaml")
RESOURCES = (
    "payout-requests",
    "users",
    "transfers",
    "payout-links",
    "payouts",
    "payout-batches",
    "payments",
    "payment-intents",
    "payment-customers",
    "checkout-sessions",
    "accounts-payable",
    "apps",
    "payment-methods",
)


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Dots operations and where to find them", 1)[1].split("\n## ", 1)[0]


def _rows() -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `([a-z0-9-]+)` \| (.*) \|$", _section(), re.M)}


def _operations(spec_file: str) -> set[str]:
    spec = yaml.safe_load((SPEC_DIR / spec_file).read_text())
    found = set()
    for path, item in spec["paths"].items():
        if path.split("/")[2] not in RESOURCES:
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete") and operation.get("operationId"):
                found.add(operation["operationId"])
    return found


@pytest.mark.parametrize("spec_file", SPEC_FILES)
def test_every_operation_of_the_seed_resources_is_listed(spec_file):
    if not (SPEC_DIR / spec_file).exists():
        pytest.skip(f"{spec_file} not in {SPEC_DIR}")
    missing = sorted(_operations(spec_file) - set(_rows()))
    assert missing == [], f"add these to the README's 'Dots operations and where to find them': {missing}"


def test_each_listed_operation_says_where_it_is_used_or_why_not():
    rows = _rows()
    assert rows
    assert [op for op, where in rows.items() if len(where) < 10] == []
    known = set().union(*(_operations(f) for f in SPEC_FILES if (SPEC_DIR / f).exists()))
    if known:
        assert sorted(set(rows) - known) == [], "the README lists operations neither spec file has"
