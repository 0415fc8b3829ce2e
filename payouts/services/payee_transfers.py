"""Transfers from the app wallet to a payee's wallet: asked for, approved by a second person, sent once.

A Payouts operator asks (amount and reason); a Payer who did not ask approves, and it is sent at
once. The idempotency key and the exact body are stored with the request before any call: every
send resends both, and Dots answers a repeated key with the first transfer, so a lost answer
never makes two. One still without an answer stays "Sent to Dots, no answer yet" and the sync
sends it again with the same key, which finds the transfer the first call made.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit, roles
from core.dots_gateway import client
from core.errors import InvalidTransition, SegregationOfDutiesViolation
from core.keyed_send import KeyedSend
from core.money import format_cents
from core.permissions import is_system_user, require_perm
from payouts import seam
from payouts.errors import InvalidPayee, PayeeNotInDots
from payouts.models import Payee, PayeeTransfer

S = PayeeTransfer.Status
ASK = "payouts.add_payeetransfer"
APPROVE = "payouts.approve_payeetransfer"
MAX_CENTS = 1_000_000_00  # $1,000,000.00: a typo guard, not a Dots limit
KEYED = KeyedSend(PayeeTransfer, prefix="payee_transfer")


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
    _decide(actor=actor, transfer_id=transfer_id, to=S.TO_SEND, note=note, action="payee_transfer.approved")
    return transfer_send(transfer_id=transfer_id, actor=actor)


def transfer_reject(*, actor: User, transfer_id: int, reason: str) -> PayeeTransfer:
    if not (reason or "").strip():
        raise InvalidPayee("Say why the transfer is rejected.", code="reason-required")
    return _decide(
        actor=actor, transfer_id=transfer_id, to=S.REJECTED, note=reason.strip(), action="payee_transfer.rejected"
    )


def transfer_send(*, transfer_id: int, actor: User, from_queue: bool = False, queue: bool = True) -> PayeeTransfer:
    """Send the stored body with the stored key. Repeating it never makes a second transfer.

    While Dots is unreachable it is queued (ActionQueued) and sent, as the Payer who approved
    it, when Dots answers; when Dots does not answer, a retry is queued (it stops 23 hours
    after the first send, before Dots forgets the key).
    """
    if not is_system_user(actor):
        require_perm(actor, APPROVE, "send transfers to payees")
    transfer = PayeeTransfer.objects.get(pk=transfer_id)
    return KEYED.send(
        transfer,
        actor=actor,
        call=lambda body: client().create_transfer(**body),
        doing="move money to the payee's wallet",
        queue_kind=seam.PAYEE_TRANSFER_SEND if queue and not from_queue else None,
    )


def transfer_refresh(*, transfer_id: int, actor: User, source: str = "sync") -> PayeeTransfer:
    """Follow one transfer; one whose answer was lost is sent again with its own key (found, not made twice)."""
    return KEYED.refresh(
        transfer_id,
        actor=actor,
        source=source,
        resend=lambda transfer: transfer_send(transfer_id=transfer.pk, actor=actor, queue=False),
        doing="read the transfer to the payee",
    )
