"""The task queue on the database against Redis, on PostgreSQL, through a real qcluster (issues #18 §4, #17).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerline_bench_broker .venv/bin/python bench/broker.py
    ... bench/broker.py --tasks 1000 --rounds 3 --workers 2 --redis redis://127.0.0.1:6379/0

For each broker, in alternating rounds (ORM, Redis, Redis, ORM, ...: machine noise hits both
alike), a child process starts `manage.py qcluster` with the production settings plus the
bench's registered no-op task (bench/broker_settings.py), warms it with 20 tasks, then queues
`--tasks` no-op tasks with `async_task` in one transaction (one commit for the ORM's rows, as a
step fanning out work would; Redis takes each push at once) and times until every one is saved
as a success: enqueue, fetch, run, save and acknowledge. Before the cluster starts it also times
200 enqueues one at a time (what one costs a request's on_commit).

Prints tasks/s per round, the medians, ORM / Redis (the median of the rounds' ratios: the two
runs of a round are close in time, so a neighbour's load hits both) with PASS/FAIL against 0.9,
`--with-stock` django-q2's own ORM broker and `--with-stock-redis` its own Redis broker (which loses
the tasks of a cluster that dies) for comparison, and whether the
queue table's index is there and the `bulk`, `CONN_MAX_AGE` and `save_limit` in force.
`--save-limit 1000` shows what django-q2's own pruning on every save cost (the setting before
issue #18: about 20 tasks/s here whatever the broker); at most 1,000 tasks are counted then.

The database must be a throwaway one (its name must contain "bench"): it is dropped and created
again at the start. Each run's cluster has its own name, so it never takes another process' tasks
from a shared Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

TARGET = 0.9
WARM_TASKS = 20
ONE_AT_A_TIME = 200
TASK = "bench.broker_app.tasks.noop"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/ledgerline_bench_broker"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def base_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        {
            "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "bench.broker_settings",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    return env


def fresh_database(url: str) -> None:
    """Drop and create the bench database, refusing any name without "bench"."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not url.startswith("postgres") or "bench" not in name:
        raise SystemExit(f"refusing database {url!r}: use PostgreSQL with a throwaway name containing 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- one run (a child process per broker and round, so each has its own settings) ---------------------------


def child(broker: str, tasks: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import transaction
    from django_q.brokers import get_broker
    from django_q.models import Failure, OrmQ, Task
    from django_q.tasks import async_task

    Task.objects.all().delete()
    OrmQ.objects.all().delete()
    queue = get_broker()
    queue.purge_queue()
    # What one enqueue costs its caller (a request's on_commit): one at a time, no worker running.
    began = time.perf_counter()
    for i in range(ONE_AT_A_TIME):
        async_task(TASK, i)
    enqueue_rate = ONE_AT_A_TIME / (time.perf_counter() - began)
    queue.purge_queue()

    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for i in range(WARM_TASKS):
            async_task(TASK, i)
        wait_for(WARM_TASKS, cluster, deadline=120)
        Task.objects.all().delete()
        began = time.perf_counter()
        # Queued together, as a step that fans out work does: one commit for the ORM's rows
        # (Redis takes each push at once), so the queue, not the producer, sets the pace.
        with transaction.atomic():
            for i in range(tasks):
                async_task(TASK, i)
        wait_for(tasks, cluster, deadline=600)
        seconds = time.perf_counter() - began
        failures = Failure.objects.count()
    finally:
        stop(cluster)
    print(
        json.dumps(
            {
                "broker": broker,
                "class": type(queue).__qualname__,
                "tasks": tasks,
                "seconds": seconds,
                "rate": tasks / seconds,
                "enqueue_rate": enqueue_rate,
                "failures": failures,
                "bulk": settings.Q_CLUSTER.get("bulk", 1),
                "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
                "workers": settings.Q_CLUSTER["workers"],
                "save_limit": settings.Q_CLUSTER["save_limit"],
            }
        )
    )


def queue_cycle(tasks: int) -> None:
    """The queue's own work per task, no worker: fetch (bulk at a time) and acknowledge, ours and django-q2's."""
    import django

    django.setup()
    from django.db import transaction
    from django_q.brokers.orm import ORM
    from django_q.conf import Conf

    from core.task_broker import OrmBroker

    Conf.POLL = 0
    out = {}
    key = f"cycle-{os.getpid()}"
    for name, queue in (("ours", OrmBroker(list_key=key)), ("stock", ORM(list_key=key))):
        queue.purge_queue()
        with transaction.atomic():
            for i in range(tasks):
                queue.enqueue(f"payload {i}")
        began, done = time.perf_counter(), 0
        while done < tasks:
            for task_id, _ in queue.dequeue() or []:
                queue.acknowledge(task_id)
                done += 1
        out[name] = (time.perf_counter() - began) / tasks * 1000
        queue.purge_queue()
    print(json.dumps(out))


def wait_for(count: int, cluster: subprocess.Popen, *, deadline: float) -> None:
    from django_q.models import Task

    stop_at = time.monotonic() + deadline
    while Task.objects.count() < count:
        if cluster.poll() is not None:
            raise SystemExit(f"qcluster exited with {cluster.returncode}")
        if time.monotonic() > stop_at:
            raise SystemExit(f"only {Task.objects.count()} of {count} tasks done in {deadline:.0f} s")
        time.sleep(0.02)


def stop(cluster: subprocess.Popen) -> None:
    cluster.send_signal(signal.SIGTERM)
    try:
        cluster.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()


# --- the comparison -------------------------------------------------------------------------------------------


def run_child(broker: str, run: str, save_limit: int | None, args: argparse.Namespace, env: dict[str, str]) -> dict:
    env = {**env, "BENCH_Q_NAME": f"ledgerline-bench-broker-{os.getpid()}-{broker}-{run}"}
    env["Q_WORKERS"] = str(args.workers)
    if save_limit is not None:
        env["BENCH_SAVE_LIMIT"] = str(save_limit)
    if broker in ("redis", "stock-redis"):
        env["REDIS_URL"] = args.redis
    if broker == "stock-redis":
        env["BENCH_STOCK_REDIS"] = "1"
    if broker == "stock":
        env["BENCH_STOCK_ORM"] = "1"
    result = subprocess.run(
        [sys.executable, __file__, "--child", broker, "--tasks", str(args.tasks)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise SystemExit(f"the {broker} run failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def index_present(database_url: str) -> bool:
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'django_q_ormq' AND indexname = 'core_ormq_key_lock'"
        ).fetchone()
    return row is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000, help="no-op tasks per run (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per broker (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="qcluster workers (default 2, as production)")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS)
    parser.add_argument(
        "--save-limit",
        type=int,
        help="run with this django-q2 save_limit instead (1000 shows the per-save pruning production no longer does)",
    )
    parser.add_argument(
        "--with-stock", action="store_true", help="also run django-q2's own ORM broker (not judged), for comparison"
    )
    parser.add_argument(
        "--with-stock-redis",
        action="store_true",
        help="also run django-q2's own Redis broker (loses a dead cluster's tasks; not judged), for comparison",
    )
    parser.add_argument("--child", choices=("orm", "redis", "stock", "stock-redis", "cycle"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.save_limit and args.save_limit < args.tasks:
        parser.error("--save-limit below --tasks would prune results before they are counted")
    if args.child == "cycle":
        queue_cycle(args.tasks)
        return 0
    if args.child:
        child(args.child, args.tasks)
        return 0

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE
    fresh_database(database_url)
    env = base_env(database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO_ROOT, env=env, check=True)
    print(
        f"django-q2 brokers on PostgreSQL: {args.tasks} no-op tasks per run, {args.rounds} rounds, "
        f"{args.workers} workers, {os.cpu_count()} CPUs (shared: quote the ratio)"
    )
    print(f"queue table index core_ormq_key_lock: {'present' if index_present(database_url) else 'MISSING'}")
    cycle = subprocess.run(
        [sys.executable, __file__, "--child", "cycle", "--tasks", "300"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    costs = json.loads(cycle.stdout.strip().splitlines()[-1])
    print(
        f"the queue's own work per task (fetch and acknowledge, no worker): ours {costs['ours']:.2f} ms, "
        f"django-q2's ORM broker {costs['stock']:.2f} ms"
    )
    if args.save_limit is None:
        configurations = [("production settings", None)]
    else:
        configurations = [(f"save_limit {args.save_limit} (not production's)", args.save_limit)]
    failed = missed = 0
    for title, save_limit in configurations:
        print(f"\n{title}:")
        brokers = ("orm", "redis") + ("stock",) * args.with_stock + ("stock-redis",) * args.with_stock_redis
        rates: dict[str, list[float]] = {broker: [] for broker in brokers}
        enqueue: dict[str, list[float]] = {broker: [] for broker in brokers}
        for round_no in range(args.rounds):
            for broker in brokers if round_no % 2 == 0 else tuple(reversed(brokers)):
                result = run_child(broker, f"{save_limit}-{round_no}", save_limit, args, env)
                rates[broker].append(result["rate"])
                enqueue[broker].append(result["enqueue_rate"])
                failed += result["failures"]
                print(
                    f"  round {round_no + 1} {broker:<11} {result['rate']:>6.0f} tasks/s ({result['class']}: "
                    f"{result['tasks']} in {result['seconds']:.2f} s; bulk {result['bulk']}, "
                    f"CONN_MAX_AGE {result['conn_max_age']}, save_limit {result['save_limit']})",
                    flush=True,
                )
        orm, redis = statistics.median(rates["orm"]), statistics.median(rates["redis"])
        # Judged on the median of each round's ratio: the two runs of a round are minutes apart
        # at most, so a neighbour's load hits both, where the medians of the rates mix rounds.
        ratio = statistics.median(o / r for o, r in zip(rates["orm"], rates["redis"], strict=True))
        missed += ratio < TARGET
        print(f"  ORM {orm:.0f} tasks/s, Redis {redis:.0f} tasks/s (medians of the rounds: {orm / redis:.2f})")
        print(
            f"  ORM / Redis = {ratio:.2f}, median of the {args.rounds} rounds' ratios "
            f"(target >= {TARGET})  {'PASS' if ratio >= TARGET else 'FAIL'}"
        )
        if args.with_stock:
            stock = statistics.median(s / r for s, r in zip(rates["stock"], rates["redis"], strict=True))
            print(
                f"  django-q2's own ORM broker {statistics.median(rates['stock']):.0f} tasks/s: {stock:.2f} of Redis "
                "(median of the rounds' ratios; not judged)"
            )
        if args.with_stock_redis:
            stock = statistics.median(r / s for r, s in zip(rates["redis"], rates["stock-redis"], strict=True))
            print(
                f"  django-q2's own Redis broker {statistics.median(rates['stock-redis']):.0f} tasks/s; ours (keeping "
                f"each task until acknowledged) runs at {stock:.2f} of it (median of the rounds' ratios; not judged)"
            )
            against_stock = statistics.median(o / s for o, s in zip(rates["orm"], rates["stock-redis"], strict=True))
            print(f"  ORM / django-q2's own Redis broker = {against_stock:.2f} (median of the rounds' ratios)")
        print(
            f"  one enqueue at a time, no worker running: ORM {statistics.median(enqueue['orm']):.0f}/s, "
            f"Redis {statistics.median(enqueue['redis']):.0f}/s"
        )
    if failed:
        print(f"FAIL  {failed} task(s) failed")
    return 0 if not missed and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
