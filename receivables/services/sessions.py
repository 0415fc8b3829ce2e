"""Checkout sessions: a hosted payment page for line items, created in Dots, followed to complete or expired.

Creating a session makes its payment intent in Dots; the session's page links the local intent
(made here from Dots' answer the first time it is seen) and follows it too.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import audit
from core.dots_gateway import client, dots_call
from core.models import AuditEvent
from core.permissions import require_perm
from receivables import seam
from receivables.errors import InvalidCheckoutSession
from receivables.models import KEY, CheckoutSession, PaymentCustomer, PaymentIntent
from receivables.services import intents
from receivables.services._send import may_move, send_create

ADD = "receivables.add_checkoutsession"
CHANGE = "receivables.change_checkoutsession"


@transaction.atomic
def checkout_session_request(
    *,
    actor: User,
    line_items: list[dict[str, Any]],
    success_url: str,
    cancel_url: str = "",
    customer_id: int | None = None,
) -> CheckoutSession:
    require_perm(actor, ADD, "create checkout sessions")
    items = []
    for n, item in enumerate(line_items, start=1):
        name, unit, quantity = str(item.get("name") or "").strip(), item.get("unit_amount_cents"), item.get("quantity")
        if not name or not isinstance(unit, int) or unit < 1 or not isinstance(quantity, int) or quantity < 1:
            raise InvalidCheckoutSession(f"Line {n} needs a name, a unit amount of at least $0.01 and a quantity.")
        items.append({"name": name, "unit_amount_cents": unit, "quantity": quantity})
    if not items:
        raise InvalidCheckoutSession("Add at least one line item.")
    customer = PaymentCustomer.objects.get(pk=customer_id) if customer_id else None
    if customer is not None and not customer.dots_id:
        raise InvalidCheckoutSession(f"{customer} is not in Dots yet: send it to Dots first.")
    session = CheckoutSession(
        customer=customer,
        line_items=items,
        amount_total_cents=sum(i["unit_amount_cents"] * i["quantity"] for i in items),
        success_url=success_url,
        cancel_url=cancel_url,
        created_by=actor,
    )
    session.save()
    body: dict[str, Any] = {
        "mode": "payment",
        "success_url": success_url,
        "line_items": [
            {
                "quantity": i["quantity"],
                "price_data": {
                    "currency": "usd",
                    "amount": i["unit_amount_cents"],
                    "product_data": {"name": i["name"]},
                },
            }
            for i in items
        ],
        "client_reference_id": f"ledgerline-{session.pk}",
        "metadata": {KEY: str(session.idempotency_key)},
    }
    if cancel_url:
        body["cancel_url"] = cancel_url
    if customer is not None:
        body["customer_id"] = customer.dots_id
    session.request_body = body
    session.save(update_fields=["request_body"])
    audit.record(
        actor=actor,
        action="checkout_session.requested",
        target=session,
        after={"amount_total_cents": session.amount_total_cents, "customer": str(customer or ""), "lines": len(items)},
    )
    return session


def checkout_session_create(*, actor: User, **fields: Any) -> CheckoutSession:
    session = checkout_session_request(actor=actor, **fields)
    return checkout_session_push(checkout_session_id=session.pk, actor=actor)


def checkout_session_push(*, checkout_session_id: int, actor: User, from_queue: bool = False) -> CheckoutSession:
    require_perm(actor, ADD, "create checkout sessions")
    session = CheckoutSession.objects.get(pk=checkout_session_id)
    if session.dots_id:
        return session
    dots_session = send_create(
        session,
        actor=actor,
        create=lambda: client().create_checkout_session(**session.request_body),
        listing=client().iter_checkout_sessions,
        what="create the checkout session",
        audit_prefix="checkout_session",
        kind=seam.CHECKOUT_SESSION_PUSH,
        from_queue=from_queue,
    )
    return store_session_state(session.pk, dots_session, actor, action="checkout_session.created")


def _intent_for(session: CheckoutSession, dots_intent_id: str | None) -> PaymentIntent | None:
    """The local intent behind the session, made here the first time Dots names it."""
    if not dots_intent_id:
        return session.payment_intent
    intent = PaymentIntent.objects.filter(dots_id=dots_intent_id).first()
    if intent is None:
        intent = PaymentIntent.objects.create(
            customer=session.customer,
            amount_cents=session.amount_total_cents,
            description=f"For {session}",
            status=PaymentIntent.Status.REQUIRES_PAYMENT_METHOD,
            dots_id=dots_intent_id,
            created_by=session.created_by,
            request_body={"from_checkout_session": session.dots_id},
        )
        audit.record(
            actor=audit.system_user(),
            action="payment_intent.created",
            target=intent,
            after={"amount_cents": intent.amount_cents, "dots_id": intent.dots_id},
            reason=f"Made by Dots for {session}",
            source=AuditEvent.Source.SYSTEM,
        )
    return intent


def store_session_state(
    session_id: int,
    dots_session: Any,
    actor: User,
    *,
    action: str = "checkout_session.status_changed",
    source: str = AuditEvent.Source.ADMIN,
    adopting: bool = False,
) -> CheckoutSession:
    with transaction.atomic():
        session = CheckoutSession.objects.select_for_update().get(pk=session_id)
        before = session.status
        status = str(dots_session.get("status") or before)
        if not adopting and not may_move(CheckoutSession, before, status):
            CheckoutSession.objects.filter(pk=session.pk).update(
                last_dots_error=f"Not taken from Dots: {session} is {before}; Dots says {status}."[:2000],
                last_dots_attempt_at=timezone.now(),
            )
            session.refresh_from_db()
            return session
        session.dots_id = dots_session.get("id") or session.dots_id
        session.status = status
        session.url = dots_session.get("checkout_session_url") or session.url
        expiry = dots_session.get("expiry")
        if isinstance(expiry, str):
            session.expires_at = parse_datetime(expiry.replace("Z", "+00:00")) or session.expires_at
        session.payment_intent = _intent_for(session, dots_session.get("payment_intent_id"))
        session.last_dots_error = ""
        session.last_dots_attempt_at = timezone.now()
        session.save()
        if before != session.status or action == "checkout_session.created":
            audit.record(
                actor=actor,
                action=action,
                target=session,
                source=source,
                before={"status": before},
                after={"status": session.status, "dots_id": session.dots_id},
            )
    return session


def checkout_session_refresh(
    *, checkout_session_id: int, actor: User, source: str = AuditEvent.Source.ADMIN
) -> CheckoutSession:
    """Read the session and its payment intent back from Dots."""
    require_perm(actor, CHANGE, "refresh checkout sessions from Dots")
    session = CheckoutSession.objects.get(pk=checkout_session_id)
    if not session.dots_id:
        if session.status == CheckoutSession.Status.UNKNOWN:
            return checkout_session_push(checkout_session_id=session.pk, actor=actor)
        return session
    with dots_call("read the checkout session"):
        dots_session = client().retrieve_checkout_session(checkout_session_id=session.dots_id)
    session = store_session_state(session.pk, dots_session, actor, source=source)
    if session.payment_intent_id and session.payment_intent.dots_id:
        intents.payment_intent_refresh(payment_intent_id=session.payment_intent_id, actor=actor, source=source)
    return CheckoutSession.objects.select_related("payment_intent").get(pk=session.pk)
