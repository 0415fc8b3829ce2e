"""The worker runs only registered tasks; schedules and resubmits in the admin are guarded and audited."""

import datetime as dt
import uuid
from multiprocessing import Queue, Value

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Failure, Schedule, Task
from django_q.monitor import monitor
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from django_q.worker import worker

from core import registry, roles, task_guard
from core.models import AuditEvent
from tests.support import login_verified, make_user

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
    # What an earlier run left on a shared broker (Redis outlives the test database) is not this test's.
    get_broker().purge_queue()
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


# --- the admin ------------------------------------------------------------------------------------------


@pytest.fixture
def administrator(client):
    user = make_user("ada", role=roles.ADMINISTRATOR)
    login_verified(client, user)
    return user


@pytest.fixture
def manager(client):
    user = make_user("max", role=roles.MANAGER)
    login_verified(client, user)
    return user


def _schedule() -> Schedule:
    return Schedule.objects.create(
        name="Reconcile",
        func="reconciliation.tasks.reconcile",
        schedule_type=Schedule.MINUTES,
        minutes=60,
        repeats=-1,
        next_run=timezone.now() + dt.timedelta(hours=1),
    )


def _changelist_action(client, model: str, action: str, pks) -> object:
    return client.post(
        reverse(f"admin:django_q_{model}_changelist"),
        {"action": action, "_selected_action": [str(pk) for pk in pks]},
    )


def test_the_schedule_add_page_is_refused_to_an_administrator(client, administrator):
    assert client.get(reverse("admin:django_q_schedule_add")).status_code == 403


def test_posting_a_changed_func_to_a_schedule_changes_nothing_else(client, administrator):
    schedule = _schedule()
    new_run = (timezone.now() + dt.timedelta(hours=2)).replace(microsecond=0)

    response = client.post(
        reverse("admin:django_q_schedule_change", args=[schedule.pk]),
        {
            "func": "os.system",
            "args": "'touch /tmp/x'",
            "name": "evil",
            "hook": "os.system",
            "minutes": "15",
            "next_run_0": timezone.localtime(new_run).strftime("%Y-%m-%d"),
            "next_run_1": timezone.localtime(new_run).strftime("%H:%M:%S"),
        },
    )

    assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.func, schedule.args, schedule.name, schedule.hook) == (
        "reconciliation.tasks.reconcile",
        None,
        "Reconcile",
        None,
    )
    assert schedule.minutes == 15
    assert schedule.next_run == new_run
    event = AuditEvent.objects.get(action="schedule.updated")
    assert event.actor == administrator
    assert event.changes["minutes"] == {"before": 60, "after": 15}
    assert set(event.changes) == {"minutes", "next_run"}


def test_pausing_a_schedule_sets_repeats_to_zero_and_is_audited(client, administrator):
    schedule = _schedule()

    _changelist_action(client, "schedule", "pause", [schedule.pk])

    schedule.refresh_from_db()
    assert schedule.repeats == 0
    event = AuditEvent.objects.get(action="schedule.updated")
    assert event.actor == administrator
    assert event.reason == "paused"
    assert event.changes == {"repeats": {"before": -1, "after": 0}}


def test_a_manager_cannot_change_a_schedule(client, manager):
    schedule = _schedule()

    _changelist_action(client, "schedule", "pause", [schedule.pk])

    schedule.refresh_from_db()
    assert schedule.repeats == -1
    assert not AuditEvent.objects.filter(action="schedule.updated").exists()


def _finished(func: str, *, success: bool) -> Task:
    now = timezone.now()
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"finished-{func}",
        func=func,
        args=(1,),
        kwargs={},
        started=now,
        stopped=now,
        success=success,
        attempt_count=1,
    )


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr("core.admin_tasks.async_task", lambda func, *args, **kwargs: calls.append((func, args)))
    return calls


@pytest.mark.parametrize("model", ["success", "failure"])
def test_a_managers_resubmit_is_refused_and_nothing_is_enqueued(client, manager, enqueued, model):
    task = _finished("payouts.tasks.webhook_delivery_process", success=model == "success")

    _changelist_action(client, model, "resubmit", [task.pk])
    _changelist_action(client, model, "resubmit_task", [task.pk])

    assert enqueued == []
    assert Task.objects.filter(pk=task.pk).exists()
    assert not AuditEvent.objects.filter(action="task.resubmitted").exists()


@pytest.mark.parametrize("model", ["success", "failure"])
def test_an_administrators_resubmit_of_a_registered_task_is_queued_and_audited(client, administrator, enqueued, model):
    task = _finished("payouts.tasks.webhook_delivery_process", success=model == "success")

    _changelist_action(client, model, "resubmit", [task.pk])

    assert enqueued == [("payouts.tasks.webhook_delivery_process", (1,))]
    event = AuditEvent.objects.get(action="task.resubmitted")
    assert event.actor == administrator
    assert "payouts.tasks.webhook_delivery_process" in str(event.changes)


def test_an_administrators_resubmit_of_an_unregistered_task_is_refused(client, administrator, enqueued):
    task = _finished("os.system", success=False)

    _changelist_action(client, "failure", "resubmit", [task.pk])

    assert enqueued == []
    assert Task.objects.filter(pk=task.pk).exists()
    assert not AuditEvent.objects.filter(action="task.resubmitted").exists()


@pytest.mark.django_db
def test_the_schedule_and_rerun_services_refuse_a_role_without_the_permission_and_change_nothing():
    from core.admin_tasks import schedule_update, task_resubmit
    from core.errors import PermissionRefused

    manager = make_user("svc-manager", role=roles.MANAGER)
    schedule = Schedule.objects.create(func="core.tasks.run_queued_dots_actions", name="queue", minutes=1)
    with pytest.raises(PermissionRefused):
        schedule_update(schedule_id=schedule.pk, actor=manager, changes={"repeats": 0})
    schedule.refresh_from_db()
    assert schedule.repeats == -1
    failed = Failure.objects.create(
        id="f" * 32,
        name="refused-rerun",
        func="core.tasks.run_queued_dots_actions",
        started=timezone.now(),
        stopped=timezone.now(),
        success=False,
    )
    before = Task.objects.count()
    with pytest.raises(PermissionRefused):
        task_resubmit(task=failed, actor=manager)
    assert Task.objects.count() == before
    assert not AuditEvent.objects.filter(action__in=["schedule.updated", "task.resubmitted"]).exists()
