"""The migrations describe the models exactly, one initial migration per app until the first release."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_the_models_need_no_migration_that_is_not_written():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit:  # --check exits non-zero when a migration is missing
        pytest.fail(f"models changed without a migration:\n{out.getvalue()}")


@pytest.mark.parametrize(
    "app",
    ["core", "vendors", "payables", "payouts", "receivables", "reconciliation", "reports", "wallet", "notifications"],
)
def test_each_app_has_one_initial_migration_before_the_first_release(app):
    migrations = sorted(p.name for p in (ROOT / app / "migrations").glob("0*.py"))
    assert migrations == ["0001_initial.py"]
