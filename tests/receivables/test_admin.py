"""The money-in pages through Django's test client: created on their add page, then read; secrets never echoed."""

import pytest
from django.urls import reverse

from core import roles
from core.models import AuditEvent
from receivables.models import CheckoutSession, Payment, PaymentCustomer, PaymentIntent
from tests.receivables.conftest import bank_account_in_dots
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db

ACCOUNT = "000123456789"


@pytest.fixture
def signed_in(client, clerk):
    login_verified(client, clerk)
    return client


def test_clerk_adds_a_customer_on_its_page_and_reads_it(dots, signed_in):
    response = signed_in.post(
        reverse("admin:receivables_paymentcustomer_add"),
        {"first_name": "Dana", "last_name": "Doe", "email": "dana@example.com", "phone": "201 555 0199",
         "phone_country": "US", "address_line_1": "2 Elm St", "city": "Newark", "state": "NJ", "postcode": "07102"},
        follow=True,
    )  # fmt: skip
    customer = PaymentCustomer.objects.get()
    assert customer.dots_id and customer.phone_e164 == "+12015550199"
    text = response.content.decode()
    assert "Dana Doe: in dots." in text.lower() or "in dots" in text.lower()
    assert "2 Elm St, Newark, NJ 07102, US" in text


def test_a_customer_without_any_name_is_refused_on_the_form(dots, signed_in):
    response = signed_in.post(reverse("admin:receivables_paymentcustomer_add"), {"email": "x@example.com"})
    assert response.status_code == 200 and "name or business name" in response.content.decode()
    assert PaymentCustomer.objects.count() == 0


def test_checkout_session_page_shows_the_url_to_copy_and_its_total(dots, signed_in, customer):
    response = signed_in.post(
        reverse("admin:receivables_checkoutsession_add"),
        {"customer": customer.pk, "success_url": "https://example.com/thanks", "line_1_name": "Bread",
         "line_1_amount": "4.50", "line_1_quantity": "4", "line_2_name": "Cake", "line_2_amount": "$25.00",
         "line_2_quantity": "1"},
        follow=True,
    )  # fmt: skip
    session = CheckoutSession.objects.get()
    text = response.content.decode()
    assert session.status == "open" and session.url in text and "$43.00" in text
    assert "4 × Bread at $4.50 = $18.00" in text


def test_intent_created_page_shows_the_client_secret_once_and_never_again(dots, signed_in, customer):
    response = signed_in.post(
        reverse("admin:receivables_paymentintent_add"),
        {"customer": customer.pk, "amount": "125.00", "labels": "order: 1042"},
    )
    intent = PaymentIntent.objects.get()
    text = response.content.decode()
    secret = text.split('id="client-secret" value="', 1)[1].split('"', 1)[0]
    assert secret.startswith(intent.dots_id + "_secret_")
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    # Not kept: the intent's own page, the list and the audit trail do not show it.
    for url in (
        reverse("admin:receivables_paymentintent_change", args=[intent.pk]),
        reverse("admin:receivables_paymentintent_changelist"),
        reverse("admin:core_auditevent_changelist"),
    ):
        assert secret not in signed_in.get(url).content.decode()
    assert all(secret not in str(e.changes) for e in AuditEvent.objects.all())
    assert intent.labels == {"order": "1042"}


def test_confirm_page_confirms_with_an_attached_method(dots, signed_in, customer, clerk):
    from receivables.services import intents, methods

    method = methods.payment_method_attach(
        payment_customer_id=customer.pk, dots_payment_method_id=bank_account_in_dots(dots), actor=clerk
    )
    intent, _ = intents.payment_intent_create(actor=clerk, amount_cents=5000, customer_id=customer.pk)
    response = signed_in.post(
        reverse("admin:receivables_paymentintent_confirm", args=[intent.pk]), {"payment_method": method.pk}, follow=True
    )
    intent.refresh_from_db()
    assert intent.status == "succeeded" and "confirmed: succeeded" in response.content.decode()


