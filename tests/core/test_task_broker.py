"""The queue's ORM broker (core.task_broker.OrmBroker) and the pruning of old results (issue #18 §4).

Run on PostgreSQL (CI, or DATABASE_URL=postgres://...) these exercise our one-statement fetch and
the acknowledgement that does not wait for the disk; on SQLite, django-q2's own broker, which
must keep the same promises. Transactional tests: the broker runs outside any transaction, as
the cluster's pusher and monitor do.
"""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ

from core.task_broker import OrmBroker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(monkeypatch):
    """Our ORM broker on the test database, whichever broker the settings chose (CI runs Redis)."""
    monkeypatch.setattr(Conf, "BULK", 4)
    monkeypatch.setattr(Conf, "POLL", 0)  # an empty fetch sleeps POLL seconds
    monkeypatch.setattr(Conf, "ORM", "default")
    queue = OrmBroker()
    queue.purge_queue()
    return queue


def test_the_orm_broker_is_ours_and_takes_several_tasks_per_fetch_by_default():
    from django.conf import settings

    if settings.REDIS_URL:  # Redis chosen (REDIS_URL, as in CI): our Redis broker that keeps taken tasks
        assert "redis" in settings.Q_CLUSTER
        assert settings.Q_CLUSTER["broker_class"] == "core.task_broker.RedisBroker"
    else:
        assert isinstance(get_broker(), OrmBroker)
        assert settings.Q_CLUSTER["broker_class"] == "core.task_broker.OrmBroker"
    assert settings.Q_CLUSTER["bulk"] > 1


def test_a_fetch_takes_at_most_bulk_tasks_oldest_first_and_locks_them(broker):
    ids = [broker.enqueue(f"payload {i}") for i in range(6)]

    first = broker.dequeue()
    second = broker.dequeue()

    assert first == [(ids[i], f"payload {i}") for i in range(4)]
    assert second == [(ids[i], f"payload {i}") for i in (4, 5)]
    assert broker.dequeue() is None  # all locked
    assert OrmQ.objects.filter(lock__gt=timezone.now() + dt.timedelta(seconds=Conf.RETRY - 60)).count() == 6


def test_an_acknowledged_or_failed_task_is_gone_and_the_others_stay(broker):
    ids = [broker.enqueue(f"payload {i}") for i in range(3)]
    broker.dequeue()

    broker.acknowledge(ids[0])
    broker.fail(ids[1])

    assert list(OrmQ.objects.values_list("id", flat=True)) == [ids[2]]


def test_a_task_whose_lock_ran_out_is_offered_again(broker):
    """A worker that died mid-task: its task comes back after `retry` seconds (at least once)."""
    task_id = broker.enqueue("payload")
    broker.dequeue()
    OrmQ.objects.filter(pk=task_id).update(lock=timezone.now() - dt.timedelta(seconds=1))

    assert broker.dequeue() == [(task_id, "payload")]


def test_another_clusters_queue_is_never_taken(broker):
    other = OrmBroker(list_key="another-cluster")
    other.enqueue("theirs")
    mine = broker.enqueue("mine")

    assert broker.dequeue() == [(mine, "mine")]
    other.purge_queue()


def test_inside_a_transaction_the_callers_commit_still_waits_for_the_disk(broker):
    task_id = broker.enqueue("payload")
    with transaction.atomic():
        broker.dequeue()
        broker.acknowledge(task_id)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()[0] == "on"
    assert not OrmQ.objects.filter(pk=task_id).exists()


def test_the_queue_table_has_an_index_on_key_and_lock():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, OrmQ._meta.db_table)
    assert any(c["index"] and c["columns"] == ["key", "lock"] for c in constraints.values())


def _finished(n: int, *, success: bool = True) -> None:
    from django_q.models import Task

    now = timezone.now()
    Task.objects.bulk_create(
        Task(
            id=f"{'s' if success else 'f'}{i:031d}",
            name=f"task {i}",
            func="core.tasks.run_queued_dots_actions",
            started=now - dt.timedelta(seconds=n - i + 1),
            stopped=now - dt.timedelta(seconds=n - i),
            success=success,
        )
        for i in range(n)
    )


def test_pruning_keeps_the_newest_successful_results_and_every_failure(settings):
    from django_q.models import Failure, Success

    from core.tasks import prune_successful_tasks

    settings.TASK_SUCCESSES_KEPT = 5
    _finished(8)
    _finished(3, success=False)

    assert prune_successful_tasks() == "3"
    assert sorted(Success.objects.values_list("name", flat=True)) == [f"task {i}" for i in range(3, 8)]
    assert Failure.objects.count() == 3
    assert prune_successful_tasks() == "0"


def test_results_are_kept_at_save_and_pruned_by_a_schedule_instead():
    from django.conf import settings

    from core import registry

    assert settings.Q_CLUSTER["save_limit"] == 0  # django-q2's per-save pruning reads every kept result
    spec = registry.discover().schedules["Delete old results of successful background tasks"]
    assert (spec.func, spec.minutes) == ("core.tasks.prune_successful_tasks", 10)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="our own statements run on PostgreSQL only")
def test_a_connection_the_database_dropped_is_replaced_and_nothing_is_lost(broker):
    task_id = broker.enqueue("payload")
    connection.connection.close()  # as after a database restart

    assert broker.dequeue() == [(task_id, "payload")]
    connection.connection.close()
    broker.acknowledge(task_id)
    assert not OrmQ.objects.filter(pk=task_id).exists()
