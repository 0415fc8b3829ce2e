"""The worker runs only registered tasks; schedules and resubmits in the admin are guarded and audited."""

import datetime as dt
from multiprocessing import Queue, Value

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Failure, Schedule, Task
from django_q.monitor import monitor
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from django_q.worker import worker

from core import registry, task_guard
from core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_worker(monkeypatch):
    """Take what is queued off the broker and run it through django-q2's own worker and monitor.

    The same functions a cluster's processes run (django_q.worker.worker resolves `func`),
    in this process. Tasks are not marked sync, so a failure is saved as the cluster saves it.
    """

    # Enqueue through the broker as production does (the test settings run tasks inline), and
    # keep the test's database connection, which a worker process would close between tasks.
    monkeypatch.setattr(Conf, "SYNC", False)
    for module in ("scheduler", "worker", "monitor"):
        monkeypatch.setattr(f"django_q.{module}.close_old_django_connections", lambda: None)

    def run() -> None:
        broker = get_broker()
        task_queue: Queue = Queue()
        result_queue: Queue = Queue()
        for ack_id, pack in broker.dequeue() or []:
            task = SignedPackage.loads(pack)
            task["ack_id"] = ack_id
            task_queue.put(task)
        task_queue.put("STOP")
        worker(task_queue, result_queue, Value("f", -1))
        result_queue.put("STOP")
        monitor(result_queue, broker)

    return run


def test_a_schedule_row_naming_os_system_is_refused_by_the_worker_and_audited(run_worker, tmp_path):
    target = tmp_path / "pwned"
    Schedule.objects.create(
        name="evil",
        func="os.system",
        args=repr(f"touch {target}"),
        schedule_type=Schedule.MINUTES,
        minutes=1,
        repeats=-1,
        next_run=timezone.now() - dt.timedelta(minutes=1),
    )

    scheduler(broker=get_broker())
    run_worker()

    assert not target.exists()
    failure = Failure.objects.get(func="os.system")
    assert task_guard.REFUSED_MESSAGE in failure.result
    event = AuditEvent.objects.get(action="task.refused")
    assert event.actor.username == "system"
    assert event.source == AuditEvent.Source.TASK
    assert event.object_repr == "os.system"
    assert "os.system" in event.reason


def test_an_enqueued_subprocess_run_is_refused_by_the_worker(run_worker, tmp_path):
    target = tmp_path / "pwned"

    async_task("subprocess.run", ["touch", str(target)])
    run_worker()

    assert not target.exists()
    assert Failure.objects.filter(func="subprocess.run").exists()
    assert AuditEvent.objects.filter(action="task.refused", object_repr="subprocess.run").count() == 1


def test_a_registered_task_still_runs(run_worker, monkeypatch):
    monkeypatch.setitem(registry.registry.tasks, "math.floor", "tests")

    async_task("math.floor", 2.5)
    run_worker()

    task = Task.objects.get(func="math.floor")
    assert task.success
    assert task.result == 2
    assert not AuditEvent.objects.filter(action="task.refused").exists()


def test_every_enqueued_and_scheduled_task_is_registered():
    tasks = registry.registered_tasks()
    assert "payables.tasks.follow_payment" in tasks
    assert "payouts.tasks.webhook_delivery_process" in tasks
    assert "core.tasks.run_queued_dots_actions" in tasks
    assert "os.system" not in tasks
