#!/usr/bin/env python
"""Transfer sync at 100,000 transfers: full, unchanged, and a bare loop, on the database in DATABASE_URL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline_bench_tr .venv/bin/python bench/sync.py

Creates that PostgreSQL database if it is missing and migrates it (without DATABASE_URL:
a temporary SQLite file). Starts its own emulator (bench/emulator.py's start_emulator: a
free port, a temporary data file) and seeds it with POST /_emulator/seed/transfers: by
default 100,000 transfers, of each 1,000 consecutive ones 997 completed, 2 pending and 1
failed (so an incremental sync has 200 open transfers to re-read by id, as a real mirror
with payments in flight does).

Each round, in this order, measures:
- full: payouts.transfers.transfers_sync(full=True) into an emptied mirror;
- unchanged: a second, incremental transfers_sync (the default) with nothing changed in Dots;
- unchanged --full: a third, full=True, with nothing changed (for honesty: it reads every page);
- bare: a requests.Session fetching the same pages (limit=100, starting_after) and upserting
  each with ONE bulk_create(update_conflicts=True) into the same table, emptied first.
Rounds repeat (--rounds, default 3) so a busy moment on the shared machine falls on all
alike; the figures are medians. Queries are counted with an execute wrapper (no debug cursor,
which would slow what it measures).

Targets: full sync speed >= 0.8x the bare loop's; the unchanged incremental sync >= 1.5x
faster than the full one; at most 3 queries per page in the full sync. They are for
PostgreSQL: SQLite splits each 100-row upsert in two (at most 999 parameters a statement)
inside a BEGIN of its own, so both loops count 3-4 statements a page there.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

STATUS_MIX = {"completed": 997, "pending": 2, "failed": 1}
TARGET_FULL_VS_BARE = 0.8
TARGET_UNCHANGED_SPEEDUP = 1.5
TARGET_QUERIES_PER_PAGE = 3


def _bench_emulator():
    """bench/emulator.py's helpers, loaded by path: bench/ on sys.path would shadow apps (bench/payables.py)."""
    spec = importlib.util.spec_from_file_location("bench_emulator", REPO_ROOT / "bench" / "emulator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_postgres_database(url: str) -> None:
    """CREATE DATABASE when the one named in DATABASE_URL does not exist yet."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def django_setup(*, api_url: str, client_id: str, api_key: str, tmp: str) -> None:
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update(DOTS_API_URL=api_url, DOTS_CLIENT_ID=client_id, DOTS_API_KEY=api_key)
    if os.environ["DATABASE_URL"].startswith("postgres"):
        ensure_postgres_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # One INFO line per Dots call would measure the terminal.
    logging.getLogger("dots").setLevel(logging.WARNING)
    logging.getLogger("payouts").setLevel(logging.ERROR)


class QueryCounter:
    """connection.execute_wrapper: counts statements without the debug cursor's formatting."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def empty_mirror() -> None:
    from django.db import connection

    from payouts.models import Transfer, TransferSyncState

    table = Transfer._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f'TRUNCATE "{table}"')
        else:
            cursor.execute(f'DELETE FROM "{table}"')
    TransferSyncState.objects.all().delete()


def timed_sync(*, full: bool) -> tuple[float, int, object]:
    from django.db import connection

    from core.audit import system_user
    from payouts.transfers import transfers_sync

    actor = system_user()
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = transfers_sync(actor=actor, full=full)
        elapsed = time.perf_counter() - started
    return elapsed, counter.count, result


def bare_loop(*, api_url: str, auth: tuple[str, str]) -> tuple[float, int, int, int]:
    """Fetch every page with requests and upsert each with one bulk statement. Answers (s, rows, pages, queries).

    One statement a page on PostgreSQL; SQLite splits a 100-row upsert (999 parameters a statement).
    """
    from django.db import connection

    from dots.types import parse_datetime
    from payouts.models import Transfer

    fields = [
        "type",
        "status",
        "amount_cents",
        "failure_reason",
        "dots_user_id",
        "payout_link_dots_id",
        "dots_created_at",
    ]
    counter = QueryCounter()
    session = requests.Session()
    session.auth = auth
    rows = pages = 0
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        params = {"limit": 100}
        while True:
            page = session.get(f"{api_url}/v2/transfers", params=params, timeout=30).json()
            data = page["data"]
            pages += 1
            Transfer.objects.bulk_create(
                [
                    Transfer(
                        dots_id=t["id"],
                        type=t.get("type") or "",
                        status=t.get("status") or "",
                        amount_cents=t.get("amount"),
                        failure_reason=t.get("failure_reason") or "",
                        dots_user_id=t.get("user_id") or "",
                        payout_link_dots_id=t.get("payout_link_id") or "",
                        dots_created_at=parse_datetime(t.get("created")),
                    )
                    for t in data
                ],
                update_conflicts=True,
                unique_fields=["dots_id"],
                update_fields=fields,
            )
            rows += len(data)
            if not page["has_more"] or not data:
                break
            params["starting_after"] = data[-1]["id"]
        elapsed = time.perf_counter() - started
    return elapsed, rows, pages, counter.count


