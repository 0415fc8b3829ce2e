"""Issue #17: two worker clusters, as on two machines, share the Redis queue; one is killed midway.

Two real `manage.py qcluster` processes on the test's database and emulator drain the pushes of
TWO_CLUSTER_TASKS payout links (default 10,000: each a Dots create with its stored key). When
about half are in Dots, one cluster is killed with SIGKILL (every process of it, as when a machine
is lost). Our Redis broker gives back what the dead cluster had taken once `retry` has passed, and
the other cluster finishes: every link ends in Dots exactly once (the emulator's own list is the
judge), none is lost. Before that, schedules due now fire once each, not once per cluster.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule, Success
from django_q.tasks import async_task

from core import roles
from core.task_broker import RedisBroker
from dots.client import DotsClient
from payouts.models import PayoutLink
from payouts.services.payout_links import store_link_intent
from tests.chaos_worker import worker_env
from tests.fixtures_emulator import REPO_ROOT
from tests.support import make_user, redis_test_database

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = int(os.environ.get("TWO_CLUSTER_TASKS", "10000"))
SCHEDULES = 20
# A task's timeout, and how long an unacknowledged task waits before it is offered again.
TIMEOUT_SECONDS, RETRY_SECONDS = 15, 20


@pytest.fixture
def redis_queue(monkeypatch):
    """This run's own queue on Redis database 13: its own name, never emptying another run's keys."""
    for url in redis_test_database(13, empty=False):
        monkeypatch.setattr(Conf, "REDIS", url)
        queue = RedisBroker(list_key=f"ledgerline-test-{uuid.uuid4().hex[:12]}")
        yield queue
        queue.delete_queue()


def queue_name(queue: RedisBroker) -> str:
    return queue.list_key.removeprefix("django_q:").removesuffix(":q")


class Cluster:
    def __init__(self, name: str, dots, queue: RedisBroker) -> None:
        env = worker_env(
            database=connection.settings_dict,
            dots_api_url=dots.base_url,
            client_id=dots.client_id,
            api_key=dots.api_key,
            timeout_seconds=5.0,
        )
        env.update(
            REDIS_URL=Conf.REDIS,
            Q_WORKERS="2",
            Q_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
            Q_RETRY_SECONDS=str(RETRY_SECONDS),
            DJANGO_SETTINGS_MODULE="tests.cluster_settings",
            TEST_QUEUE_NAME=queue_name(queue),
        )
        self.name = name
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"cluster-{name}-{uuid.uuid4().hex}.log"), "w")  # noqa: SIM115
        # Its own session: SIGKILL reaches the sentinel, pusher, workers and monitor at once.
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        # The work is judged by then: no need to wait for a graceful stop.
        if self.process.poll() is None:
            self.kill()
        self.log.close()

    def tail(self) -> str:
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()[-3000:]


def wait_for(condition, *, seconds: float, clusters, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for cluster in clusters:
            if cluster.process.poll() is not None and cluster.process.returncode != -signal.SIGKILL:
                raise AssertionError(f"cluster {cluster.name} exited: {cluster.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds:.0f}s; " + " / ".join(c.tail() for c in clusters))
        time.sleep(0.5)


@pytest.mark.timeout(900)  # 10,000 Dots calls through real clusters: about 3 minutes, more on a busy machine
def test_two_clusters_share_the_queue_and_one_killed_midway_loses_nothing(dots, redis_queue):
    started = time.monotonic()
    operator = make_user("cluster-operator", role=roles.PAYOUTS_OPERATOR)
    link_ids = [
        store_link_intent(amount_cents=100, actor=operator, memo=f"cluster link {i + 1}", push=False).pk
        for i in range(TASKS)
    ]
    for i in range(SCHEDULES):
        Schedule.objects.create(
            name=f"once {i}",
            func="core.tasks.prune_successful_tasks",
            schedule_type=Schedule.ONCE,
            next_run=timezone.now() - timedelta(seconds=1),
            cluster=queue_name(redis_queue),
        )

    stored = time.monotonic()
    clusters = [Cluster("a", dots, redis_queue), Cluster("b", dots, redis_queue)]
    try:
        # Schedules due now: each fires once, whichever cluster's scheduler comes first.
        wait_for(
            lambda: Success.objects.filter(func="core.tasks.prune_successful_tasks").count() >= SCHEDULES,
            seconds=90,
            clusters=clusters,
            what="the schedules did not all run",
        )
        time.sleep(2)
        assert Success.objects.filter(func="core.tasks.prune_successful_tasks").count() == SCHEDULES
        assert not Schedule.objects.filter(name__startswith="once ", next_run__lt=timezone.now()).exclude(repeats=0)

        scheduled = time.monotonic()
        for link_id in link_ids:
            async_task("payouts.tasks.payout_link_push", link_id, operator.pk, broker=redis_queue, sync=False)

        def in_dots() -> int:
            return PayoutLink.objects.filter(pk__in=link_ids).exclude(dots_id=None).exclude(dots_id="").count()

        half = TASKS // 2
        wait_for(lambda: in_dots() >= half, seconds=600, clusters=clusters, what="half the links never reached Dots")
        taken_when_killed = redis_queue.lock_size()
        clusters[0].kill()
        killed = time.monotonic()
        wait_for(lambda: in_dots() == TASKS, seconds=900, clusters=clusters[1:], what="not every link reached Dots")
        drained = time.monotonic()
    finally:
        for cluster in clusters:
            cluster.stop()

    remote = list(DotsClient(dots.base_url, dots.client_id, dots.api_key).iter_payout_links())
    local = set(PayoutLink.objects.filter(pk__in=link_ids).values_list("dots_id", flat=True))
    print(
        f"\n      {TASKS} link pushes, 2 clusters, one killed with {taken_when_killed} tasks taken and unacknowledged; "
        f"stored {stored - started:.0f}s, schedules {scheduled - stored:.0f}s, half {killed - scheduled:.0f}s, "
        f"rest {drained - killed:.0f}s"
    )
    assert len(remote) == TASKS  # none twice
    assert {link.id for link in remote} == local  # none lost, none not ours
    assert redis_queue.queue_size() == 0
