"""Payment customers, checkout sessions and payment intents, over real HTTP against the emulator."""

import logging

import pytest
from django.db import connection

from core import roles
from core.errors import DotsCallError, PermissionRefused
from core.models import AuditEvent
from payouts.services import payees
from receivables.errors import InvalidCustomer
from receivables.models import CheckoutSession, PaymentCustomer, PaymentIntent
from receivables.services import customers, intents, methods, sessions
from tests.payouts.conftest import phone
from tests.receivables.conftest import bank_account_in_dots
from tests.support import make_user

pytestmark = pytest.mark.django_db


def test_customer_create_sends_e164_phone_and_address_and_audits(dots, customer, clerk):
    assert customer.status == PaymentCustomer.Status.CREATED and customer.dots_id
    assert customer.phone_e164 == "+12015550142"
    sent = dots.received("POST", "/v2/payment-customers")[0]["body"]
    assert sent["country_code"] == "1" and sent["phone_number"] == "2015550142"
    assert sent["address"]["city"] == "Newark" and sent["metadata"]["ledgerline_key"] == str(customer.idempotency_key)
    actions = list(AuditEvent.objects.filter(object_id=str(customer.pk)).values_list("action", flat=True))
    assert set(actions) >= {"payment_customer.requested", "payment_customer.created"}


def test_customer_with_a_phone_that_is_not_a_number_is_refused_and_nothing_is_saved(dots, clerk):
    with pytest.raises(InvalidCustomer) as refused:
        customers.payment_customer_create(actor=clerk, first_name="Bob", phone="12")
    assert refused.value.code == "invalid-phone"
    assert PaymentCustomer.objects.count() == 0


def test_customer_who_is_also_a_payee_is_linked_to_the_payee(dots, clerk):
    operator = make_user("olive", role=roles.PAYOUTS_OPERATOR)
    payee = payees.payee_create(
        first_name="Pia", last_name="Payee", email="pia@example.com", phone=phone(), actor=operator
    )
    customer = customers.payment_customer_create(actor=clerk, first_name="Pia", last_name="Payee", payee_id=payee.pk)
    assert customer.payee == payee and customer.dots_user_id == payee.dots_user_id
    assert dots.received("POST", "/v2/payment-customers")[0]["body"]["user_id"] == payee.dots_user_id


def test_only_a_receivables_clerk_creates_customers(dots):
    for role in (roles.MANAGER, roles.PAYOUTS_OPERATOR, roles.PAYER):
        with pytest.raises(PermissionRefused):
            customers.payment_customer_create(actor=make_user(f"u-{role}", role=role), first_name="X")
    assert PaymentCustomer.objects.count() == 0


def test_customer_whose_answer_is_lost_is_found_by_its_key_and_not_created_twice(dots, clerk):
    dots.add_fault(method="POST", path="/v2/payment-customers", kind="drop", count=1)
    customer = customers.payment_customer_create(actor=clerk, first_name="Lost", last_name="Answer")
    # The look-up right after the lost answer found it: one customer in Dots, linked here.
    assert customer.status == PaymentCustomer.Status.CREATED and customer.dots_id
    assert len(dots.received("POST", "/v2/payment-customers")) == 1


def test_checkout_session_shows_its_url_and_completes_with_its_intent_succeeded(dots, clerk, customer):
    session = sessions.checkout_session_create(
        actor=clerk,
        customer_id=customer.pk,
        line_items=[
            {"name": "Bread", "unit_amount_cents": 450, "quantity": 4},
            {"name": "Cake", "unit_amount_cents": 2500, "quantity": 1},
        ],
        success_url="https://example.com/thanks",
        cancel_url="https://example.com/cart",
    )
    assert session.status == CheckoutSession.Status.OPEN
    assert session.amount_total_cents == 4300 and session.url.endswith(f"/checkout-sessions/{session.dots_id}/page")
    assert session.expires_at is not None
    assert session.payment_intent.status == PaymentIntent.Status.REQUIRES_PAYMENT_METHOD
    sent = dots.received("POST", "/v2/checkout-sessions")[0]["body"]
    assert sent["line_items"][0]["price_data"] == {"currency": "usd", "amount": 450, "product_data": {"name": "Bread"}}

    dots.control(f"checkout-sessions/{session.dots_id}/complete")
    session = sessions.checkout_session_refresh(checkout_session_id=session.pk, actor=clerk)
    assert session.status == CheckoutSession.Status.COMPLETE
    assert session.payment_intent.status == PaymentIntent.Status.SUCCEEDED
    assert AuditEvent.objects.filter(action="checkout_session.status_changed", object_id=str(session.pk)).exists()


