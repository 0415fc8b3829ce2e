"""docs/operations.md keeps up with the code: every gauge an app declares is explained, every setting it
names exists, and its backup commands are the ones tests/prod/test_backup_restore.py runs."""

import re
from pathlib import Path

from core import registry
from core.metrics import DOTS_CALL_SECONDS, DOTS_CALLS, REQUEST_QUERIES, REQUEST_SECONDS

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "operations.md").read_text()
# Read by boto3 itself (django-storages' S3 backend).
OUTSIDE = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# Where the environment is read: the settings, gunicorn's configuration, prometheus-client's directory.
READERS = ("config/settings.py", "gunicorn.conf.py", "core/metrics.py")


def _section(title: str) -> str:
    return GUIDE.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_guide_explains_every_gauge_the_apps_declare_and_every_measured_figure():
    watched = _section("What to watch")
    names = [spec.name for spec in registry.metrics()]
    names += [DOTS_CALLS._name + "_total", DOTS_CALL_SECONDS._name, REQUEST_SECONDS._name, REQUEST_QUERIES._name]
    missing = [name for name in names if f"`{name}" not in watched]
    assert not missing, f"docs/operations.md 'What to watch' does not explain {missing}"


def test_every_setting_the_guide_names_exists():
    table = _section("Settings")
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", table))
    sources = "".join((ROOT / reader).read_text() for reader in READERS)
    unknown = sorted(name for name in named - OUTSIDE if f'"{name}"' not in sources)
    assert not unknown, f"docs/operations.md names settings nothing reads: {unknown}"


def test_the_guides_backup_commands_are_the_ones_the_backup_test_runs():
    backups = _section("Backups")
    test = (ROOT / "tests" / "prod" / "test_backup_restore.py").read_text()
    for command in ("pg_dump --format=custom", "--template=template0", "pg_restore --no-owner --exit-on-error"):
        assert command in backups
    for piece in (
        '"pg_dump", "--format=custom"',
        '"--template=template0"',
        '"pg_restore", "--no-owner", "--exit-on-error"',
    ):
        assert piece in test
    assert "manage.py verify_audit_log" in backups and '"manage.py", "verify_audit_log"' in test
