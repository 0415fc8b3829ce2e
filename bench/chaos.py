"""Chaos run (issue #7): 500 payables paid and 500 payout links made under 30% faults, then reconciled.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline_bench_cx .venv/bin/python bench/chaos.py
    .venv/bin/python bench/chaos.py --payables 100 --links 100 --workers threads     # SQLite, quicker

In one run:
1. builds 500 approved payables and 500 stored payout links (tests/chaos_support.build_world);
2. makes the emulator fail about 30% of all calls: a quarter each 503, timeout (Dots does the
   work after the client gave up), dropped answer (Dots did the work), latency;
3. 4 workers pay every payable and push every link, each job twice at once and once more
   later: real django-q2 workers (`manage.py qcluster`, 4 workers, ORM broker) on PostgreSQL,
   or 4 threads in this process (`--workers threads`, the default on SQLite);
4. stops the faults and runs reconciliation (reconcile_all) until everything has settled,
   paying again only what it proved unpaid, and times it;
5. prints, from the emulator's own records: payments recorded, payout links, records whose
   local state differs from Dots', records in outcome unknown, time to settle, faults injected,
   with PASS/FAIL for each. Exit status 1 if any fails.

The database must be a throwaway one (its name must contain "bench"): it is dropped and
created again at the start. Starts its own emulator on a free port with a temporary data file.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

# Client gives up after 1 s; a timeout fault holds a call 2.5 s and then does the work. Dots
# showing "approved" is believed 6 s after a pay call, and a pay_requested with no answer
# recorded counts as interrupted after 15 s: both well past the longest call.
RUN_SETTINGS = {
    "DOTS_TIMEOUT_SECONDS": "1.0",
    "PAY_OUTCOME_SETTLE_SECONDS": "6",
    "PAY_REQUEST_STALE_SECONDS": "15",
}
TIMEOUT_FAULT_MS = 2500
LATENCY_FAULT_MS = 150


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def fresh_database(url: str) -> None:
    """Drop and create the bench database (PostgreSQL), refusing any name without "bench"."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: use a throwaway name containing 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(emulator, db_dir: str) -> dict[str, str]:
    env = {
        "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "bench.chaos_settings",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{db_dir}/bench.sqlite3",
        "DOTS_API_URL": emulator.base_url,
        "DOTS_CLIENT_ID": emulator.client_id,
        "DOTS_API_KEY": emulator.api_key,
        "Q_WORKERS": "4",
        "LOG_LEVEL": "WARNING",
        "DOTS_LOG_LEVEL": "WARNING",
        **RUN_SETTINGS,
    }
    os.environ.update(env)
    if env["DATABASE_URL"].startswith("postgres"):
        fresh_database(env["DATABASE_URL"])
    import django

    django.setup()
    import logging

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # One line per Dots call (and per task) would measure the terminal, not the run.
    for name in ("dots", "django-q", "django_q"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return env


# --- the workers -----------------------------------------------------------------------------------------


def start_qcluster(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    handle = open(log_path, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_qcluster(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_with_qcluster(world, jobs, env: dict[str, str], log_path: Path, deadline_seconds: float):
    """Enqueue every job for django-q2 and wait until the queue is empty (every task acknowledged)."""
    from django_q.models import Failure, OrmQ
    from django_q.tasks import async_task

    from tests import chaos_support

    started = time.monotonic()
    for kind, job_id in jobs:
        async_task("tests.chaos_support.chaos_task", kind, job_id, world.payer.pk)
    log(f"enqueued {len(jobs)} tasks in {time.monotonic() - started:.1f} s; starting qcluster (4 workers)")
    cluster = start_qcluster(env, log_path)
    try:
        while OrmQ.objects.exists():
            if time.monotonic() - started > deadline_seconds:
                raise SystemExit(f"the queue did not drain in {deadline_seconds:.0f} s (see {log_path})")
            if cluster.poll() is not None:
                raise SystemExit(f"qcluster exited with {cluster.returncode} (see {log_path})")
            time.sleep(0.25)
    except BaseException:
        stop_qcluster(cluster)
        raise
    stats = chaos_support.WorkerStats(jobs=len(jobs), seconds=time.monotonic() - started)
    stats.unexpected = [
        f"{f.func}{f.args}: {str(f.result).strip().splitlines()[-1] if f.result else ''}" for f in Failure.objects.all()
    ]
    return stats, cluster


# --- main ---------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payables", type=int, default=500)
    parser.add_argument("--links", type=int, default=500)
    parser.add_argument("--rate", type=float, default=0.3, help="fraction of calls that fail")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workers",
        choices=("qcluster", "threads"),
        default=None,
        help="qcluster (PostgreSQL default) or threads (SQLite default)",
    )
    parser.add_argument("--settle-deadline", type=float, default=300.0)
    args = parser.parse_args()

    from tests.fixtures_emulator import start_emulator, stop_emulator

    with tempfile.TemporaryDirectory(prefix="ledgerline-chaos-") as tmp:
        emulator = start_emulator(Path(tmp) / "emulator.sqlite3")
        cluster = None
        try:
            emulator.reset()
            env = django_setup(emulator, tmp)
            postgres = env["DATABASE_URL"].startswith("postgres")
            mode = args.workers or ("qcluster" if postgres else "threads")
            from django.db import connection

            from tests import chaos_support

            log(
                f"database {connection.vendor}, emulator {emulator.root}, workers: "
                + (
                    "django-q2 qcluster, 4 worker processes, ORM broker"
                    if mode == "qcluster"
                    else "4 threads in this process"
                )
            )
            started = time.monotonic()
            world = chaos_support.build_world(emulator=emulator, payables=args.payables, links=args.links, progress=log)
            log(
                f"set up {args.payables} approved payables and {args.links} stored links "
                f"in {time.monotonic() - started:.1f} s"
            )

            chaos_support.install_fault_mix(
                emulator, total_rate=args.rate, seed=args.seed, timeout_ms=TIMEOUT_FAULT_MS, latency_ms=LATENCY_FAULT_MS
            )
            jobs = chaos_support.chaos_jobs(world, seed=args.seed)
            if mode == "qcluster":
                stats, cluster = run_with_qcluster(world, jobs, env, Path(tmp) / "qcluster.log", deadline_seconds=1800)
            else:
                stats = chaos_support.run_workers(world=world, jobs=jobs, workers=4)
            fired = chaos_support.faults_fired(emulator)
            emulator.control("faults/clear")
            log(
                f"workers ran {stats.jobs} jobs in {stats.seconds:.1f} s under {sum(fired.values())} faults; "
                f"faults stopped; reconciling"
            )
            if stats.outcomes:
                log(f"worker outcomes: {dict(sorted(stats.outcomes.items()))}")

            settled = chaos_support.settle(world=world, deadline_seconds=args.settle_deadline, pause_seconds=0.5)
            log(
                f"settle: {'settled' if settled.settled else 'NOT settled'} after {settled.rounds} reconciliation "
                f"runs; paid again {settled.paid_again}, links sent again {settled.pushed_again}"
            )
            if not settled.settled:
                log(f"still unsettled: {chaos_support.unsettled(world)}")
            report = chaos_support.compare_with_dots(world=world, settle_seconds=settled.seconds, faults=fired)
        finally:
            if cluster is not None:
                stop_qcluster(cluster)
            stop_emulator(emulator)

    print()
    print(
        f"Chaos run: {args.payables} payables, {args.links} payout links, {args.rate:.0%} of calls failing, "
        f"workers: {'django-q2 qcluster (4)' if mode == 'qcluster' else '4 threads'}, "
        f"database: {'PostgreSQL' if postgres else 'SQLite'}"
    )
    for line in report.lines():
        print(line)
    unexpected_ok = not stats.unexpected
    print(f"{'PASS' if unexpected_ok else 'FAIL'}  jobs that failed with an unexpected error: {len(stats.unexpected)}")
    for line in stats.unexpected[:10]:
        print(f"      {line}")
    settled_ok = settled.settled
    print(
        f"{'PASS' if settled_ok else 'FAIL'}  everything settled within {args.settle_deadline:.0f} s of the faults "
        f"stopping"
    )
    return 0 if report.passed and unexpected_ok and settled_ok else 1


if __name__ == "__main__":
    sys.exit(main())
