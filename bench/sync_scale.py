#!/usr/bin/env python
"""The sync with Dots at a company's size (issue #18 §1): 50,000 followed records and 1,000,000 transfers.

    .venv/bin/python bench/sync_scale.py                                  # full size
    .venv/bin/python bench/sync_scale.py --followed 6000 --transfers 100000   # smaller

On PostgreSQL: DATABASE_URL, by default postgres://postgres@127.0.0.1:5432/ledgerline_bench_scale,
dropped and created again, then migrated. Starts its own emulator (bench/emulator.py: a free
port, a temporary data file), seeds it in bulk (POST /_emulator/seed/payables, payout-links,
payout-requests, transfers) with the local rows to match (bulk_create), then injects
`--latency-ms` (20) on every GET (emulator fault "latency").

Measures, in this order:
- bare: a concurrent `requests` loop (DOTS_READ_CONCURRENCY threads, a Session each) reading
  every followed object by id, the same GETs the sync makes; run before and after the sync,
  and the mean of the two is the reference;
- sync: the three followed steps (payables in flight, payout links, payout requests), each run
  as core.tasks.sync_step runs it (core.sync_runner.run_step: scheduled, full pass, within
  SYNC_STEP_BUDGET_SECONDS), run after run until its pass is complete: the time for one
  complete pass, and Dots calls per second against the bare loop's (target >= 0.8x);
- transfers: the nightly full transfer pass over every transfer, run after run the same way;
- timeouts: no run took longer than django-q2's task timeout (Q_CLUSTER["timeout"]);
- a killed worker: a separate process runs a full pass of the payout links step (the task
  function itself) and is sent SIGKILL mid-pass; after its lease lapses, the pass is run again:
  the stored cursor moved, no record at or before it is read again, every record is read, and
  the reads beyond one per record (the killed run's own, from its log, and the rerun's) stay
  within the chunk in flight (SYNC_CHUNK_SIZE + 2 reads a thread running ahead).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ledgerline_bench_scale"
TARGET_CALLS_RATIO = 0.8
SEED_BATCH = 100_000
TRANSFER_MIX = {"completed": 997, "pending": 2, "failed": 1}
FOLLOWED_STEPS = ("payables in flight", "payout links", "payout requests")
KILL_STEP = "payout links"


def _bench_module(name: str):
    """A sibling bench script loaded by path (bench/ on sys.path would shadow apps: bench/payables.py)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO_ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --- seeding ---------------------------------------------------------------------------------------------


def seed_dots(root: str, kind: str, count: int, **body) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        batch = min(SEED_BATCH, count - len(ids))
        answer = requests.post(f"{root}/_emulator/seed/{kind}", json={"count": batch, **body}, timeout=900)
        answer.raise_for_status()
        ids += answer.json()["ids"]
    return ids


