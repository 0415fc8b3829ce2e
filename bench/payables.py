#!/usr/bin/env python
"""How the payables admin scales from 1,000 to 1,000,000 payables.

Runs on the database in DATABASE_URL (PostgreSQL is what the targets are for), in two
throw-away test databases of its own (test_ledgerline_bench_payables and a copy,
..._large) that it creates and drops, so no real data, and no test run using
test_ledgerline, is touched:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline .venv/bin/python bench/payables.py

The 1,000-payable database and the large one share the same users, sessions, vendors
and first 1,000 bills (the large one is a copy made before the bills, filled with the
same seed), and the two sizes take turns render by render, so a busy moment on the
shared machine falls on both alike. A router sends each render's queries to its size's
database; a query that reaches the other database stops the run.

Data: 2,000 vendors with 2,400 bank accounts (most verified), then payables with two
line items each (2,000,000 items at a million). Ids follow created_at (one bill every
two minutes), due dates 10 to 60 days after, vendors skewed (a few big suppliers),
statuses mostly paid and some in every other state: of each 1,000 consecutive bills
780 paid, 60 approved, 50 waiting for approval, 40 drafts, 25 canceled, 25 rejected,
10 failed, 6 in progress, 2 being sent, 2 outcome unknown.

Pages, rendered logged in as a Manager (sees everything, read-only), each at 1,000 and
at the large size: the list's page 1; page 1 filtered by status (approved); page 1
searched for a bill number's first digits (the search looks anywhere in bill numbers, vendor
names and external ids: trigram indexes on PostgreSQL); the list's second page; and one
payable's change page.
Like is compared with like: every list page renders a full page of 50 rows at both
sizes (60 of the first 1,000 bills are approved); the searched prefix matches the same
three bills at both sizes (bill numbers are numbered in order, so no later bill starts
with it; the run checks that the ids are the same); the change page is the same payable
(with its two items) at both sizes. The "rows" column shows the rows each list page
rendered at each size.

Prints the median render time at each size, their ratio, the SQL query count at each
size, and PASS/FAIL. Targets: page 1 (and the second page) <= 1.3x, filtered and
searched pages <= 1.5x, one payable's page <= 1.2x, the same query count at both sizes,
and no COUNT(*) over the whole table. Quote ratios: the machine is shared.
Use --payables N for a smaller run, --explain for EXPLAIN ANALYZE of the large pages.
"""

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import random
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django  # noqa: E402

django.setup()

from django.db import connection, connections, router  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

SMALL = 1_000
RUNS = 15
LIST_URL = "/admin/payables/payable/"
LARGE_SUFFIX = "large"
LARGE = "large"  # the database alias of the large size; "default" holds the 1,000
VENDORS = 2_000
# Bills are numbered in order (INV-0000001, ...) in three house styles by vendor; this
# text is in bills 120-129 of which those in the "INV-" style, and in no other bill, vendor
# name or external id: the same few at both sizes.
SEARCH_PREFIX = "INV-000012"
# The payable whose change page is measured: one of the first 1,000, so it exists at both sizes.
DETAIL_INDEX = 500
SPAN_START = dt.datetime(2022, 1, 3, 8, 0, tzinfo=dt.UTC)
STATUS_MIX = (
    ("payment_completed", 780),
    ("approved", 60),
    ("submitted_for_approval", 50),
    ("created", 40),
    ("canceled", 25),
    ("rejected", 25),
    ("payment_failed", 10),
    ("payment_initiated", 6),
    ("pay_requested", 2),
    ("payment_outcome_unknown", 2),
)
APPROVED_STEPS = json.dumps(
    [
        {
            "num_approvals_required": 1,
            "completed": True,
            "user_approvals": [{"user_id": 9001, "name": "Bench Approver", "approval_given": True}],
        }
    ]
)
WAITING_STEPS = json.dumps([{"num_approvals_required": 1, "completed": False, "user_approvals": []}])
ITEM_NAMES = ("Consulting hours", "Hardware", "Freight", "Licences", "Office supplies", "Maintenance")
PAYABLE_COLUMNS = (
    "id",
    "bill_number",
    "bill_number_key",
    "vendor_id",
    "bank_account_id",
    "description",
    "external_id",
    "due_date",
    "funding_source",
    "amount_cents",
    "total_cents",
    "file",
    "file_sha256",
    "status",
    "status_changed_at",
    "dots_id",
    "dots_status",
    "dots_transfer_id",
    "dots_file_uploaded",
    "approval_steps",
    "approval_policy_reason",
    "failure_reason",
    "duplicate_override_reason",
    "last_dots_error",
    "created_by_id",
    "created_at",
    "updated_at",
    "submitted_by_id",
    "submitted_at",
    "pay_requested_by_id",
    "pay_requested_at",
    "pay_attempts",
    "closed_reason",
    "closed_by_id",
    "closed_at",
    "pay_run_outcome",
    "pay_run_reason",
)
ITEM_COLUMNS = ("payable_id", "name", "description", "unit_price_cents", "quantity")


