#!/usr/bin/env python
"""The managers' dashboard, reports and exports at 1,000 and at 1,000,000 payables.

Runs on the database in DATABASE_URL (PostgreSQL is what the targets are for), in two
throw-away test databases of its own (test_ledgerline_bench_dashboard and a copy, ..._large)
that it creates and drops:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline .venv/bin/python bench/dashboard.py

Data, the same seed at both sizes (bench/payables.py's bills: 2,000 vendors, two line items a
bill, statuses mostly paid and some in every other state), plus audit events (1,000 and
5,000,000), payees paid through claimed payout links in the tax year (100 and 100,000) and the
app wallet's balance. The small size is a copy of the large one's people and vendors, so the
two differ only in how many records they hold; the sizes take turns render by render.

Prints, each at both sizes with the ratio and PASS/FAIL:
- the home page of a Manager (every panel): median render time and SQL queries, with the
  overview's snapshot in place as the schedule keeps it (reports.overview), and how long computing
  that snapshot takes at each size (the schedule's work, in the background);
  targets: within 2x, and under 25 queries at both sizes;
- the AP aging report page, and the 1099 readiness page for the year (100,000 payees);
- the export of every payable as CSV through the list's export URL (time, rows a second),
  against a bare `COPY (SELECT the same columns) TO STDOUT` + csv loop on the same rows
  (target >= 0.5x), and the Python heap's peak while exporting 1,000,000 rows against 10,000
  (target <= 1.2x).
Use --payables, --events and --payees for a smaller run. Quote ratios: the machine is shared.
"""

import argparse
import csv
import datetime as dt
import io
import logging
import os
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django  # noqa: E402

django.setup()

from django.db import connection, connections, router  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from bench import audit_history as bench_audit  # noqa: E402
from bench import payables as bench_payables  # noqa: E402

SMALL = 1_000
SMALL_EVENTS = 1_000
SMALL_PAYEES = 100
RUNS = 7
LARGE = bench_payables.LARGE
TARGETS = {"home_ratio": 2.0, "home_queries": 25, "export_ratio": 0.5, "memory_ratio": 1.2}
EXPORT_COLUMNS_SQL = (
    "p.bill_number, v.name, p.total_cents, p.due_date, p.status, p.status_changed_at, ba.name, "
    "ba.account_last4, p.external_id, p.description, u.username, p.created_at, p.submitted_at, "
    "p.closed_reason, p.failure_reason, p.dots_id"
)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fill_audit(alias: str, target: int, *, actors) -> None:
    """Audit events up to `target` on `alias`, a valid hash chain (bench/audit_history.py's filler)."""
    bench_audit.fill(
        target,
        actors=actors,
        rng=random.Random(5),
        span_start=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
        using=alias,
        vacuum=True,
    )


def fill_payees(alias: str, count: int, *, creator_id: int, year: int) -> None:
    """`count` payees, each paid through one claimed payout link in `year` (a tenth of them twice)."""
    from payouts.models import Payee, PayoutLink

    paid_at = dt.datetime(year, 3, 1, 12, tzinfo=dt.UTC)
    for start in range(0, count, 5000):
        payees = Payee.objects.using(alias).bulk_create(
            [
                Payee(
                    first_name=f"Payee{i}",
                    last_name="Bench",
                    email=f"payee{i}@example.com",
                    phone_e164=f"+1555{i:07d}",
                    compliance={"tax_id_verification": ("matched", "pending", "unsubmitted")[i % 3]},
                )
                for i in range(start, min(count, start + 5000))
            ]
        )
        links = []
        for n, payee in enumerate(payees):
            for k in range(2 if n % 10 == 0 else 1):
                links.append(
                    PayoutLink(
                        payee=payee,
                        amount_cents=150_000 + 1_000 * k,
                        status=PayoutLink.Status.CLAIMED,
                        created_by_id=creator_id,
                        tax_exempt=(n % 50 == 0),
                    )
                )
        PayoutLink.objects.using(alias).bulk_create(links)
    PayoutLink.objects.using(alias).update(updated_at=paid_at)
    with connections[alias].cursor() as cursor:
        cursor.execute("ANALYZE")


