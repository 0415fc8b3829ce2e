"""The Redis queue keeps every task until its cluster acknowledges it (core.task_broker.RedisBroker, issue #17).

django-q2's own Redis broker forgets a task the moment a cluster takes it, so a cluster killed
on one machine loses what it was running. Ours gives such a task back after `retry` seconds.
These run against the real Redis (CI has one; locally `redis-server` on 127.0.0.1:6379).
"""

import time
import uuid

import pytest
from django_q.conf import Conf

from core.task_broker import RedisBroker
from tests.support import redis_test_database


@pytest.fixture
def broker(monkeypatch):
    for url in redis_test_database(15):
        monkeypatch.setattr(Conf, "REDIS", url)
        monkeypatch.setattr(Conf, "BULK", 3)
        monkeypatch.setattr(Conf, "POLL", 0)
        monkeypatch.setattr(Conf, "RETRY", 60)
        yield RedisBroker(list_key=f"test-{uuid.uuid4().hex}")


def test_a_fetch_takes_at_most_bulk_tasks_in_order_and_keeps_them_until_acknowledged(broker):
    for i in range(5):
        broker.enqueue(f"payload {i}")

    first = broker.dequeue()
    second = broker.dequeue()

    assert [payload for _, payload in first] == [b"payload 0", b"payload 1", b"payload 2"]
    assert [payload for _, payload in second] == [b"payload 3", b"payload 4"]
    assert broker.dequeue() is None
    assert broker.queue_size() == 0
    assert broker.lock_size() == 5  # taken, not forgotten


def test_an_acknowledged_or_failed_task_is_gone_for_good(broker, monkeypatch):
    broker.enqueue("done")
    broker.enqueue("broken")
    (done_id, _), (broken_id, _) = broker.dequeue()

    broker.acknowledge(done_id)
    broker.fail(broken_id)
    monkeypatch.setattr(Conf, "RETRY", 0)

    assert broker.lock_size() == 0
    assert broker.dequeue() is None


def test_a_task_its_cluster_never_acknowledged_comes_back_first_after_retry_seconds(broker, monkeypatch):
    monkeypatch.setattr(Conf, "RETRY", 1)
    broker.enqueue("taken by a cluster that died")
    broker.dequeue()
    broker.enqueue("queued later")

    ((later_id, later),) = broker.dequeue()
    assert later == b"queued later"  # the first is still taken
    broker.acknowledge(later_id)
    assert broker.dequeue() is None
    time.sleep(1.2)

    again = broker.dequeue()

    assert [p for _, p in again] == [b"taken by a cluster that died"]
    broker.acknowledge(again[0][0])
    time.sleep(1.2)
    assert broker.dequeue() is None  # acknowledged the second time: gone


def test_two_brokers_never_take_the_same_task(broker):
    other = RedisBroker(list_key=broker.list_key.removeprefix("django_q:").removesuffix(":q"))
    for i in range(200):
        broker.enqueue(f"task {i}")

    seen = []
    while True:
        a, b = broker.dequeue(), other.dequeue()
        if not a and not b:
            break
        seen += [p for _, p in (a or []) + (b or [])]

    assert sorted(seen) == sorted(f"task {i}".encode() for i in range(200))


def test_purging_the_queue_forgets_taken_tasks_too(broker):
    broker.enqueue("one")
    broker.enqueue("two")
    broker.dequeue()
    broker.enqueue("three")

    broker.purge_queue()

    assert broker.queue_size() == 0
    assert broker.lock_size() == 0
