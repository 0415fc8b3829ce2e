"""DotsClient collection operations against the emulator: payments, customers, and the
older spec's payment intents, payment methods and checkout sessions."""

import pytest

from dots.client import DotsClient
from dots.errors import DotsInvalidRequest
from dots.retry import RetryPolicy
from dots.types import DotsObject, Transfer

ADDRESS = {"line1": "1 Main St", "city": "Austin", "state": "TX", "zip": "78701", "country": "US"}


@pytest.fixture
def client(emulator, openapi_session):
    return DotsClient(
        emulator.base_url,
        emulator.client_id,
        emulator.api_key,
        session=openapi_session,
        retry=RetryPolicy(sleep=lambda s: None),
    )


def new_customer(client, email="payer@example.com"):
    return client.create_payment_customer(email=email, first_name="Pat", last_name="Payer", metadata={"crm": "c-1"})


def bank_method(emulator, customer_id=None):
    body = {"platform": "ach", "routing_number": "021000021", "account_number": "55501234"}
    if customer_id:
        body["customer_id"] = customer_id
    return emulator.control("payment-methods", body)


def test_payment_customer_create_retrieve_list(client):
    customer = new_customer(client)
    assert isinstance(customer, DotsObject) and customer["email"] == "payer@example.com"
    assert client.retrieve_payment_customer(payment_customer_id=customer["id"])["id"] == customer["id"]
    page = client.list_payment_customers(limit=5)
    assert [c["id"] for c in page.items] == [customer["id"]]
    assert [c["id"] for c in client.iter_payment_customers()] == [customer["id"]]


def test_create_payment_with_ach_info(client):
    customer = new_customer(client)
    transfer = client.create_payment(
        amount=19_99,
        platform="ach",
        customer_id=customer["id"],
        ach_info={"account_number": "123456789", "routing_number": "021000021", "account_type": "checking"},
    )
    assert isinstance(transfer, Transfer)
    assert transfer.amount == 1999 and transfer.type == "payment"


def test_create_payment_needs_exactly_one_payer(client):
    with pytest.raises(DotsInvalidRequest) as caught:
        client.create_payment(
            amount=100,
            platform="ach",
            ach_info={"account_number": "123456789", "routing_number": "021000021", "account_type": "checking"},
        )
    assert caught.value.error_code == "invalid-input"


def test_payment_methods_attach_detach_list_retrieve(client, emulator):
    customer = new_customer(client)
    method = bank_method(emulator)
    attached = client.attach_payment_method(payment_method_id=method["id"], customer_id=customer["id"])
    assert attached["id"] == method["id"]
    assert client.retrieve_payment_method(payment_method_id=method["id"])["id"] == method["id"]
    page = client.list_payment_methods(customer_id=customer["id"], limit=10)
    assert [m["id"] for m in page.items] == [method["id"]]
    client.detach_payment_method(payment_method_id=method["id"], customer_id=customer["id"])
    with pytest.raises(DotsInvalidRequest) as caught:
        client.detach_payment_method(payment_method_id=method["id"])
    assert caught.value.error_code == "invalid-state-transition"


def test_payment_intent_create_confirm_list_retrieve(client, emulator):
    customer = new_customer(client)
    method = bank_method(emulator, customer_id=customer["id"])
    intent = client.create_payment_intent(amount=42_00, currency="usd", customer_id=customer["id"])
    assert intent["status"] == "requires_payment_method"
    confirmed = client.confirm_payment_intent(payment_intent_id=intent["id"], payment_method_id=method["id"])
    assert confirmed["status"] != "requires_payment_method"
    assert client.retrieve_payment_intent(payment_intent_id=intent["id"])["id"] == intent["id"]
    intents = client.list_payment_intents()
    assert isinstance(intents, list) and [i["id"] for i in intents] == [intent["id"]]


def test_checkout_session_create_retrieve_list(client):
    session = client.create_checkout_session(
        line_items=[
            {"price_data": {"currency": "usd", "amount": 15_00, "product_data": {"name": "Widget"}}, "quantity": 2}
        ],
        success_url="https://ledgerline.example/ok",
        cancel_url="https://ledgerline.example/cancel",
        mode="payment",
        customer_email="buyer@example.com",
        client_reference_id="order-9",
    )
    assert session["amount_total"] == 3000 and session["status"] == "open"
    assert client.retrieve_checkout_session(checkout_session_id=session["id"])["id"] == session["id"]
    items, has_more = client.list_checkout_sessions(limit=3)
    assert [s["id"] for s in items] == [session["id"]] and not has_more
    assert [s["id"] for s in client.iter_checkout_sessions()] == [session["id"]]
