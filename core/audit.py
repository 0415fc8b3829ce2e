"""Writing and verifying the append-only audit trail.

`record(...)` (one event) and `record_many(...)` (many events of one task, written together) are the
only ways events are written. Call them inside the transaction of the change they record: if the
change rolls back, so do its events.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, User
from django.db import models, transaction
from django.utils import timezone

from core import request_context
from core.audit_actions import all_actions
from core.models import GENESIS_HASH, AuditChainHead, AuditEvent
from dots.redact import redact

SYSTEM_USERNAME = "system"
SYSTEM_LABEL = "system"

# Fields that enter an event's hash, in a fixed order. Changing this list breaks
# verification of every event written before: add a new hash version instead.
HASHED_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_label",
    "source",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "reason",
    "ip_address",
    "request_id",
)


def system_user() -> User:
    """The named account that tasks, webhooks and sync act as (created by migration)."""
    User = get_user_model()
    user, _ = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"is_active": False, "first_name": "System", "password": "!"},
    )
    return user


def actor_label_for(user: AbstractBaseUser | AnonymousUser | None) -> str:
    if user is None:
        return "anonymous"
    if user.get_username() == SYSTEM_USERNAME:
        return SYSTEM_LABEL
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return f"{user.get_username()} ({full_name})" if full_name else user.get_username()


def object_type_of(obj: models.Model) -> str:
    return obj._meta.label_lower


def jsonable(value: Any) -> Any:
    """Turn a field value into the JSON form that is stored and hashed."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        # Money is integer cents; a float here is a bug upstream, keep it visible.
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{"field": {"before": b, "after": a}} for the fields whose value differs."""
    before = before or {}
    after = after or {}
    changes = {}
    for field in list(before) + [k for k in after if k not in before]:
        b, a = jsonable(before.get(field)), jsonable(after.get(field))
        if b != a:
            changes[field] = {"before": b, "after": a}
    return changes


def _mask_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    # Mask each side under its own field name, so "account_number" is recognised
    # whatever shape the before/after values have.
    masked = {}
    for field, change in changes.items():
        if isinstance(change, Mapping) and set(change) <= {"before", "after"}:
            masked[field] = {side: redact({field: value})[field] for side, value in change.items()}
        else:
            masked[field] = redact({field: change})[field]
    return masked


def compute_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    payload = {name: content[name] for name in HASHED_FIELDS}
    payload["prev_hash"] = prev_hash
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _content_of(event: AuditEvent) -> dict[str, Any]:
    return {
        "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "source": event.source,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "changes": event.changes,
        "reason": event.reason,
        "ip_address": event.ip_address,
        "request_id": event.request_id,
    }


def _lock_head() -> AuditChainHead:
    # The head row serialises writers: the second worker waits here until the first
    # commits, then links to the first worker's event.
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditChainHead.objects.get_or_create(pk=1)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


@dataclass(frozen=True)
class Entry:
    """One event of a `record_many` batch: the arguments `record` takes, but the actor and source."""

    action: str
    target: models.Model | None = None
    object_type: str = ""
    object_id: str | int = ""
    object_repr: str = ""
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    changes: Mapping[str, Any] | None = None
    reason: str = ""


def _unsaved_event(entry: Entry, *, actor: User, actor_label: str, source: str, occurred_at: dt.datetime) -> AuditEvent:
    """The event for `entry`, checked and masked, not yet linked into the chain."""
    if entry.action not in all_actions():
        raise ValueError(f"Unknown audit action {entry.action!r}: add it to its app's audit_actions.ACTIONS.")
    object_type, object_id, object_repr = entry.object_type, entry.object_id, entry.object_repr
    if entry.target is not None:
        object_type = object_type or object_type_of(entry.target)
        object_id = object_id or entry.target.pk
        object_repr = object_repr or str(entry.target)
    changes = diff(entry.before, entry.after) if entry.changes is None else entry.changes
    context = request_context.current()
    return AuditEvent(
        occurred_at=occurred_at,
        actor=actor,
        actor_label=actor_label,
        source=source,
        action=entry.action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=str(object_repr)[:200],
        changes=_mask_changes(jsonable(changes)),
        reason=entry.reason,
        ip_address=context.ip_address,
        request_id=context.request_id,
    )


def record(
    *,
    actor: User,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    reason: str = "",
    source: str = AuditEvent.Source.ADMIN,
) -> AuditEvent:
    """Append one event. `actor` is required: pass `system_user()` for tasks.

    Give either `before`/`after` (whole snapshots; only differing fields are kept)
    or a ready `changes` mapping. Secrets and account numbers are masked here, so a
    caller cannot forget to.
    """
    entry = Entry(
        action=action,
        target=target,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        before=before,
        after=after,
        changes=changes,
        reason=reason,
    )
    now = timezone.now()
    event = _unsaved_event(entry, actor=actor, actor_label=actor_label_for(actor), source=source, occurred_at=now)
    with transaction.atomic():
        head = _lock_head()
        event.prev_hash = head.last_hash
        event.hash = compute_hash(_content_of(event), event.prev_hash)
        event.save()
        head.last_event_id = event.pk
        head.last_hash = event.hash
        head.save(update_fields=["last_event_id", "last_hash"])
    return event


def record_many(*, actor: User, entries: Sequence[Entry], source: str = AuditEvent.Source.ADMIN) -> list[AuditEvent]:
    """Append one event per entry, in order, as `record` would one by one, but in one write.

    For a task recording many outcomes at once (the payee import creates hundreds of payees a
    second): the chain head is locked once and the events are inserted together, so writing them
    does not cost one lock, one insert and one head update each. Each entry is still its own event,
    on its own object, linked into the chain exactly as `record` links one: verify_chain cannot tell
    them apart, and each object's timeline finds its event.
    """
    if not entries:
        return []
    label = actor_label_for(actor)
    now = timezone.now()
    events = [
        _unsaved_event(entry, actor=actor, actor_label=label, source=source, occurred_at=now) for entry in entries
    ]
    for event in events:
        event.search_key = event.object_repr.upper()  # what AuditEvent.save sets; bulk_create does not call it
    with transaction.atomic():
        head = _lock_head()
        last_hash = build_chain(events, prev_hash=head.last_hash)
        AuditEvent.objects.bulk_create(events)
        ids = [event.pk for event in events]
        # The verifier walks the chain in id order: the ids must follow the order the events were linked in.
        if None in ids or ids != sorted(ids) or len(set(ids)) != len(ids):
            raise RuntimeError("audit events inserted together did not get increasing ids; nothing was written")
        head.last_event_id = ids[-1]
        head.last_hash = last_hash
        head.save(update_fields=["last_event_id", "last_hash"])
    return events


def build_chain(events: Iterable[AuditEvent], *, prev_hash: str) -> str:
    """Fill prev_hash/hash on unsaved events in order (bulk loads, benchmarks).

    Returns the last hash; the caller saves the events and moves the head.
    """
    for event in events:
        event.prev_hash = prev_hash
        event.hash = compute_hash(_content_of(event), prev_hash)
        prev_hash = event.hash
    return prev_hash


@dataclass(frozen=True)
class ChainProblem:
    event_id: int | None
    kind: str  # "altered", "removed", "head-mismatch"
    message: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(*, chunk_size: int = 5000) -> ChainReport:
    """Walk every event in order and report the first one altered or removed."""
    prev_hash = GENESIS_HASH
    prev_id: int | None = None
    checked = 0
    events = AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)
    for event in events:
        checked += 1
        recomputed = compute_hash(_content_of(event), event.prev_hash)
        if recomputed != event.hash:
            return ChainReport(
                checked,
                ChainProblem(
                    event.pk,
                    "altered",
                    f"Event #{event.pk} ({event.action} on {event.object_repr or event.object_type}) "
                    f"was altered: its content no longer matches its hash.",
                ),
            )
        if event.prev_hash != prev_hash:
            # Ids are not contiguous after a rolled-back write, so a gap alone is no
            # proof; a gap together with a broken link is.
            if prev_id is not None and event.pk != prev_id + 1:
                message = (
                    f"Event #{event.pk} does not link to event #{prev_id}: "
                    f"an event between #{prev_id} and #{event.pk} was removed."
                )
                kind = "removed"
            elif prev_id is None:
                message = (
                    f"Event #{event.pk} is the first left but does not start the chain: earlier events were removed."
                )
                kind = "removed"
            else:
                message = (
                    f"Event #{prev_id} was altered and its hash rewritten: event #{event.pk} no longer links to it."
                )
                kind = "altered"
                return ChainReport(checked, ChainProblem(prev_id, kind, message))
            return ChainReport(checked, ChainProblem(event.pk, kind, message))
        prev_hash = event.hash
        prev_id = event.pk
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.last_event_id is not None:
        if head.last_event_id != prev_id or head.last_hash != prev_hash:
            return ChainReport(
                checked,
                ChainProblem(
                    head.last_event_id,
                    "removed",
                    f"The newest event should be #{head.last_event_id} but the log ends at "
                    f"#{prev_id}: the newest events were removed.",
                ),
            )
    return ChainReport(checked, None)
