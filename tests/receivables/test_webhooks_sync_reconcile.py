"""Dots' payment_intent.updated and payment_method.updated webhooks, the money-in sync steps and reconcile checks."""

import json
import time
import uuid

import pytest

from core.audit import system_user
from core.dots_gateway import client
from core.models import AuditEvent
from dots.webhooks import sign
from payouts.models import WebhookDelivery
from receivables.models import CheckoutSession, Payment, PaymentIntent, PaymentMethod
from receivables.services import intents, payments, sessions
from reconciliation.models import Discrepancy
from reconciliation.services import discrepancy_adopt, reconcile_all
from reconciliation.sync import sync_all
from tests.receivables.conftest import bank_account_in_dots

pytestmark = pytest.mark.django_db
URL = "/webhooks/dots/"


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, settings):
    def post(payload):
        body = json.dumps(payload).encode()
        headers = sign(secret=settings.DOTS_WEBHOOK_SECRET, msg_id="msg_" + uuid.uuid4().hex,
                       timestamp=int(time.time()), body=body)  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, data=body, content_type="application/json", headers=headers)

    return post


def _session(clerk, customer):
    return sessions.checkout_session_create(
        actor=clerk, customer_id=customer.pk, line_items=[{"name": "Tart", "unit_amount_cents": 1200, "quantity": 2}],
        success_url="https://example.com/ok",
    )  # fmt: skip


def test_payment_intent_updated_webhook_reads_the_intent_back_and_follows_its_session(dots, deliver, clerk, customer):
    session = _session(clerk, customer)
    dots.control(f"checkout-sessions/{session.dots_id}/complete")
    response = deliver({"event": "payment_intent.updated", "payment_intent_id": session.payment_intent.dots_id})
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.object_type == "payment_intent" and delivery.processing == "processed", delivery.note
    session.refresh_from_db()
    assert session.status == "complete" and session.payment_intent.status == "succeeded"
    assert AuditEvent.objects.filter(source=AuditEvent.Source.WEBHOOK, action="payment_intent.status_changed").exists()


def test_payment_method_updated_webhook_re_reads_the_customers_methods(dots, deliver, clerk, customer):
    dots_id = bank_account_in_dots(dots, customer)
    deliver({"event": "payment_method.updated", "payment_method_id": dots_id})
    delivery = WebhookDelivery.objects.get()
    assert delivery.processing == "processed", delivery.processing_error
    method = PaymentMethod.objects.get(dots_id=dots_id)
    assert method.customer == customer and method.attached


def test_a_forged_payment_intent_webhook_is_refused_and_changes_nothing(dots, client, clerk, customer):
    session = _session(clerk, customer)
    dots.control(f"checkout-sessions/{session.dots_id}/complete")
    body = json.dumps({"event": "payment_intent.updated", "payment_intent_id": session.payment_intent.dots_id}).encode()
    headers = sign(secret="whsec_Zm9yZ2Vk", msg_id="msg_forged", timestamp=int(time.time()), body=body)
    assert client.post(URL, data=body, content_type="application/json", headers=headers).status_code == 400
    session.payment_intent.refresh_from_db()
    assert session.payment_intent.status == "requires_payment_method"


def test_the_scheduled_sync_follows_sessions_intents_and_payments(dots, clerk, customer):
    session = _session(clerk, customer)
    payment = payments.payment_collect(
        actor=clerk,
        customer_id=customer.pk,
        amount_cents=5000,
        routing_number="021000021",
        account_number="00012345678",
    )
    dots.control(f"checkout-sessions/{session.dots_id}/complete")
    dots.control(f"transfers/{payment.dots_transfer_id}/advance", {"status": "completed"})
    reports = {r.name: r for r in sync_all(actor=system_user())}
    assert reports["checkout sessions"].changes == [f"Checkout session #{session.pk}: open -> complete"]
    assert reports["payments in"].changes == [f"Payment #{payment.pk}: created -> completed"]
    assert PaymentIntent.objects.get(pk=session.payment_intent_id).status == "succeeded"
    assert Payment.objects.get(pk=payment.pk).status == "completed"


def test_reconciliation_reports_an_intent_whose_status_differs_and_adopts_dots_state(dots, clerk, customer):
    session = _session(clerk, customer)
    dots.control(f"checkout-sessions/{session.dots_id}/complete")
    reconcile_all(actor=system_user(), record_types=["payment_intent", "checkout_session"])
    kinds = set(Discrepancy.objects.filter(resolved_at__isnull=True).values_list("record_type", "kind"))
    assert ("payment_intent", "status") in kinds and ("checkout_session", "status") in kinds
    found = Discrepancy.objects.get(record_type="payment_intent", kind="status", resolved_at__isnull=True)
    from core import roles
    from tests.support import make_user

    admin = make_user("ada", role=roles.ADMINISTRATOR)
    discrepancy_adopt(discrepancy_id=found.pk, actor=admin)
    assert PaymentIntent.objects.get(pk=session.payment_intent_id).status == "succeeded"


def test_reconciliation_finds_a_customer_made_in_dots_only_and_settles_an_intent_in_doubt(dots, clerk, customer):
    client().create_payment_customer(first_name="Only", last_name="InDots")
    intent, _ = intents.payment_intent_create(actor=clerk, amount_cents=800, customer_id=customer.pk)
    PaymentIntent.objects.filter(pk=intent.pk).update(status="unknown", dots_id=None)
    result = reconcile_all(actor=system_user(), record_types=["payment_customer", "payment_intent"])
    assert any("unknown -> requires_payment_method" in line for line in result.settled)
    assert PaymentIntent.objects.get(pk=intent.pk).dots_id == intent.dots_id
    assert len(dots.received("POST", "/v2/payment-intents")) == 1
    assert Discrepancy.objects.filter(record_type="payment_customer", kind="missing_locally").count() == 1


def test_a_session_a_dead_process_left_pending_is_found_or_sent_once_by_reconciliation(dots, clerk, customer):
    import datetime as dt

    from django.utils import timezone

    session = sessions.checkout_session_request(
        actor=clerk, line_items=[{"name": "Pie", "unit_amount_cents": 900, "quantity": 1}],
        success_url="https://example.com/ok",
    )  # fmt: skip
    CheckoutSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    result = reconcile_all(actor=system_user(), record_types=["checkout_session"])
    session.refresh_from_db()
    assert session.status == "open" and any("unknown -> open" in line for line in result.settled)
    assert len(dots.received("POST", "/v2/checkout-sessions")) == 1
    assert AuditEvent.objects.filter(action="checkout_session.outcome_unknown", source="reconcile").exists()
