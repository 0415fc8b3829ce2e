"""What every money-in create shares: send once with our key in Dots' metadata, record a lost or refused answer.

Dots takes no idempotency key for payment customers, intents, checkout sessions or payments, so
the record's own key (stored before the call) travels in the object's metadata; after a lost
answer the record is "outcome unknown" and the next attempt looks in Dots for the object carrying
the key before it creates anything (core.send_once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from core import action_queue, audit
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.models import AuditEvent
from core.send_once import create_once, find_in_dots
from receivables.models import KEY

LOCAL_ONLY = ("pending", "unknown", "refused")


def carries_key(obj: Any, key: str) -> bool:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else getattr(obj, "metadata", None)
    return isinstance(metadata, dict) and metadata.get(KEY) == key


def find_by_key(listing: Callable[[], Iterable[Any]], key: str, what: str) -> Any:
    return find_in_dots(listing, matches=lambda found: carries_key(found, key), what=what)


def send_create(
    record: models.Model,
    *,
    actor: User,
    create: Callable[[], Any],
    listing: Callable[[], Iterable[Any]],
    what: str,
    audit_prefix: str,
    source: str = AuditEvent.Source.ADMIN,
    kind: str = "",
    from_queue: bool = False,
) -> Any:
    """Create `record` in Dots at most once and answer Dots' object; a failure is recorded, then raised.

    A lost answer makes the record "unknown" (found by its key next time), a refusal "refused"
    (sent again only by a person), an unreachable Dots leaves it "pending" with the error shown.
    With a queued action `kind`: during an outage the send is queued as `actor` (ActionQueued), and
    a send Dots did not answer is retried by the queue (which looks for the key first).
    """
    model = type(record)
    key = str(record.idempotency_key)  # type: ignore[attr-defined]
    if kind:
        action_queue.queue_if_unreachable(kind=kind, target=record, actor=actor, from_queue=from_queue)
    try:
        found, _ = create_once(
            create=create,
            find=lambda: find_by_key(listing, key, f"the {model._meta.verbose_name}"),
            what=what,
            look_first=record.status == "unknown",  # type: ignore[attr-defined]
            look_after_lost_answer=True,
        )
    except (DotsOutcomeUnknownError, DotsUnavailable, DotsRejected) as exc:
        status = {DotsOutcomeUnknownError: "unknown", DotsRejected: "refused"}.get(type(exc))
        if _after_lost_answer(exc):
            status = "unknown"  # the create's answer was lost and the look-up after it failed too
        with transaction.atomic():
            locked = model.objects.select_for_update().get(pk=record.pk)  # type: ignore[attr-defined]
            before = locked.status
            new = status or before
            if new != before:
                model.TRANSITIONS.ensure(locked, new)  # type: ignore[attr-defined]
            model.objects.filter(pk=record.pk).update(  # type: ignore[attr-defined]
                status=new, last_dots_error=str(exc)[:2000], last_dots_attempt_at=timezone.now()
            )
            if new != before:
                audit.record(
                    actor=actor,
                    action=f"{audit_prefix}.{'outcome_unknown' if new == 'unknown' else 'refused'}",
                    target=locked,
                    source=source,
                    before={"status": before},
                    after={"status": new},
                    reason=str(exc)[:500],
                )
        if kind and not from_queue and status != "refused":
            action_queue.queue_retry(kind=kind, target=record, actor=actor, error=str(exc))
        raise
    return found


def _after_lost_answer(exc: BaseException) -> bool:
    seen = exc.__context__
    while seen is not None:
        if isinstance(seen, DotsOutcomeUnknownError):
            return True
        seen = seen.__context__
    return False


def may_move(model: type[models.Model], before: str, after: str) -> bool:
    """Whether Dots' status `after` may be taken over `before`: from a local-only status any Dots status may."""
    if before == after or before in LOCAL_ONLY:
        return True
    return model.TRANSITIONS.dots_may_move(before, after)  # type: ignore[attr-defined]
