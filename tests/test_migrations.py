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


@pytest.mark.parametrize("app", ["core", "vendors", "payables", "payouts", "reconciliation"])
def test_each_app_has_one_initial_migration_and_the_later_ones_numbered_in_order(app):
    # Databases exist now (demo, CI): 0001_initial stays as it is, and a change is a new migration.
    migrations = sorted(p.name for p in (ROOT / app / "migrations").glob("0*.py"))
    assert migrations[0] == "0001_initial.py"
    assert [int(name[:4]) for name in migrations] == list(range(1, len(migrations) + 1))
