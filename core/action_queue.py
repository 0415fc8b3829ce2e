"""Actions waiting for Dots: queued while Dots is unreachable, run when it answers again.

Services that may wait call `queue_if_unreachable(...)` before calling Dots: during an
outage (core.dots_health) it stores a `QueuedDotsAction` and raises `ActionQueued`,
which the admin shows as good news ("Dots is unreachable since 14:02: your approval of
INV-104 is queued and will be sent when Dots answers"). Background pushes that fail
call `queue_retry(...)` so they are tried again with backoff.

`core.tasks.run_queued_dots_actions` (every minute) runs due actions oldest first, each
claimed with a compare-and-set (waiting -> running) so that two workers never run the
same one, and each run AS the user who asked: the service checks their permissions
and segregation of duties again, and a refusal fails the action with that reason.
Every state change of an action is audited (the user for queueing, system + task for
running and finishing).

The services run by the queue are safe to run twice (pay has its gate and read-back,
a payout link reuses its key), so an action left "running" by a dead worker is put
back to waiting after RUNNING_TIMEOUT.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core import audit, dots_health, registry
from core.errors import ActionQueued, AlreadyQueued, DomainError, DotsOutcomeUnknownError, DotsUnavailable
from core.models import AuditEvent, QueuedDotsAction
from core.permissions import require_perm

logger = logging.getLogger(__name__)
Status = QueuedDotsAction.Status

# Backoff after each failed attempt: 30 s, 1, 2, 4, 8, 16 min, then every 30 min.
BACKOFF_FIRST_SECONDS = 30
BACKOFF_CAP_SECONDS = 30 * 60
# Dots keeps an idempotency key 24 hours: a keyed call retried later could be made twice.
KEYED_RETRY_WINDOW = dt.timedelta(hours=23)
# A "running" action older than this was left by a worker that died mid-run.
RUNNING_TIMEOUT = dt.timedelta(minutes=10)
# At most this many actions per drain, so one run of the task stays short.
DRAIN_BATCH = 100


def backoff_seconds(failures: int) -> int:
    """Seconds to wait after the `failures`-th failed attempt (1-based): 30, 60, 120 ... capped at 1800."""
    if failures <= 0:
        return 0
    return min(BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** min(failures - 1, 16))


def _dedupe_key(kind: str, target: models.Model, actor: User) -> str:
    spec = registry.action_kind_for(kind)
    key = f"{kind}:{target._meta.label_lower}:{target.pk}"
    return f"{key}:user-{actor.pk}" if spec.per_actor else key


def active_action(*, kind: str, target: models.Model, actor: User) -> QueuedDotsAction | None:
    return QueuedDotsAction.objects.filter(
        dedupe_key=_dedupe_key(kind, target, actor), status__in=QueuedDotsAction.ACTIVE
    ).first()


def active_for(target: models.Model) -> models.QuerySet[QueuedDotsAction]:
    """The actions not yet finished for one record, oldest first (the record's page lists them)."""
    return QueuedDotsAction.objects.filter(
        target_type=target._meta.label_lower, target_id=str(target.pk), status__in=QueuedDotsAction.ACTIVE
    ).order_by("id")


def _already_queued_text(action: QueuedDotsAction, target: models.Model) -> str:
    spec = registry.action_kind_for(action.kind)
    if spec.noun == "payment":
        return f"{target}: a payment is already queued; it will be sent when Dots answers."
    return f"{target}: its {spec.noun} is already queued; it will be sent when Dots answers."


def _queue(
    *,
    kind: str,
    target: models.Model,
    actor: User,
    arguments: dict,
    next_attempt_at: dt.datetime,
    attempts: int = 0,
    first_attempt_at: dt.datetime | None = None,
    last_error: str = "",
    reason: str,
) -> QueuedDotsAction:
    """Store one action and audit it; AlreadyQueued when the same one is waiting."""
    spec = registry.action_kind_for(kind)
    if target._meta.label_lower != spec.target_model:
        raise ValueError(f"{kind} acts on {spec.target_model}, not {target._meta.label_lower}")
    give_up_at = (first_attempt_at or timezone.now()) + KEYED_RETRY_WINDOW if spec.keyed else None
    try:
        # A savepoint: on PostgreSQL a failed INSERT would otherwise spoil the caller's transaction.
        with transaction.atomic():
            action = QueuedDotsAction.objects.create(
                kind=kind,
                target_type=spec.target_model,
                target_id=str(target.pk),
                target_repr=str(target)[:200],
                actor=actor,
                arguments=arguments,
                dedupe_key=_dedupe_key(kind, target, actor),
                next_attempt_at=next_attempt_at,
                attempts=attempts,
                first_attempt_at=first_attempt_at,
                give_up_at=give_up_at,
                last_error=last_error[:2000],
            )
            audit.record(
                actor=actor,
                action="dots_action.queued",
                target=action,
                after={
                    "status": action.status,
                    "kind": kind,
                    "target": f"{spec.target_model}#{target.pk}",
                    "next_attempt_at": next_attempt_at,
                },
                reason=reason,
            )
    except IntegrityError:
        existing = active_action(kind=kind, target=target, actor=actor)
        raise AlreadyQueued(
            _already_queued_text(existing, target) if existing else f"{target}: this action is already queued."
        ) from None
    return action


def queue_if_unreachable(
    *, kind: str, target: models.Model, actor: User, arguments: dict | None = None, from_queue: bool = False
) -> None:
    """Call before a user's action calls Dots. Returns to go on; raises instead of calling Dots when

    - the same action is already queued for this record (AlreadyQueued: "a payment is already queued"), or
    - Dots is unreachable (ActionQueued, after storing the action to run when Dots answers).

    `from_queue=True` (the queue running the action) always returns.
    """
    if from_queue:
        return
    outage = dots_health.current_outage()
    existing = active_action(kind=kind, target=target, actor=actor)
    if existing is not None:
        if (
            outage is None
            and existing.status == Status.WAITING
            and registry.action_kind_for(kind).direct_replaces_waiting
        ):
            _replace_waiting(existing, actor=actor)
        else:
            raise AlreadyQueued(_already_queued_text(existing, target))
    if outage is None:
        return
    since = dots_health.unreachable_since_text(outage)
    action = _queue(
        kind=kind,
        target=target,
        actor=actor,
        arguments=arguments or {},
        next_attempt_at=timezone.now(),
        reason=f"{since}: queued instead of calling Dots",
    )
    noun = registry.action_kind_for(kind).noun
    raise ActionQueued(f"{since}: your {noun} of {target} is queued and will be sent when Dots answers.", action=action)


def _replace_waiting(action: QueuedDotsAction, *, actor: User) -> None:
    """A person sends it now: the waiting retry is cancelled (audited) so it cannot run as well."""
    with transaction.atomic():
        if QueuedDotsAction.objects.filter(pk=action.pk, status=Status.WAITING).update(
            status=Status.CANCELLED, finished_at=timezone.now()
        ):
            audit.record(
                actor=actor,
                action="dots_action.cancelled",
                target=action,
                before={"status": Status.WAITING},
                after={"status": Status.CANCELLED},
                reason=f"sent directly by {actor.get_username()} while Dots answers",
            )
            return
    noun = registry.action_kind_for(action.kind).noun
    raise AlreadyQueued(f"{action.target_repr}: its {noun} is being sent by the queue right now.")


def queue_retry(
    *,
    kind: str,
    target: models.Model,
    actor: User,
    error: str,
    arguments: dict | None = None,
    first_attempt_at: dt.datetime | None = None,
) -> QueuedDotsAction | None:
    """After a background push failed because Dots did not answer: try again later, with backoff.

    Returns None when a retry is already queued (nothing to add).
    """
    now = timezone.now()
    try:
        return _queue(
            kind=kind,
            target=target,
            actor=actor,
            arguments=arguments or {},
            attempts=1,
            first_attempt_at=first_attempt_at or now,
            last_error=error,
            next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(1)),
            reason=f"retry after: {error}"[:500],
        )
    except AlreadyQueued:
        return None


