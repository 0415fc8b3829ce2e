"""What every money move out of the payouts app shares before it reaches Dots: the operator's request is
checked (amount, reason), then a Payer who did not ask decides on it.

Transfers to payees, payouts from payees' wallets and payout batches each call these with their
own model, permission and words; the sending itself is core.keyed_send's.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from core import audit, roles
from core.errors import InvalidTransition, SegregationOfDutiesViolation
from core.money import format_cents
from core.permissions import is_system_user, require_perm
from payouts.errors import InvalidPayee

M = TypeVar("M", bound=models.Model)
AWAITING_APPROVAL = "awaiting_approval"  # the first status of every record decided here


def check_amount_and_reason(amount_cents: int, reason: str, *, max_cents: int) -> str:
    """Refuse an amount outside $0.01 .. max_cents or an empty reason; answers the reason, trimmed."""
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidPayee("The amount must be more than $0.00.", code="invalid-amount")
    if amount_cents > max_cents:
        raise InvalidPayee(f"The amount must be at most {format_cents(max_cents)}.", code="invalid-amount")
    if not (reason or "").strip():
        raise InvalidPayee("Say why the money is moved.", code="reason-required")
    return reason.strip()[:500]


def decide(model: type[M], *, actor: User, record_id: int, to: str, note: str, action: str, perm: str, what: str) -> M:
    """A Payer who did not ask moves the record from awaiting approval to `to` (compare-and-set: of two
    Payers deciding at once, one wins), audited as `action`. `what` names the records: "transfers to payees"."""
    require_perm(actor, perm, f"approve {what}")
    if not is_system_user(actor) and not roles.user_has_role(actor, roles.PAYER):
        raise SegregationOfDutiesViolation(f"Only a person with the Payer role approves {what}.")
    manager = model._default_manager
    with transaction.atomic():
        record: Any = manager.select_for_update().get(pk=record_id)
        if record.requested_by_id == actor.pk:
            raise SegregationOfDutiesViolation(f"You asked for {record}; another Payer must decide on it.")
        model.TRANSITIONS.ensure(record, to)  # type: ignore[attr-defined]
        won = (
            manager.filter(pk=record.pk, status=AWAITING_APPROVAL)
            .exclude(requested_by=actor)
            .update(status=to, decided_by=actor, decided_at=timezone.now(), decision_note=note[:500])
        )
        if won != 1:
            record.refresh_from_db()
            raise InvalidTransition(f"{record} was decided a moment ago: it is {record.get_status_display()}.")
        record.refresh_from_db()
        audit.record(
            actor=actor,
            action=action,
            target=record,
            before={"status": AWAITING_APPROVAL},
            after={"status": to, "decided_by": actor.get_username()},
            reason=note,
        )
    return record  # type: ignore[no-any-return]
