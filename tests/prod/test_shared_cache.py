"""Issue #17, shared state: with Redis every node sees the same cache; without it each process has its own.

Two "nodes" are two processes (tests/prod/cache_node.py) on the test's database, as two machines
behind a load balancer. Each trusts what it last read of Dots' health for five minutes here, so a
node that kept its own copy would show no "Dots unreachable" banner for that long after the other
node recorded the outage. The same steps with each process's own memory (LocMemCache, one machine)
show exactly that, which is what makes the Redis test mean something.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from core import cache as core_cache
from core import dots_health, roles
from tests.chaos_worker import worker_env
from tests.fixtures_emulator import REPO_ROOT
from tests.support import make_user, redis_test_database

UNREACHABLE_REDIS = "redis://:not-this-password@127.0.0.1:1/0"


@pytest.fixture
def shared_redis():
    yield from redis_test_database(12)


class Node:
    """A process of the app on the test's database; `cache_url` empty means its own memory."""

    def __init__(self, *, cache_url: str, prefix: str) -> None:
        env = worker_env(
            database=connection.settings_dict,
            dots_api_url="http://127.0.0.1:1/api",  # never called
            client_id="node",
            api_key="node",
            timeout_seconds=1.0,
        )
        env.pop("REDIS_URL", None)
        env.pop("REDIS_CACHE_URL", None)
        if cache_url:
            env["REDIS_CACHE_URL"] = cache_url
        env.update(
            LEDGERLINE_TEST_CACHE_PREFIX=prefix,
            # One failure makes an outage; what a node read is trusted for five minutes.
            DOTS_OUTAGE_AFTER_SECONDS="0",
            DOTS_OUTAGE_MIN_FAILURES="1",
            DOTS_HEALTH_CACHE_SECONDS="300",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.prod.cache_node"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"node exited with {self.process.poll()} on {command!r}"
        return json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(timeout=20)


@pytest.fixture
def two_nodes(request):
    started: list[Node] = []

    def start(cache_url: str) -> tuple[Node, Node]:
        prefix = f"node-test-{uuid.uuid4().hex}"
        started.extend([Node(cache_url=cache_url, prefix=prefix), Node(cache_url=cache_url, prefix=prefix)])
        return started[-2], started[-1]

    yield start
    for node in started:
        node.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_an_outage_recorded_on_one_node_shows_on_the_other_at_once_with_redis(shared_redis, two_nodes):
    first, second = two_nodes(shared_redis)
    assert second.ask("read") == {"in_outage": False, "failures": 0}  # now kept for five minutes

    first.ask("fail")

    assert second.ask("read") == {"in_outage": True, "failures": 1}
    # ...and the end of it, recorded by the second, shows on the first.
    assert first.ask("read")["in_outage"] is True
    second.ask("succeed")
    assert first.ask("read") == {"in_outage": False, "failures": 0}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_with_each_process_keeping_its_own_cache_the_other_node_would_not_see_the_outage(two_nodes):
    first, second = two_nodes("")
    assert second.ask("read") == {"in_outage": False, "failures": 0}

    first.ask("fail")

    assert first.ask("read")["in_outage"] is True
    assert second.ask("read") == {"in_outage": False, "failures": 0}  # stale: why several nodes need Redis


def _settings_in_a_new_process(**environment: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_CACHE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="x" * 50, **environment)
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps({**settings.CACHES['default'], 'sessions': settings.SESSION_ENGINE}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_redis_url_makes_the_cache_redis_in_the_next_database_than_the_queue_and_sessions_stay_in_the_database():
    done = _settings_in_a_new_process(REDIS_URL="redis://cache.internal:6379/4")
    assert done.returncode == 0, done.stderr
    cache = json.loads(done.stdout)
    assert cache["BACKEND"] == "core.cache.SharedRedisCache"
    assert cache["LOCATION"] == "redis://cache.internal:6379/5"
    assert cache["KEY_PREFIX"] == "ledgerline"
    assert cache["sessions"] == "django.contrib.sessions.backends.db"  # sessions stay in the database


def test_without_redis_the_cache_stays_in_each_process():
    done = _settings_in_a_new_process()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_a_cache_in_the_queues_own_redis_database_is_refused_at_start():
    done = _settings_in_a_new_process(REDIS_URL="redis://127.0.0.1:6379/0", REDIS_CACHE_URL="redis://127.0.0.1:6379/0")
    assert done.returncode != 0
    assert "REDIS_CACHE_URL must name another Redis database than REDIS_URL" in done.stderr


@pytest.mark.django_db
def test_pages_still_open_when_the_redis_cache_stops_answering(client, settings, caplog, monkeypatch):
    monkeypatch.setattr(core_cache, "_last_warning", -core_cache.WARN_EVERY_SECONDS)
    settings.CACHES = {"default": {"BACKEND": "core.cache.SharedRedisCache", "LOCATION": UNREACHABLE_REDIS}}
    dots_health.forget_cached()
    clerk = make_user("cache-clerk", role=roles.AP_CLERK)
    client.force_login(clerk)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert b"My tasks" in response.content
    assert "cache unavailable" in caplog.text


@pytest.mark.django_db
def test_readyz_still_reports_the_shared_cache_down_when_it_stops_answering(client, settings):
    settings.CACHES = {"default": {"BACKEND": "core.cache.SharedRedisCache", "LOCATION": UNREACHABLE_REDIS}}

    response = client.get("/readyz", HTTP_HOST="10.0.0.7:8000")

    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_a_health_view_another_release_cached_is_read_again_from_the_database(settings):
    settings.DOTS_HEALTH_CACHE_SECONDS = 60
    cache.set(dots_health.CACHE_KEY, {"failing_since": None, "a_field_of_the_next_release": 1}, 60)
    try:
        view = dots_health.read()
    finally:
        dots_health.forget_cached()
    assert (view.in_outage, view.consecutive_failures) == (False, 0)
