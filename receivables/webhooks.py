"""Dots' `payment_intent.updated` and `payment_method.updated` webhooks, processed here.

The receiver (payouts.webhooks) verifies, stores and queues every delivery; for these two event
types it calls the handlers this app declares in its seam (core.registry.webhook_handler). As for
every webhook, the payload only says which object to read: its state is read back from Dots.
"""

from django.contrib.auth.models import User

from core.models import AuditEvent
from receivables.models import CheckoutSession, PaymentIntent
from receivables.services import intents, methods, sessions

WEBHOOK = AuditEvent.Source.WEBHOOK


def payment_intent_updated(dots_id: str, actor: User) -> str:
    intent = PaymentIntent.objects.filter(dots_id=dots_id).first()
    if intent is None:
        # A checkout session's intent is recorded here when its session is next read.
        session = CheckoutSession.objects.filter(status=CheckoutSession.Status.OPEN).order_by("-pk")
        for candidate in session[:50]:
            sessions.checkout_session_refresh(checkout_session_id=candidate.pk, actor=actor, source=WEBHOOK)
        intent = PaymentIntent.objects.filter(dots_id=dots_id).first()
        if intent is None:
            return "no local payment intent has this Dots id"
    intent = intents.payment_intent_refresh(payment_intent_id=intent.pk, actor=actor, source=WEBHOOK)
    for session in intent.checkout_sessions.filter(status=CheckoutSession.Status.OPEN):
        sessions.checkout_session_refresh(checkout_session_id=session.pk, actor=actor, source=WEBHOOK)
    return f"{intent} is {intent.status}"


def payment_method_updated(dots_id: str, actor: User) -> str:
    return methods.payment_method_refresh(dots_payment_method_id=dots_id, actor=actor, source=WEBHOOK)