def run_bare(api_url: str, emulator) -> tuple[float, int, int, int]:
    empty_mirror()
    return bare_loop(api_url=api_url, auth=(emulator.CLIENT_ID, emulator.API_KEY))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    emulator = _bench_emulator()
    with tempfile.TemporaryDirectory() as tmp:
        process, root = emulator.start_emulator(str(Path(tmp) / "emulator.sqlite3"))
        try:
            api_url = root + "/api"
            django_setup(api_url=api_url, client_id=emulator.CLIENT_ID, api_key=emulator.API_KEY, tmp=tmp)
            from django.db import connection

            started = time.perf_counter()
            seeded = requests.post(
                f"{root}/_emulator/seed/transfers", json={"count": args.transfers, "statuses": STATUS_MIX}, timeout=600
            )
            seeded.raise_for_status()
            print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
            print(
                f"seeded {args.transfers:,} transfers in {time.perf_counter() - started:.1f} s "
                f"{seeded.json()['by_status']}"
            )
            figures: dict[str, list[float]] = {"full": [], "unchanged": [], "unchanged_full": [], "bare": []}
            queries_per_page: list[float] = []
            ratios: list[float] = []
            for round_no in range(1, args.rounds + 1):
                # The bare loop goes first in even rounds: a slow spell early or late in a round
                # then falls on each side alike.
                if round_no % 2 == 0:
                    bare_s, bare_rows, bare_pages, bare_q = run_bare(api_url, emulator)
                empty_mirror()
                full_s, full_q, full = timed_sync(full=True)
                assert full.created == args.transfers, full
                unchanged_s, unchanged_q, unchanged = timed_sync(full=False)
                assert unchanged.created == unchanged.changed == 0, unchanged
                unchanged_full_s, unchanged_full_q, unchanged_full = timed_sync(full=True)
                if round_no % 2 == 1:
                    bare_s, bare_rows, bare_pages, bare_q = run_bare(api_url, emulator)
                assert bare_rows == args.transfers
                figures["full"].append(full_s)
                figures["unchanged"].append(unchanged_s)
                figures["unchanged_full"].append(unchanged_full_s)
                figures["bare"].append(bare_s)
                queries_per_page.append(full_q / full.pages)
                ratios.append(bare_s / full_s)
                print(
                    f"round {round_no}: full {full_s:.2f} s ({full.pages} pages, {full_q} queries) | "
                    f"unchanged {unchanged_s:.2f} s ({unchanged.pages} page, {unchanged.reread} open re-read, "
                    f"{unchanged_q} queries) | unchanged --full {unchanged_full_s:.2f} s "
                    f"({unchanged_full_q} queries) | bare {bare_s:.2f} s ({bare_pages} pages, {bare_q} queries)"
                    f" | full/bare speed {bare_s / full_s:.2f}"
                )
        finally:
            emulator.stop_emulator(process)

    median = {name: statistics.median(values) for name, values in figures.items()}
    n = args.transfers
    full_vs_bare = median["bare"] / median["full"]
    speedup = median["full"] / median["unchanged"]
    per_page = statistics.median(queries_per_page)
    print()
    print(f"{'':24}{'median s':>10}{'rows/s':>12}")
    for name, label in (
        ("full", "full sync"),
        ("unchanged", "unchanged (incremental)"),
        ("unchanged_full", "unchanged --full"),
        ("bare", "bare loop"),
    ):
        print(f"{label:24}{median[name]:>10.2f}{n / median[name]:>12,.0f}")
    print()
    checks = [
        (
            f"full sync speed / bare loop speed = {full_vs_bare:.2f} (>= {TARGET_FULL_VS_BARE})",
            full_vs_bare >= TARGET_FULL_VS_BARE,
        ),
        (
            f"unchanged incremental sync is {speedup:.1f}x faster than full (>= {TARGET_UNCHANGED_SPEEDUP}x)",
            speedup >= TARGET_UNCHANGED_SPEEDUP,
        ),
        (
            f"full sync queries per page = {per_page:.2f} (<= {TARGET_QUERIES_PER_PAGE})",
            per_page <= TARGET_QUERIES_PER_PAGE,
        ),
    ]
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    print(
        f"full/bare speed per round: {', '.join(f'{r:.2f}' for r in ratios)} (median {statistics.median(ratios):.2f})"
    )
    print(
        f"unchanged --full is {median['full'] / median['unchanged_full']:.2f}x the full sync's speed "
        "(no target: it reads every page, writes nothing)"
    )
    failed = [text for text, ok in checks if not ok]
    print("ALL PASS" if not failed else f"FAIL: {len(failed)} of {len(checks)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