def measure_page(clients, path: str) -> dict:
    """Median render time and query count of `path` at both sizes, taking turns."""
    times: dict[str, list[float]] = {"default": [], LARGE: []}
    queries = {}
    for alias, client in clients.items():
        bench_payables.SizeRouter.alias = alias
        client.get(path)  # as the schedule would have: the overview's snapshot exists before anyone looks
        with CaptureQueriesContext(connections[alias]) as captured:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        queries[alias] = len(captured.captured_queries)
    for _ in range(RUNS):
        for alias, client in clients.items():
            bench_payables.SizeRouter.alias = alias
            started = time.perf_counter()
            response = client.get(path)
            times[alias].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    small, large = statistics.median(times["default"]), statistics.median(times[LARGE])
    return {
        "small": small,
        "large": large,
        "ratio": large / small,
        "q_small": queries["default"],
        "q_large": queries[LARGE],
    }


class _TransactionsOn:
    """django.db.transaction with `atomic` on one alias: the export's audit event is written (under a
    row lock) in the database of the size being measured, where the router sends its queries."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def atomic(self, *args, **kwargs):
        from django.db import transaction

        kwargs.setdefault("using", self.alias)
        return transaction.atomic(*args, **kwargs)

    def __getattr__(self, name):
        from django.db import transaction

        return getattr(transaction, name)


def export_through_admin(client, alias: str) -> tuple[float, int]:
    from core import audit

    bench_payables.SizeRouter.alias = alias
    audit.transaction = _TransactionsOn(alias)
    started = time.perf_counter()
    response = client.get("/admin/payables/payable/export/csv/")
    size = 0
    lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
    return time.perf_counter() - started, lines - 1


def bare_copy(alias: str) -> tuple[float, int]:
    """COPY the same columns, joined the same way, TO STDOUT, and write each row with csv: the floor."""
    conn = connections[alias]
    conn.ensure_connection()
    sink = csv.writer(io.StringIO())
    rows = 0
    started = time.perf_counter()
    sql = (
        f"COPY (SELECT {EXPORT_COLUMNS_SQL} FROM payables_payable p JOIN vendors_vendor v ON v.id = p.vendor_id "
        "JOIN vendors_vendorbankaccount ba ON ba.id = p.bank_account_id JOIN auth_user u ON u.id = p.created_by_id "
        "ORDER BY p.id DESC) TO STDOUT"
    )
    with conn.connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in copy.rows():
            sink.writerow(row)
            rows += 1
    return time.perf_counter() - started, rows


def export_heap_peak(alias: str, limit: int | None) -> int:
    """The Python heap's peak while the export's CSV is written (not kept) for the newest `limit` payables."""
    from core.exports import _Plan, csv_stream
    from payables.admin import PayableAdmin
    from payables.models import Payable

    bench_payables.SizeRouter.alias = alias
    queryset = Payable.objects.using(alias).order_by("-id")
    if limit is not None:
        first_kept = queryset.values_list("id", flat=True)[limit - 1]
        queryset = queryset.filter(id__gte=first_kept)
    plan = _Plan(Payable, PayableAdmin.export_columns)
    tracemalloc.start()
    for _ in csv_stream(queryset, plan):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    logging.getLogger("axes").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payables", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--payees", type=int, default=100_000)
    parser.add_argument("--queries", action="store_true", help="print the large home page's queries and times")
    args = parser.parse_args()

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from reconciliation.models import AppWallet
    from tests.support import login_verified

    setup_test_environment()
    if connection.vendor == "postgresql":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = "test_ledgerline_bench_dashboard"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    cloned = False
    try:
        users, vendors = bench_payables.make_people_and_vendors()
        AppWallet.objects.create(
            dots_app_id="bench-app", name="Bench", balance_cents=50_000_000, synced_at=timezone.now()
        )
        clients = {alias: Client() for alias in ("default", LARGE)}
        manager = get_user_model().objects.get(username="bench-manager")
        for client in clients.values():
            login_verified(client, manager)
        connection.close()
        connection.creation.clone_test_db(suffix=bench_payables.LARGE_SUFFIX, verbosity=0, autoclobber=True)
        cloned = True
        connections.settings[LARGE] = connection.creation.get_test_db_clone_settings(bench_payables.LARGE_SUFFIX)
        router.routers.append(bench_payables.SizeRouter())
        run(args, clients=clients, users=users, vendors=vendors)
    finally:
        if cloned:
            connections[LARGE].close()
            connection.creation.destroy_test_db(verbosity=0, suffix=bench_payables.LARGE_SUFFIX)
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args, *, clients, users, vendors) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    year = timezone.localdate().year
    actors = [(u.pk, u.username) for u in get_user_model().objects.order_by("pk")[:5]]
    started = time.perf_counter()
    for alias, payables, events, payees in (
        ("default", SMALL, SMALL_EVENTS, SMALL_PAYEES),
        (LARGE, args.payables, args.events, args.payees),
    ):
        bench_payables.SizeRouter.alias = alias
        bench_payables.fill(alias, payables, vendors=vendors, users=users)
        fill_audit(alias, events, actors=actors)
        fill_payees(alias, payees, creator_id=users[0], year=year)
    print(
        f"Seeded {SMALL:,} / {args.payables:,} payables, {SMALL_EVENTS:,} / {args.events:,} audit events, "
        f"{SMALL_PAYEES:,} / {args.payees:,} payees in {time.perf_counter() - started:.0f} s "
        f"({connection.vendor})."
    )
    failed = []

    def line(name, m, *, ratio_target=None, queries_target=None):
        ok = True
        extra = ""
        if ratio_target is not None:
            ok = m["ratio"] <= ratio_target
            extra += f" (target <= {ratio_target}x)"
        if queries_target is not None:
            q_ok = max(m["q_small"], m["q_large"]) < queries_target
            ok = ok and q_ok
            extra += f"; queries {m['q_small']} / {m['q_large']} (target < {queries_target})"
        else:
            extra += f"; queries {m['q_small']} / {m['q_large']}"
        print(
            f"{name:<34} {m['small']:8.1f} ms  {m['large']:9.1f} ms  ratio {m['ratio']:5.2f}{extra}  "
            + (verdict(ok) if ratio_target or queries_target else "")
        )
        if not ok:
            failed.append(name)

    if args.queries:
        bench_payables.SizeRouter.alias = LARGE
        with CaptureQueriesContext(connections[LARGE]) as captured:
            clients[LARGE].get("/admin/")
        for query in sorted(captured.captured_queries, key=lambda q: -float(q["time"])):
            print(f"{float(query['time']) * 1000:8.1f} ms  {query['sql'][:230]}")
    print(f"{'page':<34} {'small':>11}  {'large':>12}")
    line(
        "home page (Manager)",
        measure_page(clients, "/admin/"),
        ratio_target=TARGETS["home_ratio"],
        queries_target=TARGETS["home_queries"],
    )
    from reports import overview

    took = {}
    for alias in ("default", LARGE):
        bench_payables.SizeRouter.alias = alias
        took[alias] = overview.refresh().took_ms
    print(f"{'overview snapshot (schedule)':<34} {took['default']:8.1f} ms  {took[LARGE]:9.1f} ms")
    line("AP aging report", measure_page(clients, "/admin/report/ap_aging/"))
    line(f"1099 readiness {year}", measure_page(clients, f"/admin/report/tax_1099/?year={year}"))

    # Exports: through the admin's URL (the whole list, as a person downloads it), and the floor.
    admin_times, bare_times = [], []
    rows = 0
    for _ in range(3):
        seconds, rows = export_through_admin(clients[LARGE], LARGE)
        admin_times.append(seconds)
        bare_seconds, bare_rows = bare_copy(LARGE) if connections[LARGE].vendor == "postgresql" else (None, 0)
        if bare_seconds is not None:
            bare_times.append(bare_seconds)
    admin_rate = rows / statistics.median(admin_times)
    print(f"export CSV of {rows:,} payables: {statistics.median(admin_times):.1f} s, {admin_rate:,.0f} rows/s")
    if bare_times:
        bare_rate = bare_rows / statistics.median(bare_times)
        ratio = admin_rate / bare_rate
        print(
            f"  bare COPY + csv: {statistics.median(bare_times):.1f} s, {bare_rate:,.0f} rows/s; "
            f"ratio {ratio:.2f} (target >= {TARGETS['export_ratio']}) {verdict(ratio >= TARGETS['export_ratio'])}"
        )
        if ratio < TARGETS["export_ratio"]:
            failed.append("export speed")
    else:
        print("  (the bare COPY loop needs PostgreSQL)")
    small_peak = export_heap_peak(LARGE, min(10_000, args.payables))
    large_peak = export_heap_peak(LARGE, None)
    memory_ratio = large_peak / small_peak
    print(
        f"  heap peak: {min(10_000, args.payables):,} rows {small_peak / 1e6:.1f} MB, {args.payables:,} rows "
        f"{large_peak / 1e6:.1f} MB; ratio {memory_ratio:.2f} (target <= {TARGETS['memory_ratio']}) "
        f"{verdict(memory_ratio <= TARGETS['memory_ratio'])}"
    )
    if memory_ratio > TARGETS["memory_ratio"]:
        failed.append("export memory")
    print("ALL PASS" if not failed else f"FAIL: {', '.join(failed)}")


if __name__ == "__main__":
    main()
