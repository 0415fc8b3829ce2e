"""django-q2's admin pages for schedules and finished tasks, made safe (issue #16).

django-q2 registers its own ModelAdmins (django_q/admin.py). Two of their doors run code:
the Schedule form sets `func` to any dotted path, and the "resubmit" action on Successful
and Failed tasks needs only view permission. We replace those registrations here:

- Schedules come from the apps' seams (`manage.py setup_schedules`): nobody adds or deletes
  one here, and func, args, kwargs, hook and name are read-only. An Administrator may
  pause and resume (django-q2's scheduler only picks schedules whose `repeats` is not 0,
  django_q/scheduler.py, so pause sets 0 and resume sets -1, "forever", or 1 for a one-off),
  and change the interval in minutes and the next run. Every change is audited
  (`schedule.updated`, before/after, who).
- Resubmitting a finished task is for Administrators only (the people who may change
  schedules, `django_q.change_schedule`), only for registered tasks, and audited
  (`task.resubmitted`). Managers see the lists read-only, with no actions.

The worker refuses an unregistered func in any case (core.task_guard); these pages keep a
person from asking it to.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success, Task
from django_q.tasks import async_task

from core import audit, registry
from core.audit_display import value_text
from core.permissions import require_perm

SCHEDULE_EDITABLE = ("minutes", "next_run")
RUN_TASKS_PERMISSION = "django_q.change_schedule"


def _schedule_state(schedule: Schedule) -> dict[str, Any]:
    return {
        "repeats": schedule.repeats,
        "minutes": schedule.minutes,
        "next_run": schedule.next_run.isoformat() if schedule.next_run else None,
    }


@transaction.atomic
def schedule_update(*, schedule_id: int, actor: Any, changes: dict[str, Any], reason: str = "") -> Schedule:
    """Change a schedule's pause state or timing; nothing else about a schedule is ours to change here."""
    require_perm(actor, RUN_TASKS_PERMISSION, "pause, resume or retime schedules")
    refused = set(changes) - {"repeats", *SCHEDULE_EDITABLE}
    if refused:
        raise ValueError(f"A schedule's {', '.join(sorted(refused))} cannot be changed here")
    schedule = Schedule.objects.select_for_update().get(pk=schedule_id)
    before = _schedule_state(schedule)
    for name, value in changes.items():
        setattr(schedule, name, value)
    after = _schedule_state(schedule)
    changed = [name for name in before if before[name] != after[name]]
    if not changed:
        return schedule
    schedule.save(update_fields=changed)
    audit.record(
        actor=actor,
        action="schedule.updated",
        target=schedule,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
        reason=reason,
    )
    return schedule


