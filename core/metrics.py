"""Prometheus metrics at `/metrics`, for whoever holds `METRICS_TOKEN` (prometheus-client).

Two kinds of figures:

- **Measured in the process** that served the request or made the call: request latency by view
  (the resolved URL name, never the raw path), database queries per request, Dots calls by
  operation and outcome with their latency. With several gunicorn workers each process holds its
  own; set `PROMETHEUS_MULTIPROC_DIR` (gunicorn.conf.py empties it at start and tells
  prometheus-client when a worker exits) and any worker's `/metrics` adds up every worker's.
  Without it a scrape sees only the worker that answered. Most Dots calls are made by the task
  worker (qcluster): with `WORKER_METRICS_BIND` it serves its own figures (start_worker_exporter).
- **Computed from the database when scraped**: the gauges apps declare in their seam
  (`registry.metric`: queued Dots actions, payments with unknown outcome, open disagreements, the
  task queue's depth and failures). The same from any worker, with or without multiprocess mode.

The endpoint answers only `Authorization: Bearer <METRICS_TOKEN>`: 404 when no token is set (the
endpoint does not exist), 401 without the header, 403 with a wrong token. Never the admin session.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core import registry
from dots.client import CallRecord

logger = logging.getLogger(__name__)

# Buckets in seconds: admin pages take tens of milliseconds to a few seconds.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_QUERY_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

REQUEST_SECONDS = Histogram(
    "ledgerline_http_request_duration_seconds",
    "Time to answer a request, by view (the URL's name), method and status class.",
    ("view", "method", "status"),
    buckets=_LATENCY_BUCKETS,
)
REQUEST_QUERIES = Histogram(
    "ledgerline_http_request_db_queries",
    "Database queries made while answering a request, by view.",
    ("view",),
    buckets=_QUERY_BUCKETS,
)
DOTS_CALLS = Counter(
    "ledgerline_dots_calls",
    "Calls (attempts) to Dots by operation (method and path with ids replaced) and outcome.",
    ("operation", "outcome"),
)
DOTS_CALL_SECONDS = Histogram(
    "ledgerline_dots_call_duration_seconds",
    "Time of one attempt at a Dots call, by operation and outcome.",
    ("operation", "outcome"),
    buckets=_LATENCY_BUCKETS,
)

_VERSION = re.compile(r"^v\d+$")


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


# --- Dots calls (the client's observer, installed by core.dots_gateway) ----------------------------------


def dots_operation(method: str, path: str) -> str:
    """'POST /v2/accounts-payable/payables/{id}/pay': a segment holding a digit is an id (v2 is not)."""
    path = path.split("?", 1)[0]
    parts = [p if not any(c.isdigit() for c in p) or _VERSION.match(p) else "{id}" for p in path.split("/")]
    return f"{method.upper()} {'/'.join(parts)}"


def dots_outcome(record: CallRecord) -> str:
    """answered (2xx), refused (4xx but 429), rate_limited (429), server_error (5xx), no_answer."""
    status = record.status
    if status is None:
        return "no_answer"
    if 200 <= status < 300:
        return "answered"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "refused"


def observe_dots_call(record: CallRecord) -> None:
    labels = (dots_operation(record.method, record.path), dots_outcome(record))
    DOTS_CALLS.labels(*labels).inc()
    DOTS_CALL_SECONDS.labels(*labels).observe(record.seconds)


# --- requests -------------------------------------------------------------------------------------------


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class RequestMetricsMiddleware:
    """Times each request and counts its database queries, labelled by the resolved view's name."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        counter = _QueryCounter()
        started = time.perf_counter()
        with connections["default"].execute_wrapper(counter):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match is not None else "unresolved"
        REQUEST_SECONDS.labels(view, request.method or "", f"{response.status_code // 100}xx").observe(elapsed)
        REQUEST_QUERIES.labels(view).observe(counter.count)
        return response


# --- gauges the apps declare, computed when scraped ------------------------------------------------------


class SeamGauges(Collector):
    """Every `registry.metric` an app declared, each read from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for spec in registry.metrics():
            try:
                value = float(import_string(spec.value)())
            except Exception:  # noqa: BLE001 - one broken figure must not hide the others
                logger.warning("metric %s could not be computed", spec.name, exc_info=True)
                continue
            yield GaugeMetricFamily(spec.name, spec.help, value=value)


_seam_registry = CollectorRegistry(auto_describe=False)
_seam_registry.register(SeamGauges())


def exposition() -> bytes:
    """The text Prometheus reads: this process's (or every worker's) measurements, then the seam's gauges."""
    directory = multiprocess_dir()
    if directory:
        from prometheus_client import multiprocess

        measured = CollectorRegistry()
        multiprocess.MultiProcessCollector(measured, path=directory)
        text = generate_latest(measured)
    else:
        text = generate_latest(REGISTRY)
    return text + generate_latest(_seam_registry)


def start_worker_exporter(bind: str) -> None:
    """Serve the worker's measurements (its Dots calls) at http://<bind>/metrics, for Prometheus.

    qcluster runs tasks in processes it forks, so the figures are added up through
    PROMETHEUS_MULTIPROC_DIR, which must be set in the worker's environment before it starts (as
    Procfile.prod does), and is emptied here, before the task processes start. No token: bind it to
    an address only Prometheus reaches. The gauges computed from the database are on the web's /metrics.
    """
    from django.core.exceptions import ImproperlyConfigured
    from prometheus_client import multiprocess, start_http_server

    directory = multiprocess_dir()
    if not directory:
        raise ImproperlyConfigured("WORKER_METRICS_BIND needs PROMETHEUS_MULTIPROC_DIR set in the worker's environment")
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
    host, _, port = bind.rpartition(":")
    measured = CollectorRegistry()
    multiprocess.MultiProcessCollector(measured, path=directory)
    start_http_server(int(port), addr=host or "127.0.0.1", registry=measured)
    logger.info("worker metrics at http://%s/metrics", bind)


def _bearer(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def metrics_view(request: HttpRequest) -> HttpResponse:
    expected: str = settings.METRICS_TOKEN
    if not expected:
        return HttpResponse("Not found", status=404, content_type="text/plain")
    given = _bearer(request)
    if given is None:
        response = HttpResponse("A bearer token is required.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse("Wrong token.", status=403, content_type="text/plain")
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- core's own gauges (declared in core/seam.py) --------------------------------------------------------


def queued_dots_actions() -> int:
    """Actions waiting for Dots (queued during an outage, or a push to retry), running ones included."""
    from core.models import QueuedDotsAction

    return QueuedDotsAction.objects.filter(status__in=QueuedDotsAction.ACTIVE).count()


def dots_unreachable() -> int:
    from core import dots_health

    return int(dots_health.read(fresh=True).in_outage)


def task_queue_depth() -> int:
    """Tasks waiting in django-q2's broker (Redis' list or the ORM queue table)."""
    from django_q.brokers import get_broker

    size = get_broker().queue_size()
    return int(size or 0)


def task_failures_last_hour() -> int:
    import datetime as dt

    from django.utils import timezone
    from django_q.models import Failure

    return Failure.objects.filter(stopped__gte=timezone.now() - dt.timedelta(hours=1)).count()
