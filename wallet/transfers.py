"""Deposits into the app wallet and withdrawals from it: asked for, approved, sent once, followed.

A Payer asks; above WALLET_SECOND_APPROVAL_CENTS a second Payer (never the one who asked,
superusers included) approves before anything reaches Dots. The idempotency key and the
exact body are stored with the request, before any call: every send resends both, and Dots
answers a repeated key with the first transfer, so a lost answer or a worker killed mid-call
never makes two. A transfer nobody finished sending (status "being sent" for longer than
PAY_REQUEST_STALE_SECONDS) is sent again by the sync, with the same key.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from core import audit, roles
from core.dots_gateway import client
from core.errors import InvalidTransition, SegregationOfDutiesViolation
from core.keyed_send import KeyedSend
from core.money import format_cents
from core.permissions import is_system_user, require_perm
from dots.types import Transfer as DotsTransfer
from wallet import seam
from wallet.ach_accounts import current_account
from wallet.errors import InvalidAmount, NoVerifiedAccount
from wallet.models import App, WalletTransfer

S = WalletTransfer.Status
ASK = "wallet.add_wallettransfer"
APPROVE = "wallet.approve_wallettransfer"
MAX_CENTS = 100_000_000_00  # $100,000,000.00: a typo guard, not a Dots limit
KEYED = KeyedSend(WalletTransfer, prefix="wallet_transfer", timeline=True)


def needs_second_approval(amount_cents: int) -> bool:
    return amount_cents > settings.WALLET_SECOND_APPROVAL_CENTS


def transfer_request(*, actor: User, app_id: int, kind: str, amount_cents: int) -> WalletTransfer:
    """Store the request (key and exact body) and send it, or leave it for a second Payer's approval."""
    require_perm(actor, ASK, "move app wallet money")
    if kind not in WalletTransfer.Kind.values:
        raise InvalidAmount("Choose a deposit or a withdrawal.")
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidAmount("The amount must be more than $0.00.")
    if amount_cents > MAX_CENTS:
        raise InvalidAmount(f"The amount must be at most {format_cents(MAX_CENTS)}.")
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=app_id)
        account = current_account(app)
        if account is None or not account.is_verified:
            raise NoVerifiedAccount(
                f"{app} has no verified bank account: an Administrator adds one and a second person verifies it "
                f"before any deposit or withdrawal."
            )
        second = needs_second_approval(amount_cents)
        transfer = WalletTransfer(
            app=app,
            ach_account=account,
            kind=kind,
            amount_cents=amount_cents,
            requested_by=actor,
            needs_second_approval=second,
            status=S.AWAITING_APPROVAL if second else S.TO_SEND,
        )
        transfer.request_body = {"amount": amount_cents, "idempotency_key": str(transfer.idempotency_key)}
        transfer.timeline = [{"status": transfer.status, "seen_at": timezone.now().isoformat()}]
        transfer.save()
        audit.record(
            actor=actor,
            action="wallet_transfer.requested",
            target=transfer,
            after={
                "kind": kind,
                "amount_cents": amount_cents,
                "status": transfer.status,
                "bank_account": str(account),
            },
        )
        if not second:
            _send_after_commit(transfer, actor)
    return transfer


def _send_after_commit(transfer: WalletTransfer, actor: User) -> None:
    transaction.on_commit(lambda: async_task("wallet.tasks.wallet_transfer_send", transfer.pk, actor.pk))


def _decide(*, actor: User, transfer_id: int, to: str, note: str, action: str) -> WalletTransfer:
    require_perm(actor, APPROVE, "approve deposits and withdrawals")
    if not is_system_user(actor) and not roles.user_has_role(actor, roles.PAYER):
        raise SegregationOfDutiesViolation("Only a person with the Payer role approves deposits and withdrawals.")
    with transaction.atomic():
        transfer = WalletTransfer.objects.select_for_update().get(pk=transfer_id)
        if transfer.requested_by_id == actor.pk:
            raise SegregationOfDutiesViolation(f"You asked for {transfer}; a second Payer must decide on it.")
        WalletTransfer.TRANSITIONS.ensure(transfer, to)
        now = timezone.now()
        # Compare-and-set: of two Payers deciding at once, one wins.
        won = (
            WalletTransfer.objects.filter(pk=transfer.pk, status=S.AWAITING_APPROVAL)
            .exclude(requested_by=actor)
            .update(status=to, decided_by=actor, decided_at=now, decision_note=note[:500])
        )
        if won != 1:
            transfer.refresh_from_db()
            raise InvalidTransition(f"{transfer} was decided a moment ago: it is {transfer.get_status_display()}.")
        transfer.refresh_from_db()
        transfer.timeline = [*transfer.timeline, {"status": to, "seen_at": now.isoformat()}]
        transfer.save(update_fields=["timeline", "updated_at"])
        audit.record(
            actor=actor,
            action=action,
            target=transfer,
            before={"status": S.AWAITING_APPROVAL},
            after={"status": to, "decided_by": actor.get_username()},
            reason=note,
        )
        if to == S.TO_SEND:
            _send_after_commit(transfer, actor)
    return transfer


def transfer_approve(*, actor: User, transfer_id: int, note: str = "") -> WalletTransfer:
    return _decide(actor=actor, transfer_id=transfer_id, to=S.TO_SEND, note=note, action="wallet_transfer.approved")


def transfer_reject(*, actor: User, transfer_id: int, reason: str) -> WalletTransfer:
    if not (reason or "").strip():
        raise InvalidAmount("Say why the request is rejected.", code="reason-required")
    return _decide(
        actor=actor, transfer_id=transfer_id, to=S.REJECTED, note=reason.strip(), action="wallet_transfer.rejected"
    )


def transfer_send(*, transfer_id: int, actor: User, from_queue: bool = False, queue: bool = True) -> WalletTransfer:
    """Send the stored body with the stored key. Repeating it never makes a second transfer.

    While Dots is unreachable it is queued (ActionQueued); when Dots does not answer, a
    retry is queued (keyed: it stops 23 h after the request, before Dots forgets the key).
    """
    require_perm(actor, ASK, "move app wallet money")
    transfer = WalletTransfer.objects.select_related("app", "ach_account").get(pk=transfer_id)
    deposit = transfer.kind == WalletTransfer.Kind.DEPOSIT

    def call(body: dict) -> DotsTransfer:
        dots = client()
        move = dots.deposit_to_app if deposit else dots.withdraw_from_app
        return move(app_id=transfer.app.dots_app_id, **body)

    return KEYED.send(
        transfer,
        actor=actor,
        call=call,
        doing=f"{'deposit into' if deposit else 'withdraw from'} the app wallet",
        queue_kind=seam.WALLET_TRANSFER_SEND if queue and not from_queue else None,
        refusal=_account_changed,
    )


def _account_changed(transfer: WalletTransfer) -> str:
    """Never sent, and the bank account it was asked for is no longer the verified one in Dots."""
    account = current_account(transfer.app)
    if account is None or account.pk != transfer.ach_account_id or not account.is_verified:
        return "The app's bank account changed since the request: ask again."
    return ""


def transfer_refresh(*, transfer_id: int, actor: User, source: str = "sync") -> WalletTransfer:
    """Follow one transfer: read it from Dots; one whose answer was lost (or whose sender died) is sent
    again with its own key, which finds the transfer the first call made rather than making another."""
    return KEYED.refresh(
        transfer_id,
        actor=actor,
        source=source,
        resend=lambda transfer: transfer_send(transfer_id=transfer.pk, actor=actor, queue=False),
        doing="read the deposit or withdrawal",
    )
