"""A worker process for tests/reconciliation/test_worker_killed.py: runs one task, then gets killed.

    python -m tests.chaos_worker pay <payable_id> <payer_user_id>
    python -m tests.chaos_worker import <payee_import_id>
    python -m tests.chaos_worker push <payout_link_id>
    python -m tests.chaos_worker scheduled          (the pay-on-the-day run, payables.tasks.pay_scheduled)

The test starts it with the environment that points it at the test's own database and
emulator (`worker_env`), waits until the work is half done, and sends SIGKILL.
"""

from __future__ import annotations

import os
import sys


def worker_env(
    *, database: dict, dots_api_url: str, client_id: str, api_key: str, timeout_seconds: float
) -> dict[str, str]:
    """The environment for a worker that uses the test's database (`connection.settings_dict`) and emulator."""
    env = dict(os.environ)
    if database["ENGINE"] == "django.db.backends.sqlite3":
        url = f"sqlite:///{database['NAME']}"
    else:
        credentials = database["USER"] + (f":{database['PASSWORD']}" if database.get("PASSWORD") else "")
        url = (
            f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
        )
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": url,
            "DOTS_API_URL": dots_api_url,
            "DOTS_CLIENT_ID": client_id,
            "DOTS_API_KEY": api_key,
            "DOTS_TIMEOUT_SECONDS": str(timeout_seconds),
        }
    )
    return env


def main(argv: list[str]) -> None:
    import django

    django.setup()
    kind = argv[0]
    if kind == "pay":
        from django.contrib.auth import get_user_model

        from payables import services

        payer = get_user_model().objects.get(pk=int(argv[2]))
        services.payable_pay(payable_id=int(argv[1]), actor=payer)
    elif kind == "import":
        from payouts import tasks

        tasks.payee_import_run(int(argv[1]))
    elif kind == "push":
        from payouts import tasks

        tasks.payout_link_push(int(argv[1]))
    elif kind == "scheduled":
        from payables import tasks

        tasks.pay_scheduled()
    else:
        raise SystemExit(f"unknown work {kind!r}: pay, import, push or scheduled")


if __name__ == "__main__":
    main(sys.argv[1:])
