"""Issue #17: a backup is only a backup once it has been restored and checked.

The commands docs/operations.md gives an operator, run here on a test database holding payables
and their audit events: `pg_dump --format=custom`, `createdb` + `pg_restore` into a fresh database,
then `manage.py verify_audit_log` against the restored copy (production settings, DATABASE_URL
naming the copy). The chain must be intact there, and an event altered in the copy must be named.
PostgreSQL only: that is what production runs and what these tools dump (CI runs on PostgreSQL).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from core.models import AuditEvent
from payables.models import Payable
from tests.fixtures_emulator import REPO_ROOT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="backups are taken with pg_dump of PostgreSQL, the production database; "
        "this run is on SQLite (set DATABASE_URL=postgres://..., as CI does)",
    ),
    pytest.mark.timeout(300),
]

TOOLS = ("pg_dump", "pg_restore", "createdb", "dropdb")


def _url(settings_dict: dict, name: str) -> str:
    credentials = settings_dict["USER"] + (f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else "")
    return f"postgres://{credentials}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{name}"


def _run(*command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=REPO_ROOT)


@pytest.fixture
def tools():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (Debian: apt-get install postgresql-client)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # pg_dump refuses a server newer than itself: the client's major version must be at least the server's.
    client_major = int(re.search(r"(\d+)", _run("pg_dump", "--version").stdout).group(1))  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        server_major = int(cursor.fetchone()[0]) // 10000
    assert client_major >= server_major, f"pg_dump {client_major} cannot dump a PostgreSQL {server_major} server"


@pytest.fixture
def books(approved_payable, make_payable):
    """Payables in several states, each with its audit events, committed (pg_dump sees only that)."""
    make_payable(bill_number="INV-BACKUP-1")
    make_payable(bill_number="INV-BACKUP-2", amount_cents=98_765)
    return {"payables": Payable.objects.count(), "events": AuditEvent.objects.count()}


@pytest.fixture
def restored(tools, books, tmp_path: Path):
    """The test database dumped and restored into a fresh one, as docs/operations.md says; its URL."""
    source = connection.settings_dict
    copy_name = f"{source['NAME']}_restored_{uuid.uuid4().hex[:8]}"
    dump = tmp_path / "ledgerline.dump"
    admin = ["--host", source["HOST"] or "127.0.0.1", "--port", str(source["PORT"] or 5432)]
    admin += ["--username", source["USER"]]
    env = {**os.environ, **({"PGPASSWORD": source["PASSWORD"]} if source.get("PASSWORD") else {})}

    done = _run("pg_dump", "--format=custom", f"--file={dump}", _url(source, source["NAME"]), env=env)
    assert done.returncode == 0, done.stderr
    done = _run("createdb", *admin, "--template=template0", copy_name, env=env)
    assert done.returncode == 0, done.stderr
    try:
        copy_url = _url(source, copy_name)
        done = _run("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={copy_url}", str(dump), env=env)
        assert done.returncode == 0, done.stderr
        yield copy_url
    finally:
        _run("dropdb", *admin, "--force", "--if-exists", copy_name, env=env)


def _verify_audit_log(database_url: str) -> subprocess.CompletedProcess:
    """`manage.py verify_audit_log` with the production settings, against `database_url`."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="x" * 50, DEBUG="false")
    return _run(sys.executable, "manage.py", "verify_audit_log", env=env)


def test_a_restored_backup_holds_the_payables_and_an_intact_audit_chain(restored, books):
    done = _verify_audit_log(restored)

    assert done.returncode == 0, done.stderr
    assert f"Audit log intact: {books['events']:,} events verified." in done.stdout
    with psycopg.connect(restored) as copy, copy.cursor() as cursor:
        cursor.execute("SELECT bill_number, status, amount_cents FROM payables_payable ORDER BY bill_number")
        rows = cursor.fetchall()
    assert rows == list(Payable.objects.order_by("bill_number").values_list("bill_number", "status", "amount_cents"))
    assert len(rows) == books["payables"] == 3
    assert ("INV-BACKUP-2", "created", 98_765) in rows
    assert any(status == "approved" for _, status, _ in rows)


def test_the_restored_copy_still_refuses_changes_to_audit_events(restored):
    with psycopg.connect(restored) as copy, copy.cursor() as cursor, pytest.raises(psycopg.Error, match="append-only"):
        cursor.execute("UPDATE core_auditevent SET reason = 'rewritten'")


def test_an_audit_event_altered_in_the_restored_copy_fails_verification_and_is_named(restored):
    with psycopg.connect(restored, autocommit=True) as copy, copy.cursor() as cursor:
        cursor.execute("SELECT id FROM core_auditevent WHERE action = 'payable.approved'")
        (approval_id,) = cursor.fetchone()
        # What someone with the database owner's rights could do: switch the guard off and rewrite history.
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
        cursor.execute("UPDATE core_auditevent SET reason = 'nobody approved this' WHERE id = %s", [approval_id])

    done = _verify_audit_log(restored)

    assert done.returncode != 0
    assert f"Event #{approval_id}" in done.stderr and "altered" in done.stderr