def _status_cycle() -> list[str]:
    cycle = [status for status, n in STATUS_MIX for _ in range(n)]
    assert len(cycle) == 1000
    random.Random(11).shuffle(cycle)
    return cycle


STATUS_CYCLE = _status_cycle()


def make_vendors(*, clerk, verifier) -> list[tuple[int, int]]:
    """2,000 vendors and their bank accounts; returns (vendor id, bank account id) pairs."""
    from vendors.models import Vendor, VendorBankAccount

    rng = random.Random(3)
    now = SPAN_START
    vendors = Vendor.objects.bulk_create(
        [
            Vendor(
                name=f"Vendor {i:04d} {rng.choice(('Supply', 'Logistics', 'Services', 'Parts', 'Labs'))}",
                contact_email=f"ap@vendor{i}.example.com",
                external_id=f"V-{i:05d}",
                address_line_1=f"{i} Market Street",
                city="Springfield",
                state="IL",
                postcode="62701",
                dots_id=str(uuid.UUID(int=rng.getrandbits(128))),
                dots_status="created",
                created_by=clerk,
            )
            for i in range(VENDORS)
        ],
        batch_size=1000,
    )
    accounts = []
    for i, vendor in enumerate(vendors):
        for n in range(2 if i % 5 == 0 else 1):
            verified = (i + n) % 20 != 7
            accounts.append(
                VendorBankAccount(
                    vendor=vendor,
                    name=f"Operating account {n + 1}",
                    routing_number="021000021",
                    account_last4=f"{rng.randint(0, 9999):04d}",
                    account_type="checking",
                    dots_id=str(uuid.UUID(int=rng.getrandbits(128))),
                    created_by=clerk,
                    verified_by=verifier if verified else None,
                    verified_at=now if verified else None,
                    verification_note="Called the vendor on the number we already had." if verified else "",
                )
            )
    accounts = VendorBankAccount.objects.bulk_create(accounts, batch_size=1000)
    first_account = {}
    for account in accounts:
        first_account.setdefault(account.vendor_id, account.pk)
    return [(v.pk, first_account[v.pk]) for v in vendors]


