"""/healthz and /readyz: no login, JSON without secrets, 503 when the database, cache or broker does not answer."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import dots_health
from core.models import DotsHealth

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://:not-this-password@127.0.0.1:1/0"


@pytest.fixture
def production_like(settings):
    """As behind a load balancer: HTTPS redirect on, and a probe addressed to the node's IP, not a known host."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["ledgerline.example.com"]
    return settings


def _get(client, path):
    return client.get(path, HTTP_HOST="10.0.0.7:8000")


def test_healthz_answers_anyone_over_plain_http_by_address_without_touching_the_database(client, production_like):
    with CaptureQueriesContext(connection) as queries:
        response = _get(client, "/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"status": "ok"}
    assert queries.captured_queries == []
    assert "Set-Cookie" not in response


def test_readyz_says_ready_when_database_cache_and_broker_answer(client, production_like):
    response = _get(client, "/readyz")
    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "broker": True,
    }
    assert body["checks"]["broker"]["kind"] == ("redis" if production_like.REDIS_URL else "database")
    assert body["dots"]["unreachable"] is False
    assert response["Cache-Control"] == "no-store"


def test_readyz_is_503_when_the_broker_does_not_answer_and_names_no_secret(client, production_like):
    production_like.REDIS_URL = UNREACHABLE_REDIS
    response = _get(client, "/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "not ready"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"] == "ConnectionError"
    assert body["checks"]["database"]["ok"] is True
    text = response.content.decode()
    for secret in ("not-this-password", "127.0.0.1:1", production_like.SECRET_KEY, production_like.DOTS_API_KEY):
        assert secret not in text


def test_readyz_is_503_when_the_cache_does_not_answer(client, production_like):
    production_like.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": UNREACHABLE_REDIS}
    }
    response = _get(client, "/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["checks"]["cache"] == {"ok": False, "error": "ConnectionError", "ms": body["checks"]["cache"]["ms"]}


def test_readyz_reports_dots_unreachable_but_stays_ready(client, production_like):
    production_like.DOTS_OUTAGE_AFTER_SECONDS = 0
    production_like.DOTS_OUTAGE_MIN_FAILURES = 1
    DotsHealth.objects.update_or_create(
        pk=1,
        defaults={
            "failing_since": timezone.now(),
            "consecutive_failures": 4,
            "last_failure_message": "could not connect to Dots (secret detail)",
        },
    )
    dots_health.forget_cached()
    response = _get(client, "/readyz")
    dots_health.forget_cached()
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["dots"]["unreachable"] is True
    assert body["dots"]["consecutive_failures"] == 4
    assert "secret detail" not in response.content.decode()


def test_probes_are_named_urls_that_answer_the_same(client):
    from django.urls import reverse

    assert reverse("healthz") == "/healthz"
    assert reverse("readyz") == "/readyz"
    assert client.get("/healthz/").status_code == 200
