"""Is this node alive, and may the load balancer send it requests? `/healthz` and `/readyz`.

- `/healthz`: the process answers. Touches nothing else (no database), so a slow database never
  makes an orchestrator restart healthy web processes.
- `/readyz`: the database, the cache and the task broker answer (Redis' PING when `REDIS_URL` is
  set, else the ORM broker's queue table is readable). 200 when all three do, 503 otherwise. Dots'
  health as recorded by `core.dots_health` is reported but never fails readiness: a node cannot
  fix Dots, and while Dots is away the app queues actions rather than failing.

Both answer JSON without login and say nothing secret: each check's outcome, how long it took
and, for a failure, the exception's class (never its message, which may hold a host or a DSN).
`core.probes.ProbeMiddleware` answers them first, before the host check and the HTTPS redirect,
so a load balancer probing a node by its address over plain HTTP gets them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse

CHECK_TIMEOUT_SECONDS = 2.0


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = check() or {}
        outcome: dict[str, Any] = {"ok": True, **extra}
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said by its class only
        outcome = {"ok": False, "error": type(exc).__name__}
    outcome["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return outcome


def _database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    cache = caches["default"]
    key = f"ledgerline:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    found = cache.get(key)
    cache.delete(key)
    if found != "1":
        raise RuntimeError("cache did not return what was stored")


def _broker() -> dict[str, Any]:
    redis_url: str = settings.REDIS_URL
    if redis_url:
        import redis

        connection = redis.Redis.from_url(
            redis_url, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
        )
        try:
            connection.ping()
        finally:
            connection.close()
        return {"kind": "redis"}
    from django_q.models import OrmQ

    list(OrmQ.objects.order_by().values_list("pk", flat=True)[:1])
    return {"kind": "database"}


def _dots() -> dict[str, Any]:
    """What the last calls said of Dots (core.dots_health), not a call to Dots now."""
    from core import dots_health

    view = dots_health.read()
    return {
        "unreachable": view.in_outage,
        "failing_since": view.failing_since.isoformat() if view.failing_since else None,
        "consecutive_failures": view.consecutive_failures,
        "actions_waiting": view.actions_waiting,
    }


def _no_store(response: JsonResponse) -> JsonResponse:
    # Answered before SecurityMiddleware (ProbeMiddleware), so the headers it would add are set here.
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    return _no_store(JsonResponse({"status": "ok"}))


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _timed(_database), "cache": _timed(_cache), "broker": _timed(_broker)}
    ready = all(check["ok"] for check in checks.values())
    dots = _timed(_dots) if checks["database"]["ok"] else {"ok": False, "error": "database unavailable"}
    body = {"status": "ready" if ready else "not ready", "checks": checks, "dots": dots}
    return _no_store(JsonResponse(body, status=200 if ready else 503))


class ProbeMiddleware:
    """Answers `/healthz`, `/readyz` and `/metrics` before anything else runs.

    First in MIDDLEWARE: a load balancer or Prometheus reaches a node by its address (not a name in
    ALLOWED_HOSTS) over plain HTTP inside the network, so these must not meet the host check or the
    HTTPS redirect. They build no URL from the Host header and set no cookie; `/metrics` checks its
    own token. Everything else goes on down the stack.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/")
        if path == "/healthz":
            return healthz(request)
        if path == "/readyz":
            return readyz(request)
        if path == "/metrics":
            from core.metrics import metrics_view

            return metrics_view(request)
        return self.get_response(request)