class ScheduleAdmin(q_admin.ScheduleAdmin):
    fields = ("name", "func", "args", "kwargs", "hook", "schedule_type", "minutes", "next_run", "repeats", "cluster")
    actions = ["pause", "resume"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        # Only what is in SCHEDULE_EDITABLE reaches the form; a POSTed func is not a form field.
        return [name for name in self.fields if name not in SCHEDULE_EDITABLE]

    def save_model(self, request: Any, obj: Schedule, form: Any, change: bool) -> None:
        schedule_update(
            schedule_id=obj.pk,
            actor=request.user,
            changes={name: form.cleaned_data[name] for name in SCHEDULE_EDITABLE if name in form.cleaned_data},
        )

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        pass

    def log_change(self, request: Any, obj: Any, message: Any) -> Any:
        return None  # the audit event is the record of the change

    @admin.action(description="Pause selected schedules", permissions=["change"])
    def pause(self, request: Any, queryset: Any) -> None:
        for schedule in queryset:
            schedule_update(schedule_id=schedule.pk, actor=request.user, changes={"repeats": 0}, reason="paused")
        self.message_user(request, f"{queryset.count()} schedule(s) paused.", messages.SUCCESS)

    @admin.action(description="Resume selected schedules", permissions=["change"])
    def resume(self, request: Any, queryset: Any) -> None:
        for schedule in queryset:
            repeats = 1 if schedule.schedule_type == Schedule.ONCE else -1
            schedule_update(schedule_id=schedule.pk, actor=request.user, changes={"repeats": repeats}, reason="resumed")
        self.message_user(request, f"{queryset.count()} schedule(s) resumed.", messages.SUCCESS)


def task_resubmit(*, task: Task, actor: Any) -> bool:
    """Queue a finished task again: registered tasks only, audited. False when refused."""
    require_perm(actor, RUN_TASKS_PERMISSION, "run background tasks again")
    if task.func not in registry.registered_tasks():
        return False
    audit.record(
        actor=actor,
        action="task.resubmitted",
        object_type="background task",
        object_id=str(task.pk)[:64],
        object_repr=(task.name or "")[:200],
        after={"func": task.func, "name": task.name},
    )
    async_task(task.func, *(task.args or ()), hook=task.hook, group=task.group, **(task.kwargs or {}))
    return True


class ResubmitMixin:
    actions = ["resubmit"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_resubmit_permission(self, request: Any) -> bool:
        return bool(request.user.has_perm(RUN_TASKS_PERMISSION))

    @admin.action(description="Run selected tasks again", permissions=["resubmit"])
    def resubmit(self, request: Any, queryset: Any) -> None:
        done, refused = [], []
        for task in queryset:
            if task_resubmit(task=task, actor=request.user):
                done.append(task)
                if isinstance(task, Failure):
                    # As django-q2 does: the failure is replaced by the new run's outcome.
                    task.delete()
            else:
                refused.append(task.func)
        if done:
            self.message_user(request, f"{len(done)} task(s) queued to run again.", messages.SUCCESS)  # type: ignore[attr-defined]
        if refused:
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"Not run again, not a registered Ledgerline task: {', '.join(sorted(set(refused)))}",
                messages.ERROR,
            )


class ReadableTaskMixin:
    """django-q2's task pages print Python values ("None", "{}", "(1,)"): here they read as words."""

    TASK_FIELDS = ("name", "func", "group_text", "started", "stopped", "attempt_count", "arguments", "outcome")

    def get_fields(self, request: Any, obj: Any = None) -> tuple[str, ...]:
        return self.TASK_FIELDS

    def get_readonly_fields(self, request: Any, obj: Any = None) -> tuple[str, ...]:
        return self.TASK_FIELDS

    @admin.display(description="group")
    def group_text(self, task: Task) -> str:
        return task.group or "(none)"

    @admin.display(description="arguments")
    def arguments(self, task: Task) -> str:
        return _arguments_text(task.args, task.kwargs)

    @admin.display(description="result")
    def outcome(self, task: Task) -> str:
        return value_text(task.result) if task.result is not None else "(no result)"

    @admin.display(description="result")
    def short_outcome(self, task: Task) -> str:
        text = self.outcome(task)
        return text if len(text) <= 100 else text[:99] + "…"


def _arguments_text(args: Any, kwargs: Any) -> str:
    parts = [value_text(arg) for arg in (args or ())]
    parts += [f"{name}: {value_text(value)}" for name, value in (kwargs or {}).items()]
    return ", ".join(parts) or "(none)"


class SuccessAdmin(ReadableTaskMixin, ResubmitMixin, q_admin.TaskAdmin):
    pass


class FailureAdmin(ReadableTaskMixin, ResubmitMixin, q_admin.FailAdmin):
    list_display = ("name", "group", "func", "cluster", "started", "stopped", "short_outcome")


class QueuedTaskAdmin(q_admin.QueueAdmin):
    """Tasks waiting in the ORM broker's queue, decoded, in words."""

    list_display = ("id", "key", "task_name", "task_func", "lock")
    fields = ("key", "lock", "task_id_text", "task_name", "task_group", "task_func", "arguments")
    readonly_fields = fields

    @admin.display(description="task")
    def task_id_text(self, queued: OrmQ) -> str:
        return str(queued.task_id() or "(unreadable)")

    @admin.display(description="name")
    def task_name(self, queued: OrmQ) -> str:
        return str(queued.name() or "(none)")

    @admin.display(description="group")
    def task_group(self, queued: OrmQ) -> str:
        return str(queued.group() or "(none)")

    @admin.display(description="function")
    def task_func(self, queued: OrmQ) -> str:
        return str(queued.func() or "(unreadable)")

    @admin.display(description="arguments")
    def arguments(self, queued: OrmQ) -> str:
        return _arguments_text(queued.args(), queued.kwargs())


# django-q2's admin module registers its own on import; ours replace them (core's admin
# imports this module, so django_q's registrations are made by then: imported here first).
for model, model_admin in (
    (Schedule, ScheduleAdmin),
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (OrmQ, QueuedTaskAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
