#!/usr/bin/env python
"""How the managers' audit history page scales from 1,000 to 1,000,000 events.

Runs on the database in DATABASE_URL (PostgreSQL is what the targets are for), in a
throw-away test database it creates and drops, so no real data is touched:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline .venv/bin/python bench/audit_history.py

Prints, for page 1 unfiltered, filtered by actor and date, and searched by object id:
the median render time at 1,000 and at 1,000,000 events, their ratio, and the SQL
query count at each size. Targets: ratio <= 1.3, the same query count at both
sizes, and no COUNT(*) over the whole table. Quote ratios: the machine is shared.
Use --events N for a smaller run.
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

SMALL = 1_000
RUNS = 15
SEARCH_ID = "4242"
SEARCH_EVENTS = {10, 200, 400, 600, 800}
# Five actors: each has 200 of the first 1,000 events, so the actor + month page is
# full (100 rows) at both sizes.
ACTOR_COUNT = 5
COLUMNS = (
    "occurred_at",
    "actor_id",
    "actor_label",
    "source",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "search_key",
    "changes",
    "reason",
    "ip_address",
    "request_id",
    "prev_hash",
    "hash",
)
ACTIONS = ("record.created", "record.updated", "user.logged_in", "user.updated", "record.deleted")


def _event_rows(start: int, stop: int, *, actors, prev_hash: str, rng: random.Random, span_start):
    from core.audit import compute_hash

    for i in range(start, stop):
        actor_id, actor_label = actors[i % len(actors)]
        # One event a minute: ids follow time, as they do in production.
        occurred = span_start + dt.timedelta(minutes=i)
        # The searched object has a five-event timeline at both sizes, so both pages
        # render the same rows and only the table's size differs.
        object_id = SEARCH_ID if i in SEARCH_EVENTS else str(rng.randint(10_000, 200_000))
        object_repr = f"INV-{object_id} Vendor {i % 500}"
        content = {
            "occurred_at": occurred.isoformat(),
            "actor_id": actor_id,
            "actor_label": actor_label,
            "source": "admin",
            "action": ACTIONS[i % len(ACTIONS)],
            "object_type": "payables.payable",
            "object_id": object_id,
            "object_repr": object_repr,
            "changes": {"status": {"before": "submitted_for_approval", "after": "approved"}},
            "reason": "",
            "ip_address": "10.0.0.1",
            "request_id": f"{i:032x}",
        }
        digest = compute_hash(content, prev_hash)
        yield content, prev_hash, digest
        prev_hash = digest


def fill(target: int, *, actors, rng: random.Random, span_start, using: str = "default", vacuum: bool = False) -> None:
    """Append events up to `target` on database `using`, keeping a valid hash chain, as fast as the database
    takes them (COPY on PostgreSQL, bulk inserts elsewhere). `vacuum`: VACUUM as well as ANALYZE afterwards
    on PostgreSQL, so index-only scans see every page as visible (bench/dashboard.py)."""
    from core.models import AuditChainHead, AuditEvent

    conn = connections[using]
    events = AuditEvent.objects.using(using)
    head = AuditChainHead.objects.using(using).get(pk=1)
    start = events.count()
    rows = _event_rows(start, target, actors=actors, prev_hash=head.last_hash, rng=rng, span_start=span_start)
    last_hash = head.last_hash
    if conn.vendor == "postgresql":
        conn.ensure_connection()
        with (
            conn.connection.cursor() as cursor,
            cursor.copy(f"COPY core_auditevent ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for content, prev_hash, digest in rows:
                copy.write_row(
                    (
                        content["occurred_at"],
                        content["actor_id"],
                        content["actor_label"],
                        content["source"],
                        content["action"],
                        content["object_type"],
                        content["object_id"],
                        content["object_repr"],
                        content["object_repr"].upper(),
                        json.dumps(content["changes"]),
                        content["reason"],
                        content["ip_address"],
                        content["request_id"],
                        prev_hash,
                        digest,
                    )
                )
                last_hash = digest
    else:
        batch = []
        for content, prev_hash, digest in rows:
            batch.append(
                AuditEvent(
                    occurred_at=dt.datetime.fromisoformat(content["occurred_at"]),
                    actor_id=content["actor_id"],
                    actor_label=content["actor_label"],
                    source="admin",
                    action=content["action"],
                    object_type=content["object_type"],
                    object_id=content["object_id"],
                    object_repr=content["object_repr"],
                    search_key=content["object_repr"].upper(),
                    changes=content["changes"],
                    reason="",
                    ip_address=content["ip_address"],
                    request_id=content["request_id"],
                    prev_hash=prev_hash,
                    hash=digest,
                )
            )
            last_hash = digest
            if len(batch) == 5000:
                events.bulk_create(batch)
                batch = []
        events.bulk_create(batch)
    last_id = events.order_by("-id").values_list("id", flat=True).first()
    AuditChainHead.objects.using(using).filter(pk=1).update(last_event_id=last_id, last_hash=last_hash)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE core_auditevent")
        else:
            cursor.execute("ANALYZE")


def measure(client: Client, params: dict) -> tuple[float, int, list[str]]:
    url = "/admin/core/auditevent/"
    for _ in range(3):
        assert client.get(url, params).status_code == 200
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url, params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url, params)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    return statistics.median(times), len(queries.captured_queries), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true", help="print the query plans of the large pages")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(args.events, explain_plans=args.explain)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def explain(client: Client, params: dict) -> None:
    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/core/auditevent/", params)
    for query in queries.captured_queries:
        if "core_auditevent" not in query["sql"]:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + query["sql"])
            print(query["sql"][:300])
            print("\n".join("    " + row[0] for row in cursor.fetchall()))


def run(events: int, *, explain_plans: bool = False) -> None:
    from core import roles
    from tests.support import login_verified, make_user

    rng = random.Random(7)
    manager = make_user("bench-manager", role=roles.MANAGER)
    actors = [(u.pk, u.username) for u in (make_user(f"actor{i}") for i in range(ACTOR_COUNT))]
    span_start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    client = Client()
    login_verified(client, manager)
    # A month that holds events at both sizes: all of the first 1,000, and 43,200 of a million
    # (8,640 of them by the filtered actor).
    month_from, month_to = span_start.date().isoformat(), (span_start + dt.timedelta(days=30)).date().isoformat()
    pages = {
        "page 1, unfiltered": {},
        "page 1, actor + date range": {"actor": actors[2][0], "occurred_from": month_from, "occurred_to": month_to},
        "page 1, search by object id": {"q": SEARCH_ID},
    }

    print(f"database: {connection.vendor}; {RUNS} timed renders per page (median)")
    fill(SMALL, actors=actors, rng=rng, span_start=span_start)
    small = {name: measure(client, params) for name, params in pages.items()}
    started = time.perf_counter()
    fill(events, actors=actors, rng=rng, span_start=span_start)
    print(f"filled {events:,} events in {time.perf_counter() - started:.1f} s")
    large = {name: measure(client, params) for name, params in pages.items()}
    if explain_plans and connection.vendor == "postgresql":
        for name, params in pages.items():
            print(f"\n--- {name}")
            explain(client, params)

    print(f"\n{'page':<30} {'1k ms':>8} {'large ms':>9} {'ratio':>6} {'queries 1k/large':>17}  verdict")
    all_ok = True
    for name in pages:
        (t1, q1, c1), (t2, q2, c2) = small[name], large[name]
        ratio = t2 / t1
        full_count = [sql for sql in c1 + c2 if "LIMIT" not in sql.upper()]
        ok = ratio <= 1.3 and q1 == q2 and not full_count
        all_ok &= ok
        print(
            f"{name:<30} {t1:8.1f} {t2:9.1f} {ratio:6.2f} {q1:>8}/{q2:<8}  {'PASS' if ok else 'FAIL'}"
            + (f" (full COUNT: {full_count[0][:80]})" if full_count else "")
        )
    print(
        f"\ntargets: ratio <= 1.3, same query count, no COUNT(*) over the whole table -> {'PASS' if all_ok else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