def seed_local(root: str, payable_ids: list[str], link_ids: list[str], request_ids: list[str]) -> None:
    """The local rows as the sync left them after an earlier read (a link's URL and timeline kept)."""
    from core.audit import system_user
    from payables.models import Payable
    from payouts.models import PayoutLink, PayoutRequest
    from vendors.models import Vendor, VendorBankAccount

    actor = system_user()
    vendor = Vendor.objects.create(
        name="Bench Supply",
        address_line_1="1 Market Street",
        city="Springfield",
        state="IL",
        postcode="62701",
        dots_id="bench-vendor",
        dots_status="created",
        created_by=actor,
    )
    account = VendorBankAccount.objects.create(
        vendor=vendor,
        name="Operating account",
        routing_number="021000021",
        account_last4="6789",
        account_type="checking",
        dots_id="bench-account",
        created_by=actor,
    )
    Payable.objects.bulk_create(
        (
            Payable(
                bill_number=f"SEED-{i + 1}",
                bill_number_key=f"SEED{i + 1}",
                vendor=vendor,
                bank_account=account,
                amount_cents=1000,
                total_cents=1000,
                status="approved",
                dots_status="approved",
                dots_id=dots_id,
                created_by=actor,
            )
            for i, dots_id in enumerate(payable_ids)
        ),
        batch_size=2000,
    )
    PayoutLink.objects.bulk_create(
        (
            PayoutLink(
                amount_cents=1000,
                status="created",
                dots_id=dots_id,
                link=f"{root}/_emulator/payout-links/{dots_id}/claim",
                timeline=[{"status": "created", "seen_at": "2026-01-01T00:00:00+00:00"}],
                created_by=actor,
            )
            for dots_id in link_ids
        ),
        batch_size=2000,
    )
    PayoutRequest.objects.bulk_create(
        (
            PayoutRequest(amount_cents=1000, status="created", dots_id=dots_id, created_by=actor)
            for dots_id in request_ids
        ),
        batch_size=2000,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- the bare loop ------------------------------------------------------------------------------------------


def bare_reads(api_url: str, auth: tuple[str, str], paths: list[str], threads: int) -> float:
    """Every path read once by `threads` threads, a requests.Session each. Answers seconds."""
    local = threading.local()

    def read(path: str) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.auth = auth
        session.get(api_url + path, timeout=30).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(read, paths, chunksize=64):
            pass
    return time.perf_counter() - started


# --- runs as the task runs them --------------------------------------------------------------------------


def run_pass(name: str, *, full: bool = True) -> tuple[float, int, list[float]]:
    """Run the step as core.tasks.sync_step does (scheduled, within the budget), run after run, until its
    pass is complete. Answers (seconds, records read, each run's seconds)."""
    from core import registry, sync_runner
    from core.audit import system_user

    step = registry.discover().sync_steps[name]
    actor = system_user()
    from django.db import connection

    runs: list[float] = []
    read = changed = 0
    counter = _QueryCounter()
    while True:
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            report = sync_runner.run_step(step, actor=actor, full=full, scheduled=True)
        runs.append(time.perf_counter() - started)
        read += report.checked
        changed += report.changed
        if report.errors:
            print(f"  {name}: {len(report.errors)} problems, first: {report.errors[0]}")
        if report.note:
            raise SystemExit(f"{name}: {report.note}")
        if not report.more:
            print(f"  {name}: {changed:,} changed, {counter.count:,} queries")
            return sum(runs), read, runs


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def kill_mid_pass(env: dict[str, str], log_path: Path, *, after_chunks: int) -> tuple[float, str]:
    """Start a process running the step's task, SIGKILL it once it has stored `after_chunks` cursors.
    Answers (when it started, the cursor it left)."""
    from django.conf import settings

    from core.models import SyncProgress

    code = f"import django; django.setup(); from core.tasks import sync_step; sync_step({KILL_STEP!r}, True)"
    started = time.time()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    chunk = settings.SYNC_CHUNK_SIZE
    deadline = time.monotonic() + 300
    cursor = ""
    try:
        while time.monotonic() < deadline and process.poll() is None:
            row = SyncProgress.objects.filter(step=KILL_STEP).first()
            cursor = row.cursor if row else ""
            if cursor and _applied_before(cursor) >= after_chunks * chunk:
                break
            time.sleep(0.05)
        if process.poll() is not None:
            raise SystemExit(f"the worker ended by itself (exit {process.returncode}) before it could be killed")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    cursor = SyncProgress.objects.get(step=KILL_STEP).cursor
    return started, cursor


def _applied_before(cursor: str) -> int:
    from payouts.models import PayoutLink

    return PayoutLink.objects.filter(pk__lte=int(cursor), sync_checked_at__isnull=False).count()


# --- main ---------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followed", type=int, default=50_000, help="payables, payout links and requests, in thirds")
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--budget", type=float, default=60.0, help="SYNC_STEP_BUDGET_SECONDS")
    parser.add_argument("--profile", action="store_true", help="print where the sync's own thread spends its time")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        raise SystemExit("this benchmark is for PostgreSQL (DATABASE_URL=postgres://...)")
    os.environ["SYNC_STEP_BUDGET_SECONDS"] = str(args.budget)
    os.environ["SYNC_LEASE_SECONDS"] = str(args.budget + 30)
    recreate_database(os.environ["DATABASE_URL"])

    emulator = _bench_module("emulator")
    sync_bench = _bench_module("sync")
    links = args.followed // 3
    requests_n = args.followed // 3
    payables_n = args.followed - links - requests_n

    with tempfile.TemporaryDirectory() as tmp:
        process, root = emulator.start_emulator(str(Path(tmp) / "emulator.sqlite3"))
        try:
            api_url = root + "/api"
            sync_bench.django_setup(api_url=api_url, client_id=emulator.CLIENT_ID, api_key=emulator.API_KEY, tmp=tmp)
            import logging

            logging.getLogger("core").setLevel(logging.ERROR)
            from django.conf import settings

            from payouts.models import PayoutLink, Transfer

            threads = settings.DOTS_READ_CONCURRENCY
            started = time.perf_counter()
            payable_ids = seed_dots(root, "payables", payables_n, status="approved")
            link_ids = seed_dots(root, "payout-links", links, status="created")
            request_ids = seed_dots(root, "payout-requests", requests_n)
            seed_local(root, payable_ids, link_ids, request_ids)
            done = 0
            while done < args.transfers:
                batch = min(SEED_BATCH, args.transfers - done)
                requests.post(
                    f"{root}/_emulator/seed/transfers", json={"count": batch, "statuses": TRANSFER_MIX}, timeout=900
                ).raise_for_status()
                done += batch
            print(
                f"seeded {payables_n:,} payables, {links:,} payout links, {requests_n:,} payout requests "
                f"(here and in Dots) and {args.transfers:,} transfers in {time.perf_counter() - started:.0f} s"
            )
            requests.post(
                f"{root}/_emulator/faults",
                json={"method": "GET", "path": "*", "kind": "latency", "ms": args.latency_ms},
            ).raise_for_status()
            print(
                f"PostgreSQL; {args.latency_ms} ms added to every GET; DOTS_READ_CONCURRENCY {threads}; "
                f"SYNC_STEP_BUDGET_SECONDS {settings.SYNC_STEP_BUDGET_SECONDS:g}; SYNC_CHUNK_SIZE "
                f"{settings.SYNC_CHUNK_SIZE}; task timeout {settings.Q_CLUSTER['timeout']} s"
            )

            paths = (
                [f"/v2/accounts-payable/payables/{i}" for i in payable_ids]
                + [f"/v2/payout-links/{i}" for i in link_ids]
                + [f"/v2/payout-requests/{i}" for i in request_ids]
            )
            auth = (emulator.CLIENT_ID, emulator.API_KEY)
            bare_before = bare_reads(api_url, auth, paths, threads)
            print(f"bare loop (before): {len(paths):,} reads in {bare_before:.1f} s, {len(paths) / bare_before:,.0f}/s")

            all_runs: list[float] = []
            pass_s = 0.0
            pass_read = 0
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            for name in FOLLOWED_STEPS:
                seconds, read, runs = run_pass(name)
                all_runs += runs
                pass_s += seconds
                pass_read += read
                print(f"sync {name}: {read:,} read in {seconds:.1f} s, {len(runs)} runs, {read / seconds:,.0f}/s")

            if profiler is not None:
                import pstats

                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            bare_after = bare_reads(api_url, auth, paths, threads)
            print(f"bare loop (after): {len(paths):,} reads in {bare_after:.1f} s, {len(paths) / bare_after:,.0f}/s")

            transfers_s, _, transfer_runs = run_pass("transfers")
            all_runs += transfer_runs
            mirrored = Transfer.objects.count()
            print(
                f"transfers full pass: {mirrored:,} transfers in {transfers_s:.1f} s, {len(transfer_runs)} runs, "
                f"{mirrored / transfers_s:,.0f}/s"
            )

            # A worker killed mid-pass.
            from core.models import SyncProgress

            SyncProgress.objects.filter(step=KILL_STEP).delete()
            PayoutLink.objects.update(sync_checked_at=None, sync_due_at=None)
            env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="INFO", DOTS_LOG_LEVEL="INFO")
            log_path = Path(tmp) / "killed.log"
            _killed_at, cursor = kill_mid_pass(env, log_path, after_chunks=3)
            killed_reads = len(re.findall(r"GET /v2/payout-links/\S+ 200", log_path.read_text()))
            before_rerun = PayoutLink.objects.filter(pk__lte=int(cursor)).values_list("pk", "sync_checked_at")
            stored = dict(before_rerun)
            waited = time.monotonic()
            while SyncProgress.objects.filter(step=KILL_STEP, lease_until__gt=_now()).exists():
                time.sleep(0.5)
            waited = time.monotonic() - waited
            _, rerun_read, rerun_runs = run_pass(KILL_STEP)
            all_runs += rerun_runs
            again = sum(
                1
                for pk, checked in PayoutLink.objects.filter(pk__lte=int(cursor)).values_list("pk", "sync_checked_at")
                if checked != stored.get(pk)
            )
            unread = PayoutLink.objects.filter(sync_checked_at__isnull=True).count()
            twice = killed_reads + rerun_read - links
            allowed = settings.SYNC_CHUNK_SIZE + 2 * threads
            print(
                f"killed worker: stopped at cursor {cursor} with {len(stored):,} links stored and {killed_reads:,} "
                f"read; its lease lapsed {waited:.0f} s later; the rerun read {rerun_read:,}"
            )
        finally:
            emulator.stop_emulator(process)

    bare_s = (bare_before + bare_after) / 2
    bare_rate = len(paths) / bare_s
    sync_rate = pass_read / pass_s
    ratio = sync_rate / bare_rate
    timeout = settings.Q_CLUSTER["timeout"]
    longest = max(all_runs)
    print()
    print(f"one complete pass over {pass_read:,} followed records: {pass_s:.1f} s")
    checks = [
        (
            f"Dots calls/s of the sync {sync_rate:,.0f} / bare concurrent loop {bare_rate:,.0f} = {ratio:.2f} "
            f"(>= {TARGET_CALLS_RATIO})",
            ratio >= TARGET_CALLS_RATIO and pass_read == len(paths),
        ),
        (
            f"no run past the task timeout: the longest of {len(all_runs)} runs took {longest:.1f} s "
            f"(timeout {timeout} s, budget {args.budget:g} s)",
            longest < timeout,
        ),
        (
            f"the nightly full transfer pass read all {args.transfers:,} transfers in {len(transfer_runs)} runs",
            mirrored == args.transfers,
        ),
        (
            f"a worker killed mid-pass lost nothing: cursor moved to {cursor}, {again} of the {len(stored):,} "
            f"records before it read again, {unread} never read, {twice} read twice (<= {allowed}: the chunk in "
            "flight)",
            bool(cursor) and again == 0 and unread == 0 and 0 <= twice <= allowed,
        ),
    ]
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
    failed = [text for text, ok in checks if not ok]
    print("ALL PASS" if not failed else f"FAIL: {len(failed)} of {len(checks)}")
    return 1 if failed else 0


def _now():
    from django.utils import timezone

    return timezone.now()


if __name__ == "__main__":
    sys.exit(main())
