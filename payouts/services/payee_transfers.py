"""Transfers from the app wallet to a payee's wallet: asked for, approved by a second person, sent once.

A Payouts operator asks (amount and reason); a Payer who did not ask approves, and it is sent at
once. The idempotency key and the exact body are stored with the request before any call: every
send resends both, and Dots answers a repeated key with the first transfer, so a lost answer
never makes two. One still without an answer stays "Sent to Dots, no answer yet" and the sync
sends it again with the same key, which finds the transfer the first call made.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit, roles
from core.dots_gateway import client, dots_call
from core.errors import (
    DotsOutcomeUnknownError,
    DotsRejected,
    DotsUnavailable,
    InvalidTransition,
    SegregationOfDutiesViolation,
)
from core.money import format_cents
from core.permissions import is_system_user, require_perm
from core.transitions import DOTS
from dots.types import Transfer as DotsTransfer
from payouts import tax
from payouts.errors import InvalidPayee, PayeeNotInDots
from payouts.models import Payee, PayeeTransfer

S = PayeeTransfer.Status
ASK = "payouts.add_payeetransfer"
APPROVE = "payouts.approve_payeetransfer"
MAX_CENTS = 1_000_000_00  # $1,000,000.00: a typo guard, not a Dots limit
KEY_LIFETIME = dt.timedelta(hours=23)  # Dots keeps an idempotency key 24 hours


def transfer_request(*, actor: User, payee_id: int, amount_cents: int, reason: str) -> PayeeTransfer:
    """Store the request with its key and exact body; nothing reaches Dots until a Payer approves."""
    require_perm(actor, ASK, "ask for transfers to payees")
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidPayee("The amount must be more than $0.00.", code="invalid-amount")
    if amount_cents > MAX_CENTS:
        raise InvalidPayee(f"The amount must be at most {format_cents(MAX_CENTS)}.", code="invalid-amount")
    if not (reason or "").strip():
        raise InvalidPayee("Say why the money is moved.", code="reason-required")
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        if not payee.dots_user_id:
            raise PayeeNotInDots(f"{payee} has no Dots user yet.")
        tax.refuse_unless_1099_ready(payee, amount_cents)
        transfer = PayeeTransfer(
            payee=payee,
            amount_cents=amount_cents,
            reason=reason.strip()[:500],
            requested_by=actor,
            status=S.AWAITING_APPROVAL,
        )
        transfer.request_body = {
            "amount": amount_cents,
            "user_id": payee.dots_user_id,
            "idempotency_key": str(transfer.idempotency_key),
        }
        transfer.save()
        audit.record(
            actor=actor,
            action="payee_transfer.requested",
            target=transfer,
            after={"amount_cents": amount_cents, "payee": str(payee), "status": transfer.status},
            reason=transfer.reason,
        )
    return transfer


def _decide(*, actor: User, transfer_id: int, to: str, note: str, action: str) -> PayeeTransfer:
    require_perm(actor, APPROVE, "approve transfers to payees")
    if not is_system_user(actor) and not roles.user_has_role(actor, roles.PAYER):
        raise SegregationOfDutiesViolation("Only a person with the Payer role approves transfers to payees.")
    with transaction.atomic():
        transfer = PayeeTransfer.objects.select_for_update().get(pk=transfer_id)
        if transfer.requested_by_id == actor.pk:
            raise SegregationOfDutiesViolation(f"You asked for {transfer}; another Payer must decide on it.")
        PayeeTransfer.TRANSITIONS.ensure(transfer, to)
        won = (
            PayeeTransfer.objects.filter(pk=transfer.pk, status=S.AWAITING_APPROVAL)
            .exclude(requested_by=actor)
            .update(status=to, decided_by=actor, decided_at=timezone.now(), decision_note=note[:500])
        )
        if won != 1:
            transfer.refresh_from_db()
            raise InvalidTransition(f"{transfer} was decided a moment ago: it is {transfer.get_status_display()}.")
        transfer.refresh_from_db()
        audit.record(
            actor=actor,
            action=action,
            target=transfer,
            before={"status": S.AWAITING_APPROVAL},
            after={"status": to, "decided_by": actor.get_username()},
            reason=note,
        )
    return transfer


def transfer_approve(*, actor: User, transfer_id: int, note: str = "") -> PayeeTransfer:
    """Approve and send at once. Dots' refusal or silence is kept on the record (and raised)."""
    pending = PayeeTransfer.objects.select_related("payee").get(pk=transfer_id)
    tax.refuse_unless_1099_ready(pending.payee, pending.amount_cents)  # the TIN may have changed since the ask
    _decide(actor=actor, transfer_id=transfer_id, to=S.TO_SEND, note=note, action="payee_transfer.approved")
    return transfer_send(transfer_id=transfer_id, actor=actor)


def transfer_reject(*, actor: User, transfer_id: int, reason: str) -> PayeeTransfer:
    if not (reason or "").strip():
        raise InvalidPayee("Say why the transfer is rejected.", code="reason-required")
    return _decide(
        actor=actor, transfer_id=transfer_id, to=S.REJECTED, note=reason.strip(), action="payee_transfer.rejected"
    )


