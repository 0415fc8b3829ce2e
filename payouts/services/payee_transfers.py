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

from core import audit
from core.dots_gateway import client
from core.keyed_send import KeyedSend
from core.permissions import is_system_user, require_perm
from dots.types import Transfer as DotsTransfer
from payouts import seam, tax
from payouts.errors import InvalidPayee, PayeeNotInDots
from payouts.models import Payee, PayeeTransfer
from payouts.services import second_payer

S = PayeeTransfer.Status
ASK = "payouts.add_payeetransfer"
APPROVE = "payouts.approve_payeetransfer"
MAX_CENTS = 1_000_000_00  # $1,000,000.00: a typo guard, not a Dots limit
KEYED = KeyedSend(PayeeTransfer, prefix="payee_transfer")


def transfer_request(*, actor: User, payee_id: int, amount_cents: int, reason: str) -> PayeeTransfer:
    """Store the request with its key and exact body; nothing reaches Dots until a Payer approves."""
    require_perm(actor, ASK, "ask for transfers to payees")
    reason = second_payer.check_amount_and_reason(amount_cents, reason, max_cents=MAX_CENTS)
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        if not payee.dots_user_id:
            raise PayeeNotInDots(f"{payee} has no Dots user yet.")
        tax.refuse_unless_1099_ready(payee, amount_cents)
        transfer = PayeeTransfer(
            payee=payee,
            amount_cents=amount_cents,
            reason=reason,
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
    return second_payer.decide(
        PayeeTransfer,
        actor=actor,
        record_id=transfer_id,
        to=to,
        note=note,
        action=action,
        perm=APPROVE,
        what="transfers to payees",
    )


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


def transfer_read(transfer: PayeeTransfer) -> DotsTransfer | None:
    """The sync's read of one transfer still moving (in a pool thread: Dots only); None: one to
    send again or leave, done by `transfer_refresh` on the sync's thread."""
    if not transfer.dots_transfer_id or transfer.status not in PayeeTransfer.TRANSITIONS.followed():
        return None
    return client().retrieve_transfer(transfer_id=transfer.dots_transfer_id)


def transfer_adopt(*, transfer_id: int, answer: DotsTransfer, actor: User, source: str = "sync") -> PayeeTransfer:
    return KEYED.adopt(transfer_id, answer, actor, action="payee_transfer.status_changed", source=source)
