"""A payment's outcome: recording Dots' answer to `pay`, reading a payment back, following it to its end.

`pay` takes no idempotency key (payables.services.payable_pay sends it at most once); what
happened to it is learnt here, by reading the payable back from Dots: at once after a lost
answer, then by the worker with backoff (payables.tasks.follow_payment), and by the sync and
reconciliation. Calls to Dots are made outside any transaction; each answer is recorded in
its own, with its audit event, and only through a move the payable's transition table allows.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from core import audit
from core.dots_gateway import client, describe, dots_call
from core.errors import DotsCallError
from core.models import AuditEvent
from payables import notify as payables_notify
from payables.models import Payable

S = Payable.Status
_PAYMENT_ACTIONS = {
    S.PAYMENT_INITIATED: "payable.payment_initiated",
    S.PAYMENT_COMPLETED: "payable.payment_completed",
    S.PAYMENT_FAILED: "payable.payment_failed",
}


def snapshot(payable: Payable) -> dict:
    """What the audit events of a payable's status changes show before and after."""
    return {
        "status": payable.status,
        "dots_status": payable.dots_status,
        "total": payable.total_cents,
        "last_dots_error": payable.last_dots_error,
    }


def adopt_dots_answer(payable: Payable, answer) -> None:
    """Copy what Dots said onto the row (the caller saves and audits)."""
    payable.dots_status = answer.status or ""
    payable.approval_steps = answer.approval_steps or []
    if answer.transfer_id:
        payable.dots_transfer_id = answer.transfer_id
    payable.last_dots_error = ""
    payable.last_dots_attempt_at = timezone.now()


def record_payment_answer(
    payable_id: int, answer, *, actor: User, expected, source: str = AuditEvent.Source.ADMIN
) -> Payable:
    """Adopt Dots' payment state for a payable we believe is in flight (still in one of `expected`)."""
    dots_status = answer.status or ""
    reason = ""
    if dots_status == S.PAYMENT_FAILED:
        reason = payment_failure_reason(answer)
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        before = snapshot(payable)
        adopt_dots_answer(payable, answer)
        if payable.status in expected:
            new_status = dots_status if dots_status in _PAYMENT_ACTIONS else None
            if dots_status == S.APPROVED and _settled_since_attempt(payable):
                # Dots shows no payment under way, long enough after our call: safe to pay again.
                new_status = S.APPROVED
            # The outcome of our own `pay`: only a move the table allows us (else Dots' status
            # is kept in dots_status for reconciliation to show).
            if new_status and Payable.TRANSITIONS.allows(payable.status, new_status):
                payable.status = new_status
                payable.status_changed_at = timezone.now()
        if payable.status == S.PAYMENT_FAILED:
            payable.failure_reason = reason
        payable.save()
        if payable.status != before["status"]:
            action = _PAYMENT_ACTIONS.get(payable.status, "payable.reconciled")
            audit.record(
                actor=actor,
                action=action,
                target=payable,
                before=before,
                after=snapshot(payable),
                reason=reason,
                source=source,
            )
            if payable.status == S.PAYMENT_FAILED:
                payables_notify.payment_failed(payable)
    return payable


def _settled_since_attempt(payable: Payable) -> bool:
    attempted = payable.pay_requested_at or payable.status_changed_at
    if attempted is None:
        return True
    return (timezone.now() - attempted).total_seconds() >= settings.PAY_OUTCOME_SETTLE_SECONDS


def payment_failure_reason(answer) -> str:
    """Dots' reason for a failed payment, read from its transfer (a call to Dots: never inside a transaction)."""
    if not answer.transfer_id:
        return "Dots reports the payment failed (no reason given)."
    try:
        with dots_call("read the failed payment's transfer"):
            transfer = client().retrieve_transfer(transfer_id=answer.transfer_id)
    except DotsCallError as exc:
        detail = describe(exc.dots_error) if exc.dots_error else exc
        return f"Dots reports the payment failed; its reason could not be read ({detail})."
    reason = transfer.raw.get("failure_reason") or transfer.raw.get("reason")
    return f"Dots reports the payment failed: {reason}" if reason else "Dots reports the payment failed."


def payable_reconcile_payment(*, payable_id: int, actor: User, source: str = AuditEvent.Source.ADMIN) -> Payable:
    """Read a payable whose payment is in flight back from Dots and adopt what Dots says.

    `pay_requested` is left alone: its `pay` call may still be on its way (the payer's
    own request records the answer, or moves it to outcome unknown).
    """
    payable = Payable.objects.get(pk=payable_id)
    if payable.status not in (S.OUTCOME_UNKNOWN, S.PAYMENT_INITIATED) or not payable.dots_id:
        return payable
    with dots_call(f"read {payable} back from Dots"):
        answer = client().retrieve_payable(payable_id=payable.dots_id)
    return record_payment_answer(
        payable.pk, answer, actor=actor, source=source, expected=[S.OUTCOME_UNKNOWN, S.PAYMENT_INITIATED]
    )


# --- following payments to the end -------------------------------------------------------------------------


def schedule_follow(payable_id: int) -> None:
    """Ask the worker to follow this payment to its end (payables.tasks.follow_payment)."""
    transaction.on_commit(
        lambda: async_task("payables.tasks.follow_payment", payable_id, 0, task_name=f"follow-payment-{payable_id}")
    )


@dataclass(frozen=True)
class FollowResult:
    settled: bool
    status: str


def payable_follow_payment(*, payable_id: int) -> FollowResult:
    """One look at Dots for a payment in flight; the task decides when to look again."""
    payable = payable_reconcile_payment(payable_id=payable_id, actor=audit.system_user(), source=AuditEvent.Source.TASK)
    return FollowResult(settled=payable.status not in Payable.PAYMENT_IN_FLIGHT, status=payable.status)