def transfer_send(*, transfer_id: int, actor: User) -> PayeeTransfer:
    """Send the stored body with the stored key. Repeating it never makes a second transfer."""
    if not is_system_user(actor):
        require_perm(actor, APPROVE, "send transfers to payees")
    transfer = PayeeTransfer.objects.get(pk=transfer_id)
    if transfer.status not in (S.TO_SEND, S.UNKNOWN):
        return transfer
    if transfer.sent_at is not None and timezone.now() - transfer.sent_at > KEY_LIFETIME:
        PayeeTransfer.objects.filter(pk=transfer.pk).update(
            last_dots_error="First sent over 23 hours ago and Dots never answered: it may have forgotten the key, "
            "so it is not sent again. Look for it among Dots' transfers before asking again."
        )
        return transfer
    PayeeTransfer.objects.filter(pk=transfer.pk, sent_at__isnull=True).update(sent_at=timezone.now())
    try:
        with dots_call("move money to the payee's wallet"):
            created = client().create_transfer(**transfer.request_body)
    except DotsOutcomeUnknownError as exc:
        _failed(transfer, S.UNKNOWN, str(exc), actor, action="payee_transfer.outcome_unknown")
        raise
    except DotsUnavailable as exc:
        _failed(transfer, transfer.status, str(exc), actor)
        raise
    except DotsRejected as exc:
        _failed(transfer, S.REFUSED, str(exc), actor, action="payee_transfer.refused")
        raise
    return _adopt(transfer.pk, created, actor, action="payee_transfer.sent", source="admin")


def _failed(transfer: PayeeTransfer, status: str, message: str, actor: User, action: str | None = None) -> None:
    with transaction.atomic():
        before = transfer.status
        may_move_from = [src for src, targets in PayeeTransfer.TRANSITIONS.ours.items() if status in targets]
        if not PayeeTransfer.objects.filter(
            pk=transfer.pk, dots_transfer_id__isnull=True, status__in=[status, *may_move_from]
        ).update(status=status, last_dots_error=message[:2000], last_dots_attempt_at=timezone.now()):
            return
        transfer.refresh_from_db()
        if action or status != before:
            audit.record(
                actor=actor,
                action=action or "payee_transfer.refused",
                target=transfer,
                before={"status": before},
                after={"status": status},
                reason=message[:500],
            )


def _adopt(transfer_id: int, dots: DotsTransfer, actor: User, *, action: str, source: str) -> PayeeTransfer:
    """Take Dots' status (and reason); a move Dots should not make is kept out and noted."""
    now = timezone.now()
    with transaction.atomic():
        transfer = PayeeTransfer.objects.select_for_update().get(pk=transfer_id)
        before = transfer.status
        status = dots.status or transfer.status
        if status != before and status in S.values:
            try:
                PayeeTransfer.TRANSITIONS.ensure(transfer, status, by=DOTS)
            except InvalidTransition as exc:
                transfer.last_dots_error = f"Not taken from Dots: {exc}"[:2000]
                transfer.last_dots_attempt_at = now
                transfer.save(update_fields=["last_dots_error", "last_dots_attempt_at", "updated_at"])
                return transfer
        transfer.dots_transfer_id = dots.id or transfer.dots_transfer_id
        transfer.status = status
        if status == S.FAILED:
            transfer.failure_reason = str(dots.raw.get("failure_reason") or "")[:500]
        transfer.last_dots_error = ""
        transfer.last_dots_attempt_at = now
        transfer.save()
        if status != before or action == "payee_transfer.sent":
            audit.record(
                actor=actor,
                action=action,
                target=transfer,
                source=source,
                before={"status": before},
                after={"status": status, "dots_transfer_id": transfer.dots_transfer_id},
                reason=transfer.failure_reason if status == S.FAILED else "",
            )
    return transfer


def transfer_refresh(*, transfer_id: int, actor: User, source: str = "sync") -> PayeeTransfer:
    """Follow one transfer; one whose answer was lost is sent again with its own key (found, not made twice)."""
    transfer = PayeeTransfer.objects.get(pk=transfer_id)
    if not transfer.dots_transfer_id:
        if transfer.status == S.UNKNOWN or (transfer.status == S.TO_SEND and _stale(transfer)):
            return transfer_send(transfer_id=transfer.pk, actor=actor)
        return transfer
    if transfer.status not in (S.CREATED, S.PENDING):
        return transfer
    with dots_call("read the transfer to the payee"):
        dots_transfer = client().retrieve_transfer(transfer_id=transfer.dots_transfer_id)
    return _adopt(transfer.pk, dots_transfer, actor, action="payee_transfer.status_changed", source=source)


def _stale(transfer: PayeeTransfer) -> bool:
    """Approved but not sent for a while: Dots was unreachable, or the request died before the call."""
    started = transfer.sent_at or transfer.decided_at or transfer.created_at
    return timezone.now() - started > dt.timedelta(seconds=settings.PAY_REQUEST_STALE_SECONDS)