def test_checkout_session_read_after_its_expiry_is_expired(dots, clerk, customer):
    session = sessions.checkout_session_create(
        actor=clerk,
        line_items=[{"name": "Pie", "unit_amount_cents": 900, "quantity": 1}],
        success_url="https://e.com/ok",
    )
    dots.control("clock", {"advance_seconds": 3 * 3600 + 1})
    session = sessions.checkout_session_refresh(checkout_session_id=session.pk, actor=clerk)
    assert session.status == CheckoutSession.Status.EXPIRED
    assert session.payment_intent.status == PaymentIntent.Status.CANCELED


def test_payment_intent_client_secret_is_shown_once_and_kept_nowhere(dots, clerk, customer, caplog):
    caplog.set_level(logging.DEBUG)
    intent, secret = intents.payment_intent_create(
        actor=clerk, amount_cents=12_500, customer_id=customer.pk, labels={"order": "1042"}
    )
    assert secret.startswith(intent.dots_id) and "_secret_" in secret
    assert intent.status == PaymentIntent.Status.REQUIRES_PAYMENT_METHOD
    assert dots.received("POST", "/v2/payment-intents")[0]["body"]["metadata"]["order"] == "1042"
    # Not in the database (any table), not in the audit trail, not in a log line.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                assert secret not in repr(row), table
    assert not any(secret in str(e.changes) + e.reason for e in AuditEvent.objects.all())
    assert secret not in caplog.text


def test_payment_intent_confirmed_with_an_attached_method_succeeds(dots, clerk, customer):
    methods.payment_method_attach(
        payment_customer_id=customer.pk, dots_payment_method_id=bank_account_in_dots(dots), actor=clerk
    )
    method = customer.payment_methods.get()
    intent, _ = intents.payment_intent_create(actor=clerk, amount_cents=5_000, customer_id=customer.pk)
    intent = intents.payment_intent_confirm(payment_intent_id=intent.pk, payment_method_id=method.pk, actor=clerk)
    assert intent.status == PaymentIntent.Status.SUCCEEDED and intent.payment_method == method
    assert AuditEvent.objects.filter(action="payment_intent.confirmed", actor=clerk).exists()
    # Confirming again is refused here, before Dots is asked.
    with pytest.raises(Exception) as again:
        intents.payment_intent_confirm(payment_intent_id=intent.pk, payment_method_id=method.pk, actor=clerk)
    assert again.value.code == "invalid-transition"


def test_manager_reads_but_cannot_create_or_confirm_an_intent(dots, customer):
    manager = make_user("morgan", role=roles.MANAGER)
    assert manager.has_perm("receivables.view_paymentintent")
    with pytest.raises(PermissionRefused):
        intents.payment_intent_create(actor=manager, amount_cents=100, customer_id=customer.pk)


def test_intent_whose_answer_is_lost_is_found_by_its_key(dots, clerk, customer):
    dots.add_fault(method="POST", path="/v2/payment-intents", kind="drop", count=1)
    intent, secret = intents.payment_intent_create(actor=clerk, amount_cents=700, customer_id=customer.pk)
    assert intent.dots_id and secret.startswith(intent.dots_id)  # found in Dots' list, which carries it too
    assert len(dots.received("POST", "/v2/payment-intents")) == 1


def test_intent_outcome_unknown_when_dots_neither_answers_nor_shows_it(dots, clerk, customer):
    dots.add_fault(method="POST", path="/v2/payment-intents", kind="drop", count=1)
    dots.add_fault(method="GET", path="/v2/payment-intents", kind="status", status=503, count=50)
    with pytest.raises(DotsCallError):
        intents.payment_intent_create(actor=clerk, amount_cents=700, customer_id=customer.pk)
    intent = PaymentIntent.objects.get()
    assert intent.status == PaymentIntent.Status.UNKNOWN and not intent.dots_id
    assert AuditEvent.objects.filter(action="payment_intent.outcome_unknown", object_id=str(intent.pk)).exists()
    dots.control("faults/clear")
    # The next refresh (the sync, reconciliation or a person) looks for it by its key first: no second intent.
    intent = intents.payment_intent_refresh(payment_intent_id=intent.pk, actor=clerk)
    assert intent.dots_id and intent.status == PaymentIntent.Status.REQUIRES_PAYMENT_METHOD
    assert len(dots.received("POST", "/v2/payment-intents")) == 1
