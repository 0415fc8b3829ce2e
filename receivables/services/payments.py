"""ACH payments collected from a customer: a Dots `payment` transfer, followed to its end like any transfer.

Dots' payment create takes no idempotency key, so ours is stored on the record before the call
and travels in the transfer's metadata: after a lost answer the payment is "outcome unknown" and
is found among Dots' transfers by that key; it is never sent again blindly. An account typed on
the form goes to Dots once and nowhere else (only its last four digits are kept), so a payment on
a typed account is never queued or resent: if Dots cannot be reached it is refused, to be typed again.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.errors import DotsUnavailable
from core.models import AuditEvent
from core.permissions import require_perm
from receivables import seam
from receivables.errors import AlreadyRequested, InvalidPayment
from receivables.models import KEY, Payment, PaymentCustomer, PaymentMethod
from receivables.services._send import may_move, send_create

ADD = "receivables.add_payment"
CHANGE = "receivables.change_payment"


@transaction.atomic
def payment_request(
    *,
    actor: User,
    customer_id: int,
    amount_cents: int,
    payment_method_id: int | None = None,
    account_last4: str = "",
    memo: str = "",
    request_key: uuid.UUID | None = None,
) -> Payment:
    """Store the payment and its key before anything is sent (the full account number is not an argument).

    `request_key`: the form's one-time key, used as the payment's idempotency key, so the same form
    sent twice (a double click, a resent POST) answers the payment it already made instead of a second.
    """
    require_perm(actor, ADD, "collect payments from customers")
    if request_key is not None:
        existing = Payment.objects.filter(idempotency_key=request_key, created_by=actor).first()
        if existing is not None:
            raise AlreadyRequested(existing)
    if amount_cents < 1:
        raise InvalidPayment("The amount must be at least $0.01.")
    customer = PaymentCustomer.objects.get(pk=customer_id)
    if not customer.dots_id:
        raise InvalidPayment(f"{customer} is not in Dots yet: send it to Dots first.")
    method = PaymentMethod.objects.get(pk=payment_method_id) if payment_method_id else None
    if method is not None and (not method.attached or method.customer_id != customer.pk):
        raise InvalidPayment(f"{method} is not attached to {customer}.")
    payment = Payment.objects.create(
        idempotency_key=request_key or uuid.uuid4(),
        customer=customer,
        amount_cents=amount_cents,
        payment_method=method,
        account_last4=method.mask if method else account_last4[-4:],
        memo=memo,
        created_by=actor,
    )
    audit.record(
        actor=actor,
        action="payment.requested",
        target=payment,
        after={"amount_cents": amount_cents, "customer": str(customer), "account_ending": payment.account_last4},
    )
    return payment


def _body(payment: Payment, ach_info: dict[str, str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": payment.amount_cents,
        "platform": "ach",
        "customer_id": payment.customer.dots_id,
        "metadata": {KEY: str(payment.idempotency_key)},
    }
    if payment.payment_method is not None:
        body["account_id"] = payment.payment_method.dots_id
    else:
        body["ach_info"] = ach_info
    return body


def payment_collect(
    *,
    actor: User,
    customer_id: int,
    amount_cents: int,
    payment_method_id: int | None = None,
    routing_number: str = "",
    account_number: str = "",
    account_type: str = "checking",
    memo: str = "",
) -> Payment:
    """Collect an ACH payment: from a stored account, or one typed once (sent to Dots, never kept)."""
    if payment_method_id is None and not (routing_number and account_number):
        raise InvalidPayment("Choose a stored bank account, or type its routing and account numbers.")
    payment = payment_request(
        actor=actor,
        customer_id=customer_id,
        amount_cents=amount_cents,
        payment_method_id=payment_method_id,
        account_last4=account_number[-4:],
        memo=memo,
    )
    ach_info = None
    if payment.payment_method is None:
        ach_info = {"routing_number": routing_number, "account_number": account_number, "account_type": account_type}
    return payment_push(payment_id=payment.pk, actor=actor, ach_info=ach_info)


def payment_push(
    *, payment_id: int, actor: User, ach_info: dict[str, str] | None = None, from_queue: bool = False
) -> Payment:
    """Send the payment (again, for a stored account: looked for by its key first after a lost answer).

    Only a payment from a stored account is queued during an outage: a typed account is not kept."""
    require_perm(actor, ADD, "collect payments from customers")
    payment = Payment.objects.select_related("customer", "payment_method").get(pk=payment_id)
    if payment.dots_transfer_id or payment.status not in Payment._LOCAL:
        return payment
    if payment.payment_method is None and ach_info is None:
        # The typed account is not kept: after a lost answer the payment is only looked for.
        found = _find(payment)
        if found is None:
            return payment
        return store_payment_state(payment.pk, found, actor, action="payment.created")
    try:
        transfer = send_create(
            payment,
            actor=actor,
            create=lambda: client().create_payment(**_body(payment, ach_info)),
            listing=lambda: client().iter_transfers(type="payment"),
            what="collect the payment",
            audit_prefix="payment",
            kind=seam.PAYMENT_PUSH if ach_info is None else "",
            from_queue=from_queue,
        )
    except DotsUnavailable as exc:
        if ach_info is not None:
            _refuse_unsent(payment, actor, str(exc))
        raise
    return store_payment_state(payment.pk, transfer, actor, action="payment.created")


def _refuse_unsent(payment: Payment, actor: User, error: str) -> None:
    """Dots was not reached and the typed account is gone with this request: the payment ends refused."""
    with transaction.atomic():
        if Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
            status=Payment.Status.REFUSED, last_dots_error=error[:2000], last_dots_attempt_at=timezone.now()
        ):
            audit.record(
                actor=actor,
                action="payment.refused",
                target=payment,
                before={"status": "pending"},
                after={"status": "refused"},
                reason="Dots could not be reached; the account number is not kept, so type it again.",
            )


def _find(payment: Payment) -> Any:
    from receivables.services._send import find_by_key

    return find_by_key(lambda: client().iter_transfers(type="payment"), str(payment.idempotency_key), "the payment")


def store_payment_state(
    payment_id: int,
    transfer: Any,
    actor: User,
    *,
    action: str = "payment.status_changed",
    source: str = AuditEvent.Source.ADMIN,
    adopting: bool = False,
) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        before = payment.status
        status = Payment.status_from_dots(transfer.status) or before
        if not adopting and not may_move(Payment, before, status):
            Payment.objects.filter(pk=payment.pk).update(
                last_dots_error=f"Not taken from Dots: {payment} is {before}; Dots says {status}."[:2000],
                last_dots_attempt_at=timezone.now(),
            )
            payment.refresh_from_db()
            return payment
        payment.dots_transfer_id = transfer.id or payment.dots_transfer_id
        payment.status = status
        external = transfer.external_data if isinstance(transfer.external_data, dict) else {}
        payment.failure_reason = str(external.get("failure_reason") or transfer.raw.get("failure_reason") or "")[:500]
        if adopting and transfer.amount is not None:
            payment.amount_cents = transfer.amount
        payment.last_dots_error = ""
        payment.last_dots_attempt_at = timezone.now()
        payment.save()
        if before != payment.status or action == "payment.created":
            audit.record(
                actor=actor,
                action=action,
                target=payment,
                source=source,
                before={"status": before},
                after={"status": payment.status, "dots_transfer_id": payment.dots_transfer_id},
                reason=payment.failure_reason,
            )
    return payment


def payment_refresh(*, payment_id: int, actor: User, source: str = AuditEvent.Source.ADMIN) -> Payment:
    require_perm(actor, CHANGE, "refresh payments from Dots")
    payment = Payment.objects.get(pk=payment_id)
    if not payment.dots_transfer_id:
        if payment.status == Payment.Status.UNKNOWN:
            return payment_push(payment_id=payment.pk, actor=actor)
        return payment
    with dots_call("read the payment"):
        transfer = client().retrieve_transfer(transfer_id=payment.dots_transfer_id)
    return store_payment_state(payment.pk, transfer, actor, source=source)
