#!/usr/bin/env python
"""`make prod-check`: the app as production runs it, smoke-tested, then bench/load.py --quick.

    .venv/bin/python bench/prod_check.py [--no-load]

Needs PostgreSQL and Redis as CI has them (127.0.0.1:5432, user postgres; 127.0.0.1:6379). In order:
1. a throwaway database (`ledgerline_bench_prodcheck`, dropped and created fresh) and Redis database
   index 11, emptied (PRODCHECK_DATABASE_URL and PRODCHECK_REDIS_URL change them);
2. `migrate` and `collectstatic` with DEBUG=false (hashed, compressed static files);
3. the Dots emulator, gunicorn (gunicorn.conf.py, 2 workers) and a `qcluster` worker, DEBUG=false;
4. the smoke test: /healthz and /readyz answer 200 (readyz: database, cache and broker ok), the
   sign-in page and one of its static files (served by whitenoise, hashed name, cached for long),
   a sign-in with password and authenticator code, a list page, and a task run by the worker
   through the Redis broker;
5. everything it started is stopped (also on Ctrl-C or an error), the database dropped;
6. `bench/load.py --quick` (which starts and stops its own processes the same way).
Prints PASS/FAIL per check; exit status 1 if any fails.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.stack import Stack, drop_database, free_port  # noqa: E402

PASSWORD = "correct horse battery"


def smoke(web: str, *, username: str, code: str) -> list[tuple[str, bool, str]]:
    checks: list[tuple[str, bool, str]] = []

    def check(label: str, ok: bool, detail: str = "") -> bool:
        checks.append((label, ok, detail))
        print(f"  {'PASS' if ok else 'FAIL'}  {label}" + (f" ({detail})" if detail else ""), flush=True)
        return ok

    answer = requests.get(web + "/healthz", timeout=10)
    check("/healthz answers 200", answer.status_code == 200, str(answer.status_code))
    answer = requests.get(web + "/readyz", timeout=10)
    check("/readyz answers 200: database, cache and broker answer", answer.status_code == 200, answer.text[:300])
    check("/readyz tells no secret", "bench-only-secret" not in answer.text and "password" not in answer.text.lower())

    session = requests.Session()
    page = session.get(web + "/admin/login/", timeout=10)
    check("the sign-in page answers 200", page.status_code == 200, str(page.status_code))
    found = re.search(r'/static/[^"\']+\.css', page.text)
    if check("the sign-in page names a stylesheet under /static/", bool(found)):
        static = requests.get(web + found.group(0), timeout=10, headers={"Accept-Encoding": "gzip"})
        hashed = re.search(r"\.[0-9a-f]{12}\.css$", found.group(0)) is not None
        cache = static.headers.get("Cache-Control", "")
        check(
            "a static file served with a hashed name and long caching",
            static.status_code == 200 and hashed and "max-age" in cache,
            f"{found.group(0)}: {static.status_code}, Cache-Control {cache!r}",
        )
    signed_in = session.post(
        web + "/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
            "username": username,
            "password": PASSWORD,
            "otp_token": code,
            "next": "/admin/",
        },
        timeout=30,
    )
    check(
        "sign in with password and authenticator code",
        signed_in.status_code == 200 and "/admin/login/" not in signed_in.url,
        f"{signed_in.status_code} at {signed_in.url}",
    )
    listing = session.get(web + "/admin/payables/payable/", timeout=30)
    check(
        "the payables list answers 200, signed in",
        listing.status_code == 200 and "/admin/login/" not in listing.url,
        f"{listing.status_code} at {listing.url}",
    )
    return checks


def worker_check() -> tuple[str, bool, str]:
    """A registered task enqueued here (Redis broker) and run by the qcluster: its result comes back.
    The task deletes old results of successful tasks (core.tasks, harmless on a fresh database)."""
    from django_q.tasks import async_task, fetch

    started = time.monotonic()
    task_id = async_task("core.tasks.prune_successful_tasks")
    task = fetch(task_id, wait=30_000)
    ok = task is not None and task.success
    label = "a task runs on the worker through the Redis broker"
    detail = f"{'done' if ok else 'not done'} in {time.monotonic() - started:.1f} s" + (
        f": {task.result!r}" if task is not None and not ok else ""
    )
    print(f"  {'PASS' if ok else 'FAIL'}  {label} ({detail})", flush=True)
    return label, ok, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-load", action="store_true", help="the smoke test only")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "PRODCHECK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ledgerline_bench_prodcheck"
        ),
    )
    parser.add_argument("--redis-url", default=os.environ.get("PRODCHECK_REDIS_URL", "redis://127.0.0.1:6379/11"))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="prod-check-"))
    results: list[tuple[str, bool, str]] = []
    stack = Stack.fresh(database_url=args.database_url, redis_url=args.redis_url, workdir=workdir)
    env, dots_root = stack.env, stack.dots_root
    try:
        print("migrate and collectstatic (DEBUG=false)", flush=True)
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("collectstatic", "--noinput", "-v", "0")
        os.environ.update(env)
        import django

        django.setup()
        from core import roles
        from tests.support import add_totp_device, current_code, make_user

        user = make_user("prodcheck-manager", role=roles.MANAGER, password=PASSWORD)
        device = add_totp_device(user)
        stack.start_qcluster()
        web = stack.start_gunicorn(free_port(), workers=2)
        print(f"gunicorn (2 workers) at {web}, a qcluster, the Dots emulator at {dots_root}", flush=True)
        results += smoke(web, username=user.username, code=current_code(device))
        results.append(worker_check())
    except Exception as exc:  # a step that could not run is a failure, reported as such
        print(f"  FAIL  {type(exc).__name__}: {exc}", flush=True)
        results.append(("the smoke test ran", False, str(exc)))
    finally:
        stack.stop()
        if "django.db" in sys.modules:
            sys.modules["django.db"].connections.close_all()
        drop_database(args.database_url)
    ok = all(passed for _, passed, _ in results)
    print(f"smoke test: {'PASS' if ok else 'FAIL'} (logs in {workdir})", flush=True)
    if not args.no_load:
        print("\nbench/load.py --quick", flush=True)
        load = subprocess.run([sys.executable, "bench/load.py", "--quick"], cwd=REPO_ROOT)
        ok &= load.returncode == 0
    print(f"\nprod-check: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