def test_payment_with_a_typed_account_keeps_only_its_last_four(dots, signed_in, customer):
    response = signed_in.post(
        reverse("admin:receivables_payment_add"),
        {"customer": customer.pk, "amount": "250.00", "routing_number": "021000021", "account_number": ACCOUNT,
         "account_type": "checking"},
        follow=True,
    )  # fmt: skip
    payment = Payment.objects.get()
    assert payment.status == "created" and payment.account_last4 == "6789" and payment.dots_transfer_id
    assert ACCOUNT not in response.content.decode()
    sent = dots.received("POST", "/v2/payments")[0]["body"]
    assert sent["customer_id"] == customer.dots_id and sent["metadata"]["ledgerline_key"] == str(
        payment.idempotency_key
    )
    assert all(ACCOUNT not in str(e.changes) + e.reason for e in AuditEvent.objects.all())


def test_payment_form_with_an_error_never_sends_the_account_number_back(dots, signed_in, customer):
    response = signed_in.post(
        reverse("admin:receivables_payment_add"),
        {"customer": customer.pk, "amount": "", "routing_number": "021000021", "account_number": ACCOUNT,
         "account_type": "checking"},
    )  # fmt: skip
    text = response.content.decode()
    assert response.status_code == 200 and ACCOUNT not in text
    assert "For your security, type the account number again." in text
    assert Payment.objects.count() == 0


def test_manager_reads_money_in_pages_but_has_no_add_page(dots, client, customer):
    manager = make_user("morgan", role=roles.MANAGER)
    login_verified(client, manager)
    assert client.get(reverse("admin:receivables_paymentcustomer_change", args=[customer.pk])).status_code == 200
    assert client.get(reverse("admin:receivables_paymentcustomer_add")).status_code == 403
    assert client.get(reverse("admin:receivables_payment_add")).status_code == 403


def test_attach_and_confirm_buttons_show_only_to_those_who_may_use_them(dots, client, clerk, customer):
    from receivables.services import intents

    intent, _ = intents.payment_intent_create(actor=clerk, amount_cents=900, customer_id=customer.pk)
    customer_url = reverse("admin:receivables_paymentcustomer_change", args=[customer.pk])
    intent_url = reverse("admin:receivables_paymentintent_change", args=[intent.pk])
    login_verified(client, clerk)
    assert "Attach a payment method" in client.get(customer_url).content.decode()
    assert "Confirm with a payment method" in client.get(intent_url).content.decode()
    login_verified(client, make_user("morgan", role=roles.MANAGER))
    assert "Attach a payment method" not in client.get(customer_url).content.decode()
    assert "Confirm with a payment method" not in client.get(intent_url).content.decode()


def test_the_same_payment_form_sent_twice_collects_once(dots, signed_in, customer):
    import uuid

    data = {"customer": customer.pk, "amount": "250.00", "routing_number": "021000021", "account_number": ACCOUNT,
            "account_type": "checking", "request_key": str(uuid.uuid4())}  # fmt: skip
    signed_in.post(reverse("admin:receivables_payment_add"), data)
    response = signed_in.post(reverse("admin:receivables_payment_add"), data, follow=True)
    assert Payment.objects.count() == 1 and len(dots.received("POST", "/v2/payments")) == 1
    assert "already sent" in response.content.decode()


def test_a_typed_account_number_is_nowhere_after_a_payment(dots, signed_in, customer, caplog):
    """Every money-in page, the audit export and every log line, searched for the full account number."""
    import logging

    caplog.set_level(logging.DEBUG)
    signed_in.post(
        reverse("admin:receivables_payment_add"),
        {"customer": customer.pk, "amount": "25.00", "routing_number": "021000021", "account_number": ACCOUNT,
         "account_type": "checking"},
    )  # fmt: skip
    payment = Payment.objects.get()
    pages = [reverse(f"admin:receivables_{m}_changelist") for m in ("payment", "paymentcustomer", "paymentmethod")]
    pages += [
        reverse("admin:receivables_payment_change", args=[payment.pk]),
        reverse("admin:core_auditevent_changelist"),
    ]
    for url in pages:
        assert ACCOUNT not in signed_in.get(url).content.decode(), url
    manager = make_user("auditor", role=roles.MANAGER)
    login_verified(signed_in, manager)
    export = signed_in.get(reverse("admin:core_auditevent_export"))
    assert (
        export.status_code == 200
        and ACCOUNT not in b"".join(export.streaming_content if export.streaming else [export.content]).decode()
    )
    assert ACCOUNT not in caplog.text
