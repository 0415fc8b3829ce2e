"""Payment intents: created in Dots (our key in their metadata), confirmed with a payment method, followed.

Dots answers a new intent's `client_secret` once. It is handed back to the caller of
`payment_intent_create` (the page shows it once to the person who created it) and kept
nowhere: not on the record, not in the audit trail, not in a log line (dots.redact masks any
key naming a secret).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import action_queue, audit
from core.dots_gateway import client, dots_call
from core.errors import InvalidTransition
from core.models import AuditEvent
from core.permissions import require_perm
from receivables import seam
from receivables.errors import InvalidPaymentIntent
from receivables.models import KEY, PaymentCustomer, PaymentIntent, PaymentMethod
from receivables.services._send import may_move, send_create

ADD = "receivables.add_paymentintent"
CHANGE = "receivables.change_paymentintent"
CONFIRM = "receivables.confirm_paymentintent"


@transaction.atomic
def payment_intent_request(
    *,
    actor: User,
    amount_cents: int,
    customer_id: int,
    description: str = "",
    labels: dict[str, str] | None = None,
) -> PaymentIntent:
    require_perm(actor, ADD, "create payment intents")
    if amount_cents < 1:
        raise InvalidPaymentIntent("The amount must be at least $0.01.")
    customer = PaymentCustomer.objects.get(pk=customer_id)
    if not customer.dots_id:
        raise InvalidPaymentIntent(f"{customer} is not in Dots yet: send it to Dots first.")
    labels = dict(labels or {})
    if KEY in labels:
        raise InvalidPaymentIntent(f"The label name {KEY!r} is Ledgerline's own; choose another.")
    intent = PaymentIntent(
        customer=customer, amount_cents=amount_cents, description=description, labels=labels, created_by=actor
    )
    intent.save()
    intent.request_body = {
        "amount": amount_cents,
        "currency": "usd",
        "customer_id": customer.dots_id,
        "metadata": {**labels, KEY: str(intent.idempotency_key)},
    }
    intent.save(update_fields=["request_body"])
    audit.record(
        actor=actor,
        action="payment_intent.requested",
        target=intent,
        after={"amount_cents": amount_cents, "customer": str(customer), "labels": labels},
    )
    return intent


def payment_intent_create(*, actor: User, **fields: Any) -> tuple[PaymentIntent, str]:
    """Store, then create in Dots. Answers the intent and its client secret ("" when Dots' answer was not
    the create's own, e.g. found by key after a lost answer): show it once, keep it nowhere."""
    intent = payment_intent_request(actor=actor, **fields)
    return payment_intent_push(payment_intent_id=intent.pk, actor=actor)


def payment_intent_push(*, payment_intent_id: int, actor: User, from_queue: bool = False) -> tuple[PaymentIntent, str]:
    require_perm(actor, ADD, "create payment intents")
    intent = PaymentIntent.objects.get(pk=payment_intent_id)
    if intent.dots_id:
        return intent, ""
    dots_intent = send_create(
        intent,
        actor=actor,
        create=lambda: client().create_payment_intent(**intent.request_body),
        listing=client().list_payment_intents,
        what="create the payment intent",
        audit_prefix="payment_intent",
        kind=seam.PAYMENT_INTENT_PUSH,
        from_queue=from_queue,
    )
    secret = str(dots_intent.get("client_secret") or "")
    intent = store_intent_state(intent.pk, dots_intent, actor, action="payment_intent.created")
    return intent, secret


def store_intent_state(
    intent_id: int,
    dots_intent: Any,
    actor: User,
    *,
    action: str = "payment_intent.status_changed",
    source: str = AuditEvent.Source.ADMIN,
    adopting: bool = False,
) -> PaymentIntent:
    """Record Dots' view of an intent (never its client secret). A move Dots should not make is not taken."""
    with transaction.atomic():
        intent = PaymentIntent.objects.select_for_update().get(pk=intent_id)
        before = intent.status
        status = str(dots_intent.get("status") or before)
        if not adopting and not may_move(PaymentIntent, before, status):
            PaymentIntent.objects.filter(pk=intent.pk).update(
                last_dots_error=f"Not taken from Dots: {intent} is {before}; Dots says {status}."[:2000],
                last_dots_attempt_at=timezone.now(),
            )
            intent.refresh_from_db()
            return intent
        intent.dots_id = dots_intent.get("id") or intent.dots_id
        intent.status = status
        intent.dots_transfer_id = str(dots_intent.get("transfer_id") or intent.dots_transfer_id)
        if dots_intent.get("amount") is not None and adopting:
            intent.amount_cents = int(dots_intent["amount"])
        method_id = dots_intent.get("payment_method_id")
        if method_id and (intent.payment_method is None or intent.payment_method.dots_id != method_id):
            intent.payment_method = PaymentMethod.objects.filter(dots_id=method_id).first() or intent.payment_method
        intent.last_dots_error = ""
        intent.last_dots_attempt_at = timezone.now()
        intent.save()
        if before != intent.status or action == "payment_intent.created":
            audit.record(
                actor=actor,
                action=action,
                target=intent,
                source=source,
                before={"status": before},
                after={"status": intent.status, "dots_id": intent.dots_id},
            )
    return intent


def payment_intent_refresh(
    *, payment_intent_id: int, actor: User, source: str = AuditEvent.Source.ADMIN
) -> PaymentIntent:
    require_perm(actor, CHANGE, "refresh payment intents from Dots")
    intent = PaymentIntent.objects.get(pk=payment_intent_id)
    if not intent.dots_id:
        if intent.status == PaymentIntent.Status.UNKNOWN:
            return payment_intent_push(payment_intent_id=intent.pk, actor=actor)[0]
        return intent
    with dots_call("read the payment intent"):
        dots_intent = client().retrieve_payment_intent(payment_intent_id=intent.dots_id)
    return store_intent_state(intent.pk, dots_intent, actor, source=source)


def payment_intent_confirm(
    *, payment_intent_id: int, payment_method_id: int, actor: User, from_queue: bool = False
) -> PaymentIntent:
    """Confirm with one of the customer's attached payment methods; Dots then collects the money."""
    require_perm(actor, CONFIRM, "confirm payment intents")
    with transaction.atomic():
        intent = PaymentIntent.objects.select_for_update().get(pk=payment_intent_id)
        method = PaymentMethod.objects.get(pk=payment_method_id)
        if intent.status not in (
            PaymentIntent.Status.REQUIRES_PAYMENT_METHOD,
            PaymentIntent.Status.REQUIRES_CONFIRMATION,
        ):
            raise InvalidTransition(
                f"{intent} is {PaymentIntent.TRANSITIONS.label(intent.status)}: it cannot be confirmed."
            )
        if not method.attached or method.customer_id != intent.customer_id:
            raise InvalidPaymentIntent(f"{method} is not attached to {intent.customer}; attach it first.")
        intent.payment_method = method
        intent.save(update_fields=["payment_method", "updated_at"])
    action_queue.queue_if_unreachable(
        kind=seam.PAYMENT_INTENT_CONFIRM,
        target=intent,
        actor=actor,
        arguments={"payment_method_id": method.pk},
        from_queue=from_queue,
    )
    # Confirming twice is refused by Dots (the intent has left the confirmable statuses), so a
    # lost answer is settled by reading the intent back, never by confirming again blindly.
    try:
        with dots_call("confirm the payment intent"):
            dots_intent = client().confirm_payment_intent(
                payment_intent_id=intent.dots_id, payment_method_id=method.dots_id
            )
    except Exception as exc:
        PaymentIntent.objects.filter(pk=intent.pk).update(
            last_dots_error=str(exc)[:2000], last_dots_attempt_at=timezone.now()
        )
        raise
    intent = store_intent_state(intent.pk, dots_intent, actor, action="payment_intent.confirmed")
    return intent