def _payable_rows(start: int, stop: int, *, vendors, users, rng: random.Random):
    """Rows (payable dict, [item tuples]) for bills start..stop-1; id = index + 1."""
    from payables.models.payable import normalise_bill_number

    clerk_id, approver_id, payer_id = users
    for i in range(start, stop):
        pk = i + 1
        created = SPAN_START + dt.timedelta(minutes=2 * i)
        status = STATUS_CYCLE[i % 1000]
        # A few big suppliers get most bills.
        vendor_id, account_id = vendors[int(len(vendors) * rng.random() ** 3)]
        style = vendor_id % 3
        number = f"INV-{pk:07d}" if style == 0 else (f"{pk:08d}" if style == 1 else f"B{pk}")
        items = []
        for n in range(2):
            unit, quantity = rng.randint(500, 250_000), rng.randint(1, 12)
            items.append((pk, ITEM_NAMES[(i + n) % len(ITEM_NAMES)], f"Line {n + 1} of {number}", unit, quantity))
        total = sum(unit * quantity for *_, unit, quantity in items)
        submitted = status != "created"
        decided = status not in ("created", "submitted_for_approval", "canceled")
        paying = status in (
            "payment_completed",
            "payment_failed",
            "payment_initiated",
            "pay_requested",
            "payment_outcome_unknown",
        )
        changed = created + dt.timedelta(days=rng.randint(1, 20)) if submitted else None
        row = {
            "id": pk,
            "bill_number": number,
            "bill_number_key": normalise_bill_number(number),
            "vendor_id": vendor_id,
            "bank_account_id": account_id,
            "description": f"Bill {number}",
            "external_id": f"ERP-{pk}",
            "due_date": (created + dt.timedelta(days=rng.randint(10, 60))).date(),
            "funding_source": "dots_balance" if i % 4 else "ach",
            "amount_cents": None,
            "total_cents": total,
            "file": "",
            "file_sha256": "",
            "status": status,
            "status_changed_at": changed,
            "dots_id": str(uuid.UUID(int=rng.getrandbits(128))) if submitted else None,
            "dots_status": status if submitted and status not in ("pay_requested", "payment_outcome_unknown") else "",
            "dots_transfer_id": str(uuid.UUID(int=rng.getrandbits(128))) if status == "payment_completed" else "",
            "dots_file_uploaded": False,
            "approval_steps": APPROVED_STEPS if decided else (WAITING_STEPS if submitted else "[]"),
            "approval_policy_reason": "Dots' default policy: no policy matched." if submitted else "",
            "failure_reason": "The vendor's bank returned the payment (R03)." if status == "payment_failed" else "",
            "duplicate_override_reason": "",
            "last_dots_error": "",
            "created_by_id": clerk_id,
            "created_at": created,
            "updated_at": changed or created,
            "submitted_by_id": clerk_id if submitted else None,
            "submitted_at": changed,
            "pay_requested_by_id": payer_id if paying else None,
            "pay_requested_at": changed if paying else None,
            "pay_attempts": 1 if paying else 0,
            "closed_reason": {"rejected": "Not our order.", "canceled": "Entered twice."}.get(status, ""),
            "closed_by_id": {"rejected": approver_id, "canceled": clerk_id}.get(status),
            "closed_at": changed if status in ("rejected", "canceled") else None,
            "pay_run_outcome": "",
            "pay_run_reason": "",
        }
        yield row, items


class SizeRouter:
    """Sends every query of a request to the database of the size being measured."""

    alias = "default"

    def db_for_read(self, model, **hints):
        return SizeRouter.alias

    def db_for_write(self, model, **hints):
        return SizeRouter.alias

    def allow_relation(self, obj1, obj2, **hints):
        return True


