"""Payouts from a payee's Dots wallet to one of their payout methods (Dots `create-payout`).

A Payouts operator asks (payee, amount, which of the payee's payout methods Dots lists, why);
a Payer who did not ask approves with a fresh authenticator code, and it is sent at once. The
idempotency key and the exact body are stored before any call (core.keyed_send): a lost answer
is sent again with the same key and Dots answers with the first payout, never a second. During
an outage the send is queued and runs as the approving Payer when Dots answers. The sync follows
each payout to paid or failed (with Dots' reason); Dots' refusal (a wallet short of the amount,
a method Dots no longer has, a payee not verified) is kept on the record in its words.

The money comes from the payee's own wallet (`fund: false`): transfers to payees put it there.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from core import audit
from core.dots_gateway import client
from core.keyed_send import KeyedSend
from core.permissions import is_system_user, require_perm
from payouts import seam
from payouts.errors import InvalidPayee, PayeeNotInDots
from payouts.models import Payee, PayeePayout
from payouts.services import payees, second_payer

S = PayeePayout.Status
ASK = "payouts.add_payeepayout"
APPROVE = "payouts.approve_payeepayout"
MAX_CENTS = 1_000_000_00  # $1,000,000.00: a typo guard, not a Dots limit
KEYED = KeyedSend(PayeePayout, prefix="payee_payout")


def payout_method_options(*, payee_id: int, actor: User) -> list[dict]:
    """The payee's payout methods as Dots lists them now, to choose one from (id, platform, words)."""
    require_perm(actor, ASK, "ask for payouts from payees' wallets")
    methods = payees.read_payout_methods(Payee.objects.get(pk=payee_id))
    return [{**m, "words": f"{m['kind']}, {m['detail']}" if m["detail"] else m["kind"]} for m in methods if m["id"]]


def payout_request(*, actor: User, payee_id: int, amount_cents: int, payout_method: dict, reason: str) -> PayeePayout:
    """Store the request with its key and exact body; nothing reaches Dots until a Payer approves.

    `payout_method` is one of `payout_method_options(...)` (its id, platform and words).
    """
    require_perm(actor, ASK, "ask for payouts from payees' wallets")
    reason = second_payer.check_amount_and_reason(amount_cents, reason, max_cents=MAX_CENTS)
    method_id = str(payout_method.get("id") or "")
    platform = str(payout_method.get("platform") or "")
    if not method_id or not platform:
        raise InvalidPayee("Choose one of the payee's payout methods.", code="payout-method-required")
    with transaction.atomic():
        payee = Payee.objects.select_for_update().get(pk=payee_id)
        if not payee.dots_user_id:
            raise PayeeNotInDots(f"{payee} has no Dots user yet.")
        payout = PayeePayout(
            payee=payee,
            amount_cents=amount_cents,
            reason=reason,
            platform=platform,
            payout_method_id=method_id,
            payout_method_words=str(payout_method.get("words") or platform)[:200],
            requested_by=actor,
            status=S.AWAITING_APPROVAL,
        )
        payout.request_body = {
            "user_id": payee.dots_user_id,
            "amount": amount_cents,
            "platform": platform,
            "account_id": method_id,
            # From the payee's own wallet, not the app's.
            "fund": False,
            "idempotency_key": str(payout.idempotency_key),
        }
        payout.save()
        audit.record(
            actor=actor,
            action="payee_payout.requested",
            target=payout,
            after={
                "amount_cents": amount_cents,
                "payee": str(payee),
                "payout_method": payout.payout_method_words,
                "status": payout.status,
            },
            reason=payout.reason,
        )
    return payout


def _decide(*, actor: User, payout_id: int, to: str, note: str, action: str) -> PayeePayout:
    return second_payer.decide(
        PayeePayout,
        actor=actor,
        record_id=payout_id,
        to=to,
        note=note,
        action=action,
        perm=APPROVE,
        what="payouts from payees' wallets",
    )


def payout_approve(*, actor: User, payout_id: int, note: str = "") -> PayeePayout:
    """Approve and send at once. Dots' refusal or silence is kept on the record (and raised);
    during an outage the send is queued (ActionQueued) after the approval is recorded."""
    _decide(actor=actor, payout_id=payout_id, to=S.TO_SEND, note=note, action="payee_payout.approved")
    return payout_send(payout_id=payout_id, actor=actor)


def payout_reject(*, actor: User, payout_id: int, reason: str) -> PayeePayout:
    if not (reason or "").strip():
        raise InvalidPayee("Say why the payout is rejected.", code="reason-required")
    return _decide(actor=actor, payout_id=payout_id, to=S.REJECTED, note=reason.strip(), action="payee_payout.rejected")


def payout_send(*, payout_id: int, actor: User, from_queue: bool = False, queue: bool = True) -> PayeePayout:
    """Send the stored body with the stored key. Repeating it never makes a second payout."""
    if not is_system_user(actor):
        require_perm(actor, APPROVE, "send payouts from payees' wallets")
    payout = PayeePayout.objects.get(pk=payout_id)
    return KEYED.send(
        payout,
        actor=actor,
        call=lambda body: client().create_payout(**body),
        doing="pay out from the payee's wallet",
        queue_kind=seam.PAYEE_PAYOUT_SEND if queue and not from_queue else None,
    )


def payout_refresh(*, payout_id: int, actor: User, source: str = "sync") -> PayeePayout:
    """Follow one payout; one whose answer was lost is sent again with its own key (found, not made twice)."""
    return KEYED.refresh(
        payout_id,
        actor=actor,
        source=source,
        resend=lambda payout: payout_send(payout_id=payout.pk, actor=actor, queue=False),
        doing="read the payout from the payee's wallet",
    )