# --- running -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrainResult:
    probed: bool = False
    dots_up: bool = True
    reclaimed: int = 0
    done: int = 0
    failed: int = 0
    retrying: int = 0

    def __str__(self) -> str:
        if not self.dots_up:
            return "Dots still unreachable: nothing run."
        return f"{self.done} done, {self.failed} failed, {self.retrying} to retry" + (
            f", {self.reclaimed} reclaimed" if self.reclaimed else ""
        )


def _transition(action: QueuedDotsAction, *, to_status: str, audit_action: str, reason: str = "", **fields) -> bool:
    """Compare-and-set from the status we hold; audited as system (source task)."""
    before = action.status
    with transaction.atomic():
        moved = QueuedDotsAction.objects.filter(pk=action.pk, status=before).update(status=to_status, **fields)
        if not moved:
            return False
        action.status = to_status
        for name, value in fields.items():
            setattr(action, name, value)
        after = {"status": to_status, "attempts": action.attempts}
        if "next_attempt_at" in fields:
            after["next_attempt_at"] = fields["next_attempt_at"]
        audit.record(
            actor=audit.system_user(),
            action=audit_action,
            target=action,
            source=AuditEvent.Source.TASK,
            before={"status": before},
            after=after,
            reason=reason[:500],
        )
    return True