def fill(alias: str, target: int, *, vendors, users) -> None:
    """Add payables (and their items) up to `target`, as fast as the database takes them.

    The same seed on every database: bill n is the same bill at every size."""
    from payables.models import LineItem, Payable

    conn = connections[alias]
    start = Payable.objects.using(alias).count()
    rng = random.Random(7)
    for _ in _payable_rows(0, start, vendors=vendors, users=users, rng=rng):
        pass
    rows = _payable_rows(start, target, vendors=vendors, users=users, rng=rng)
    if conn.vendor == "postgresql":
        conn.ensure_connection()
        pending_items = []
        with conn.connection.cursor() as cursor:
            with cursor.copy(f"COPY payables_payable ({', '.join(PAYABLE_COLUMNS)}) FROM STDIN") as copy:
                for row, items in rows:
                    copy.write_row(tuple(row[c] for c in PAYABLE_COLUMNS))
                    pending_items.extend(items)
            with cursor.copy(f"COPY payables_lineitem ({', '.join(ITEM_COLUMNS)}) FROM STDIN") as copy:
                for item in pending_items:
                    copy.write_row(item)
        with conn.cursor() as cursor:
            for table in ("payables_payable", "payables_lineitem"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            # As autovacuum would have: fresh statistics and a visibility map for index-only scans.
            cursor.execute("VACUUM ANALYZE payables_payable")
            cursor.execute("VACUUM ANALYZE payables_lineitem")
    else:
        payables, items = [], []
        for row, row_items in rows:
            row = {**row, "approval_steps": json.loads(row["approval_steps"])}
            payables.append(Payable(**row))
            items.extend(
                LineItem(payable_id=p, name=n, description=d, unit_price_cents=u, quantity=q)
                for p, n, d, u, q in row_items
            )
            if len(payables) == 5000:
                Payable.objects.using(alias).bulk_create(payables)
                LineItem.objects.using(alias).bulk_create(items)
                payables, items = [], []
        Payable.objects.using(alias).bulk_create(payables)
        LineItem.objects.using(alias).bulk_create(items)
        with conn.cursor() as cursor:
            cursor.execute("ANALYZE")


def _get(client: Client, url: str, params: dict):
    response = client.get(url, params)
    assert response.status_code == 200, (url, params, response.status_code)
    return response


def timed(alias: str, client: Client, url: str, params: dict) -> float:
    SizeRouter.alias = alias
    started = time.perf_counter()
    _get(client, url, params)
    return (time.perf_counter() - started) * 1000


def queries_of(alias: str, client: Client, url: str, params: dict) -> tuple[list[str], int | None]:
    """The SQL of one render, and how many rows a list page rendered."""
    SizeRouter.alias = alias
    others = [connections[a] for a in connections if a != alias]
    with CaptureQueriesContext(connections[alias]) as queries, contextlib.ExitStack() as stack:
        strays = [stack.enter_context(CaptureQueriesContext(c)) for c in others]
        response = _get(client, url, params)
    stray = [q["sql"] for s in strays for q in s.captured_queries]
    assert not stray, f"a query went to the other size's database: {stray[0][:200]}"
    cl = response.context.get("cl") if response.context else None
    rows = [p.pk for p in cl.result_list] if cl is not None else None
    return [q["sql"] for q in queries.captured_queries], rows


def explain(alias: str, client: Client, url: str, params: dict) -> None:
    sqls, _ = queries_of(alias, client, url, params)
    for sql in sqls:
        if "payables_" not in sql and "vendors_" not in sql:
            continue
        with connections[alias].cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + sql)
            print(sql[:300])
            print("\n".join("    " + row[0] for row in cursor.fetchall()))


def main() -> None:
    logging.getLogger("axes").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payables", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true", help="print the query plans of the large pages")
    args = parser.parse_args()
    if args.payables < SMALL:
        parser.error(f"--payables must be at least {SMALL}")

    from django.contrib.auth import get_user_model

    from tests.support import login_verified

    setup_test_environment()
    if connection.vendor == "postgresql":
        # Our own name: a test suite running on test_ledgerline at the same time keeps its database.
        connection.settings_dict.setdefault("TEST", {})["NAME"] = "test_ledgerline_bench_payables"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    cloned = False
    try:
        users, vendors = make_people_and_vendors()
        # Signed in before the copy (sign-in writes an audit event, in a transaction on "default"):
        # both sessions then exist in both databases.
        clients = {alias: Client() for alias in ("default", LARGE)}
        manager = get_user_model().objects.get(username="bench-manager")
        for client in clients.values():
            login_verified(client, manager)
        # The large size lives in a copy of the database made here: the same users, sessions and
        # vendors (same ids), so the two sizes differ only in the number of payables.
        connection.close()
        connection.creation.clone_test_db(suffix=LARGE_SUFFIX, verbosity=0, autoclobber=True)
        cloned = True
        connections.settings[LARGE] = connection.creation.get_test_db_clone_settings(LARGE_SUFFIX)
        router.routers.append(SizeRouter())
        run(args.payables, clients=clients, users=users, vendors=vendors, explain_plans=args.explain)
    finally:
        if cloned:
            connections[LARGE].close()
            connection.creation.destroy_test_db(verbosity=0, suffix=LARGE_SUFFIX)
        connection.creation.destroy_test_db(old_name, verbosity=0)


def make_people_and_vendors():
    from core import roles
    from tests.support import make_user

    clerk = make_user("bench-clerk", role=roles.AP_CLERK)
    verifier = make_user("bench-verifier", role=roles.AP_CLERK)
    approver = make_user("bench-approver", role=roles.APPROVER)
    payer = make_user("bench-payer", role=roles.PAYER)
    make_user("bench-manager", role=roles.MANAGER)
    vendors = make_vendors(clerk=clerk, verifier=verifier)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have after 2,000 new vendors
    return (clerk.pk, approver.pk, payer.pk), vendors


