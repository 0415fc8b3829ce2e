"""One "node" for tests/prod/test_shared_cache.py: a separate process on the test's database and cache.

    python -m tests.prod.cache_node

Reads one command a line on stdin and answers one JSON line on stdout:
`read` -> {"in_outage": bool, "failures": int}; `fail` records a call Dots did not answer; `succeed`
records one it answered; `quit`. The test starts two, as two machines behind a load balancer.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    import django

    django.setup()
    from core import dots_health

    for line in sys.stdin:
        command = line.strip()
        if command == "read":
            view = dots_health.read()
            answer = {"in_outage": view.in_outage, "failures": view.consecutive_failures}
        elif command == "fail":
            dots_health.record_failure("connection refused (test)")
            answer = {"ok": True}
        elif command == "succeed":
            dots_health.record_success()
            answer = {"ok": True}
        elif command == "quit":
            return
        else:
            answer = {"error": f"unknown command {command!r}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
