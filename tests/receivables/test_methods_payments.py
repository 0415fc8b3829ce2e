"""Payment methods (attach, detach, in use) and ACH payments from customers, over real HTTP against the emulator."""

import pytest

from core.dots_gateway import client
from core.errors import DotsCallError, DotsRejected
from core.models import AuditEvent
from receivables.errors import PaymentMethodInUse
from receivables.models import Payment, PaymentIntent, PaymentMethod
from receivables.services import intents, methods, payments
from tests.receivables.conftest import bank_account_in_dots

pytestmark = pytest.mark.django_db

ACCOUNT = "000123456789"


def test_attach_then_detach_a_payment_method_is_audited_each_time(dots, clerk, customer):
    method = methods.payment_method_attach(
        payment_customer_id=customer.pk, dots_payment_method_id=bank_account_in_dots(dots), actor=clerk
    )
    assert method.attached and method.customer == customer and method.mask == "6789" and method.platform == "ach"
    method = methods.payment_method_detach(payment_method_id=method.pk, actor=clerk)
    assert not method.attached
    actions = list(AuditEvent.objects.filter(object_id=str(method.pk)).values_list("action", flat=True))
    assert "payment_method.attached" in actions and "payment_method.detached" in actions


def test_attaching_an_unknown_method_is_refused_by_dots(dots, clerk, customer):
    with pytest.raises(DotsRejected):
        methods.payment_method_attach(payment_customer_id=customer.pk, dots_payment_method_id="nope", actor=clerk)
    assert PaymentMethod.objects.count() == 0


def test_reading_methods_from_dots_finds_one_the_customer_added_and_drops_one_detached_in_dots(dots, clerk, customer):
    dots_id = bank_account_in_dots(dots, customer)
    [method] = methods.payment_methods_read(payment_customer_id=customer.pk, actor=clerk)
    assert method.dots_id == dots_id and method.attached
    client().detach_payment_method(payment_method_id=dots_id)  # in Dots directly, as Dots' own pages could
    assert methods.payment_methods_read(payment_customer_id=customer.pk, actor=clerk) == []
    method.refresh_from_db()
    assert not method.attached


def test_detaching_a_method_an_intent_waits_on_is_refused_saying_so(dots, clerk, customer):
    method = methods.payment_method_attach(
        payment_customer_id=customer.pk, dots_payment_method_id=bank_account_in_dots(dots), actor=clerk
    )
    intent, _ = intents.payment_intent_create(actor=clerk, amount_cents=900, customer_id=customer.pk)
    PaymentIntent.objects.filter(pk=intent.pk).update(payment_method=method, status="requires_confirmation")
    with pytest.raises(PaymentMethodInUse) as refused:
        methods.payment_method_detach(payment_method_id=method.pk, actor=clerk)
    assert f"in use by {intent}" in str(refused.value) and refused.value.code == "payment-method-in-use"
    method.refresh_from_db()
    assert method.attached and not dots.received("POST", "/v2/payment-methods/*/detach")


def test_payment_from_a_stored_account_is_followed_to_received(dots, clerk, customer):
    method = methods.payment_method_attach(
        payment_customer_id=customer.pk, dots_payment_method_id=bank_account_in_dots(dots), actor=clerk
    )
    payment = payments.payment_collect(
        actor=clerk, customer_id=customer.pk, amount_cents=25_000, payment_method_id=method.pk
    )
    assert payment.status == Payment.Status.CREATED and payment.account_last4 == "6789"
    assert dots.received("POST", "/v2/payments")[0]["body"]["account_id"] == method.dots_id
    dots.control(f"transfers/{payment.dots_transfer_id}/advance", {"status": "completed"})
    payment = payments.payment_refresh(payment_id=payment.pk, actor=clerk)
    assert payment.status == Payment.Status.COMPLETED
    assert AuditEvent.objects.filter(action="payment.status_changed", object_id=str(payment.pk)).exists()


def test_a_failed_payment_shows_dots_reason(dots, clerk, customer):
    payment = payments.payment_collect(
        actor=clerk, customer_id=customer.pk, amount_cents=1_000, routing_number="021000021", account_number=ACCOUNT
    )
    dots.control(f"transfers/{payment.dots_transfer_id}/advance", {"status": "failed", "reason": "Account closed"})
    payment = payments.payment_refresh(payment_id=payment.pk, actor=clerk)
    assert payment.status == Payment.Status.FAILED and payment.failure_reason == "Account closed"


def test_a_typed_account_is_not_kept_and_a_payment_whose_answer_is_lost_is_found_by_its_key(dots, clerk, customer):
    dots.add_fault(method="POST", path="/v2/payments", kind="drop", count=1)
    payment = payments.payment_collect(
        actor=clerk, customer_id=customer.pk, amount_cents=3_000, routing_number="021000021", account_number=ACCOUNT
    )
    assert payment.status == Payment.Status.CREATED and payment.dots_transfer_id
    assert len(dots.received("POST", "/v2/payments")) == 1
    assert payment.account_last4 == "6789"
    assert all(ACCOUNT not in str(e.changes) + e.reason for e in AuditEvent.objects.all())


def test_a_typed_account_payment_when_dots_is_down_is_refused_not_kept_for_later(dots, clerk, customer):
    dots.add_fault(method="POST", path="/v2/payments", kind="status", status=503, count=20)
    with pytest.raises(DotsCallError):
        payments.payment_collect(
            actor=clerk, customer_id=customer.pk, amount_cents=3_000, routing_number="021000021", account_number=ACCOUNT
        )
    payment = Payment.objects.get()
    assert (
        payment.status == Payment.Status.REFUSED
        and "type it again" in AuditEvent.objects.get(action="payment.refused").reason
    )