def run(size: int, *, clients, users, vendors, explain_plans: bool = False) -> None:
    pages = {
        "list page 1": (LIST_URL, {}, 1.3),
        "page 1, status approved": (LIST_URL, {"status__exact": "approved"}, 1.5),
        f"page 1, search {SEARCH_PREFIX}": (LIST_URL, {"q": SEARCH_PREFIX}, 1.5),
        # Django 5.2's admin numbers pages from 1 in ?p=: p=2 is the second page.
        "list page 2": (LIST_URL, {"p": 2}, 1.3),
        "one payable's page": (f"{LIST_URL}{DETAIL_INDEX + 1}/change/", {}, 1.2),
    }
    same_rows = {f"page 1, search {SEARCH_PREFIX}"}  # the same bills, not only as many
    print(
        f"database: {connection.vendor}; {RUNS} timed renders per page and size (median), "
        "the two sizes taking turns; signed in as a Manager"
    )
    started = time.perf_counter()
    fill("default", SMALL, vendors=vendors, users=users)
    fill(LARGE, size, vendors=vendors, users=users)
    print(
        f"filled {len(vendors):,} vendors, {SMALL:,} and {size:,} payables ({2 * size:,} line items) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    for alias in clients:
        connections[alias].ensure_connection()
    # Every page a few times at each size before the first timing: no page pays for warming up.
    for alias, client in clients.items():
        for url, params, _ in pages.values():
            for _ in range(3):
                timed(alias, client, url, params)
    # The sizes take turns, render by render, so a busy moment on the shared machine
    # falls on both sizes alike instead of on whichever was measured then.
    times = {(name, alias): [] for name in pages for alias in clients}
    for turn in range(RUNS):
        order = ("default", LARGE) if turn % 2 == 0 else (LARGE, "default")
        for name, (url, params, _) in pages.items():
            for alias in order:
                times[name, alias].append(timed(alias, clients[alias], url, params))
    captured = {
        (name, alias): queries_of(alias, clients[alias], url, params)
        for name, (url, params, _) in pages.items()
        for alias in clients
    }
    if explain_plans and connection.vendor == "postgresql":
        for name, (url, params, _) in pages.items():
            print(f"\n--- {name}")
            explain(LARGE, clients[LARGE], url, params)

    print(
        f"\n{'page':<30} {'1k ms':>7} {'large ms':>9} {'ratio':>6} {'target':>7} {'queries 1k/large':>17} "
        f"{'rows':>9}  verdict"
    )
    all_ok = True
    for name, (_, _, target) in pages.items():
        t1, t2 = statistics.median(times[name, "default"]), statistics.median(times[name, LARGE])
        (s1, r1), (s2, r2) = captured[name, "default"], captured[name, LARGE]
        ratio = t2 / t1
        full_count = [sql for sql in s1 + s2 if "COUNT(" in sql.upper() and "LIMIT" not in sql.upper()]
        same = r1 == r2 if name in same_rows else (r1 is None) == (r2 is None) and len(r1 or ()) == len(r2 or ())
        ok = ratio <= target and len(s1) == len(s2) and not full_count and same
        all_ok &= ok
        rows = f"{len(r1)}/{len(r2)}" if r1 is not None else "-"
        print(
            f"{name:<30} {t1:7.1f} {t2:9.1f} {ratio:6.2f} {target:>6}x {len(s1):>8}/{len(s2):<8} {rows:>9}  "
            f"{'PASS' if ok else 'FAIL'}" + (f" (full COUNT: {full_count[0][:80]})" if full_count else "")
        )
        if len(s1) != len(s2):
            # Say which query one size made and the other did not, so a difference can be judged.
            for label, ours, theirs in (("1k", s1, s2), ("large", s2, s1)):
                shapes = [re.sub(r"\d+", "N", sql) for sql in theirs]
                for sql in ours:
                    if re.sub(r"\d+", "N", sql) not in shapes:
                        print(f"    only at {label}: {sql[:200]}")
    print(
        f"\ntargets: ratios as listed, same query count, same rows, no COUNT(*) over the whole table -> "
        f"{'PASS' if all_ok else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