def reclaim_stale(*, now: dt.datetime | None = None) -> int:
    """Put back to waiting the actions a dead worker left running."""
    now = now or timezone.now()
    count = 0
    for action in QueuedDotsAction.objects.filter(status=Status.RUNNING, claimed_at__lt=now - RUNNING_TIMEOUT):
        if _transition(
            action,
            to_status=Status.WAITING,
            audit_action="dots_action.reclaimed",
            reason="left running by a worker that stopped",
            next_attempt_at=now,
            claimed_at=None,
        ):
            count += 1
    return count


def claim(action_id: int, *, now: dt.datetime | None = None) -> QueuedDotsAction | None:
    """waiting -> running, if still waiting and due. None when another worker took it (or it is not due)."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = QueuedDotsAction.objects.filter(pk=action_id, status=Status.WAITING, next_attempt_at__lte=now).update(
            status=Status.RUNNING, claimed_at=now, attempts=models.F("attempts") + 1
        )
        if not claimed:
            return None
        action = QueuedDotsAction.objects.select_related("actor").get(pk=action_id)
        if action.first_attempt_at is None:
            QueuedDotsAction.objects.filter(pk=action_id).update(first_attempt_at=now)
            action.first_attempt_at = now
        audit.record(
            actor=audit.system_user(),
            action="dots_action.started",
            target=action,
            source=AuditEvent.Source.TASK,
            before={"status": Status.WAITING},
            after={"status": Status.RUNNING, "attempts": action.attempts},
        )
    return action


def _service(spec: registry.ActionKind) -> Callable[..., object]:
    return import_string(spec.service)


def run(action: QueuedDotsAction) -> str:
    """Run one claimed action as its user; record how it ended. Answers its new status."""
    spec = registry.action_kind_for(action.kind)
    # The user as they are now: a deactivated account or a removed role refuses at run time,
    # here (the permission the kind declares) and again in the service itself.
    actor = get_user_model().objects.get(pk=action.actor_id)
    service = _service(spec)
    now = timezone.now()
    try:
        require_perm(actor, spec.permission, spec.doing)
        service(**{spec.target_arg: int(action.target_id)}, actor=actor, from_queue=True, **action.arguments)
    except DotsOutcomeUnknownError as exc:
        if spec.again_after_unknown:
            return _retry_later(action, error=str(exc), now=now)
        _transition(
            action,
            to_status=Status.DONE,
            audit_action="dots_action.done",
            finished_at=now,
            last_error=str(exc)[:2000],
            reason=f"sent; Dots' answer was lost, the record is being checked with Dots: {exc}",
        )
        return Status.DONE
    except DotsUnavailable as exc:
        return _retry_later(action, error=str(exc), now=now)
    except DomainError as exc:
        # Refused (by Dots or by our own checks, re-run for this user now): it will not get better by waiting.
        _transition(
            action,
            to_status=Status.FAILED,
            audit_action="dots_action.failed",
            finished_at=now,
            last_error=str(exc)[:2000],
            reason=str(exc),
        )
        return Status.FAILED
    except Exception as exc:  # a bug: fail this one visibly, keep the queue moving
        logger.exception("queued Dots action #%s (%s) crashed", action.pk, action.kind)
        message = f"Internal error while running it ({exc.__class__.__name__}); see the logs."
        _transition(
            action,
            to_status=Status.FAILED,
            audit_action="dots_action.failed",
            finished_at=now,
            last_error=message,
            reason=message,
        )
        return Status.FAILED
    _transition(
        action, to_status=Status.DONE, audit_action="dots_action.done", finished_at=timezone.now(), last_error=""
    )
    return Status.DONE


def _retry_later(action: QueuedDotsAction, *, error: str, now: dt.datetime) -> str:
    if action.give_up_at is not None and now >= action.give_up_at:
        message = (
            f"Stopped retrying: Dots keeps its idempotency key only 24 hours, so sending again now could "
            f"act twice. Reconciliation will settle the record. Last error: {error}"
        )
        _transition(
            action,
            to_status=Status.FAILED,
            audit_action="dots_action.failed",
            finished_at=now,
            last_error=message[:2000],
            reason=message,
        )
        return Status.FAILED
    next_at = now + dt.timedelta(seconds=backoff_seconds(action.attempts))
    _transition(
        action,
        to_status=Status.WAITING,
        audit_action="dots_action.retry_scheduled",
        next_attempt_at=next_at,
        claimed_at=None,
        last_error=error[:2000],
        reason=error,
    )
    return Status.WAITING


def drain(*, limit: int = DRAIN_BATCH) -> DrainResult:
    """Run due actions, oldest first, if Dots answers. Stops at the first one Dots does not answer."""
    reclaimed = reclaim_stale()
    probed = False
    if dots_health.read(fresh=True).in_outage:
        probed = True
        if not dots_health.probe():
            return DrainResult(probed=True, dots_up=False, reclaimed=reclaimed)
    done = failed = retrying = 0
    now = timezone.now()
    due = list(
        QueuedDotsAction.objects.filter(status=Status.WAITING, next_attempt_at__lte=now)
        .order_by("created_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    for action_id in due:
        action = claim(action_id)
        if action is None:
            continue  # another worker has it
        outcome = run(action)
        if outcome == Status.DONE:
            done += 1
        elif outcome == Status.FAILED:
            failed += 1
        else:
            retrying += 1
            break  # Dots stopped answering: the rest wait for the next run
    return DrainResult(probed=probed, dots_up=True, reclaimed=reclaimed, done=done, failed=failed, retrying=retrying)


def cancel(*, action_id: int, actor: User, reason: str) -> QueuedDotsAction:
    """An Administrator cancels a waiting action (with a reason); a running one has already gone."""
    from core.errors import InvalidTransition, PermissionRefused

    reason = (reason or "").strip()
    if not actor.has_perm("core.cancel_queueddotsaction"):
        raise PermissionRefused("Your role does not allow you to cancel queued Dots actions.")
    if not reason:
        raise DomainError("Say why the queued action is cancelled.", code="reason-required")
    with transaction.atomic():
        action = QueuedDotsAction.objects.get(pk=action_id)
        if action.status != Status.WAITING:
            raise InvalidTransition(
                f"{action} is {action.get_status_display().lower()}: only a waiting action can be cancelled."
            )
        moved = QueuedDotsAction.objects.filter(pk=action_id, status=Status.WAITING).update(
            status=Status.CANCELLED, finished_at=timezone.now()
        )
        if not moved:
            raise InvalidTransition(f"{action} has just started running: it can no longer be cancelled.")
        action.refresh_from_db()
        audit.record(
            actor=actor,
            action="dots_action.cancelled",
            target=action,
            before={"status": Status.WAITING},
            after={"status": Status.CANCELLED},
            reason=reason,
        )
    return action
