"""Money in: payments, payment customers, and the January 2026 payment intents, payment methods, checkout sessions."""

import itertools
import uuid

import pytest
import requests

DEFAULT_WALLET_CENTS = 10_000_000
ACH_INFO = {"account_number": "000123456789", "routing_number": "021000021", "account_type": "checking"}

# A distinct phone number per user: a repeated one is refused (user-already-exists).
PHONES = itertools.count(4155551000)


@pytest.fixture
def wallet(emulator, openapi_session):
    def read() -> int:
        dollars = openapi_session.get(f"/v2/apps/{emulator.app_id}").json()["metrics"]["wallet_balance"]
        return round(float(dollars) * 100)

    return read


def new_customer(session, **fields):
    response = session.post("/v2/payment-customers", json={"first_name": "Pat", "email": "pat@example.com", **fields})
    assert response.status_code == 200, response.text
    return response.json()


def new_method(emulator, **fields):
    return emulator.control("payment-methods", {"platform": "ach", "routing_number": "021000021",
                                                "account_number": "000987654321", **fields})  # fmt: skip


def new_user(session):
    return session.post(
        "/v2/users",
        json={"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "country_code": "1",
              "phone_number": str(next(PHONES))},
    ).json()  # fmt: skip


# -- payments --------------------------------------------------------------------------------------


def test_payment_by_a_customer_credits_the_wallet_when_its_transfer_completes(emulator, openapi_session, wallet):
    customer = new_customer(openapi_session)
    response = openapi_session.post(
        "/v2/payments", json={"customer_id": customer["id"], "amount": 5000, "platform": "ach", "ach_info": ACH_INFO}
    )
    assert response.status_code == 201
    transfer = response.json()
    assert transfer["type"] == "payment" and transfer["status"] == "created"
    assert wallet() == DEFAULT_WALLET_CENTS
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "completed"})
    assert wallet() == DEFAULT_WALLET_CENTS + 5000


def test_payment_by_a_user_from_their_saved_ach_account(emulator, openapi_session):
    user = new_user(openapi_session)
    method = openapi_session.put(
        f"/v2/users/{user['id']}/payout-methods",
        json={"platform": "ach", "routing_number": "021000021", "account_number": "000123456789"},
    ).json()
    response = openapi_session.post(
        "/v2/payments", json={"user_id": user["id"], "amount": 700, "platform": "ach", "account_id": method["id"]}
    )
    assert response.status_code == 201
    assert response.json()["external_data"] == {"platform": "ach", "account_id": method["id"]}


def test_payment_naming_both_user_and_customer_is_refused(emulator, openapi_session):
    response = openapi_session.post(
        "/v2/payments",
        json={"user_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "amount": 1, "platform": "ach",
              "ach_info": ACH_INFO},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "exactly one of user_id or customer_id is required"


def test_payment_with_a_short_account_number_is_refused(emulator, openapi_session):
    customer = new_customer(openapi_session)
    response = openapi_session.post(
        "/v2/payments",
        json={"customer_id": customer["id"], "amount": 1, "platform": "ach",
              "ach_info": {**ACH_INFO, "account_number": "123"}},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "ach_info.account_number must be 7 to 17 digits"


# -- payment customers -----------------------------------------------------------------------------


def test_create_customer_answers_200_and_can_be_retrieved(emulator, openapi_session):
    customer = new_customer(openapi_session, metadata={"crm": "c-9"})
    assert openapi_session.get(f"/v2/payment-customers/{customer['id']}").json() == customer


def test_create_customer_with_a_bad_email_is_refused(emulator, openapi_session):
    response = openapi_session.post("/v2/payment-customers", json={"email": "not-an-email"})
    assert response.status_code == 400
    assert response.json() == {"error": "email must be an email address", "error_code": "invalid-input"}


def test_list_customers_is_enveloped(emulator, openapi_session):
    customer = new_customer(openapi_session)
    page = openapi_session.get("/v2/payment-customers").json()
    assert [c["id"] for c in page["data"]] == [customer["id"]] and page["has_more"] is False


def test_retrieve_unknown_customer_is_404(emulator, openapi_session):
    assert openapi_session.get(f"/v2/payment-customers/{uuid.uuid4()}").status_code == 404


# -- payment methods -------------------------------------------------------------------------------


def test_attach_then_list_by_customer(emulator, openapi_session):
    customer = new_customer(openapi_session)
    method = new_method(emulator)
    response = openapi_session.post(f"/v2/payment-methods/{method['id']}/attach", json={"customer_id": customer["id"]})
    assert response.status_code == 200 and response.json()["mask"] == "4321"
    page = openapi_session.get("/v2/payment-methods", params={"customer_id": customer["id"]}).json()
    assert [m["id"] for m in page["data"]] == [method["id"]]


def test_attach_a_method_of_another_customer_is_refused(emulator, openapi_session):
    first, second = new_customer(openapi_session), new_customer(openapi_session)
    method = new_method(emulator, customer_id=first["id"])
    response = openapi_session.post(f"/v2/payment-methods/{method['id']}/attach", json={"customer_id": second["id"]})
    assert response.status_code == 400
    assert response.json()["error_code"] == "payment-method-already-attached"


def test_detach_unties_the_method(emulator, openapi_session):
    customer = new_customer(openapi_session)
    method = new_method(emulator, customer_id=customer["id"])
    assert openapi_session.post(f"/v2/payment-methods/{method['id']}/detach", json={}).status_code == 200
    page = openapi_session.get("/v2/payment-methods", params={"customer_id": customer["id"]}).json()
    assert page["data"] == []


def test_detach_a_method_that_is_not_attached_is_refused(emulator, openapi_session):
    method = new_method(emulator)
    response = openapi_session.post(f"/v2/payment-methods/{method['id']}/detach", json={})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


def test_retrieve_payment_method_never_shows_the_account_number(emulator, openapi_session):
    method = new_method(emulator)
    response = openapi_session.get(f"/v2/payment-methods/{method['id']}")
    assert response.status_code == 200 and response.json()["platform"] == "ach"
    assert "000987654321" not in response.text


# -- payment intents -------------------------------------------------------------------------------


def test_intent_without_a_method_requires_one(emulator, openapi_session):
    response = openapi_session.post("/v2/payment-intents", json={"amount": 1200, "currency": "usd"})
    assert response.status_code == 200
    assert response.json()["status"] == "requires_payment_method"


def test_confirm_succeeds_the_intent_and_creates_a_payment_transfer(emulator, openapi_session, wallet):
    method = new_method(emulator)
    intent = openapi_session.post("/v2/payment-intents", json={"amount": 1200, "currency": "usd"}).json()
    response = openapi_session.post(
        f"/v2/payment-intents/{intent['id']}/confirm", json={"payment_method_id": method["id"]}
    )
    assert response.status_code == 200
    confirmed = response.json()
    assert confirmed["status"] == "succeeded"
    emulator.control(f"transfers/{confirmed['transfer_id']}/advance", {"status": "completed"})
    assert wallet() == DEFAULT_WALLET_CENTS + 1200


def test_confirming_twice_is_an_invalid_transition(emulator, openapi_session):
    method = new_method(emulator)
    intent = openapi_session.post(
        "/v2/payment-intents",
        json={"amount": 1200, "currency": "usd", "payment_method_id": method["id"], "confirm": True},
    ).json()
    assert intent["status"] == "succeeded"
    response = openapi_session.post(
        f"/v2/payment-intents/{intent['id']}/confirm", json={"payment_method_id": method["id"]}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


def test_list_intents_is_a_bare_array(emulator, openapi_session):
    intent = openapi_session.post("/v2/payment-intents", json={"amount": 1200, "currency": "usd"}).json()
    assert openapi_session.get("/v2/payment-intents").json() == [intent]
    assert openapi_session.get(f"/v2/payment-intents/{intent['id']}").json() == intent


def test_retrieve_unknown_intent_is_404_with_the_spec_message(emulator, openapi_session):
    response = openapi_session.get(f"/v2/payment-intents/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"] == "PaymentIntent not found"


# -- checkout sessions -----------------------------------------------------------------------------


def line_item(amount=1500, quantity=2):
    return {
        "price_data": {"currency": "usd", "amount": amount, "product_data": {"name": "Widget"}},
        "quantity": quantity,
    }


def new_session(session, **fields):
    body = {"success_url": "https://shop.example.com/ok", "mode": "payment", "line_items": [line_item()], **fields}
    response = session.post("/v2/checkout-sessions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_create_session_is_open_with_the_total_and_an_intent(emulator, openapi_session):
    checkout = new_session(openapi_session)
    assert checkout["status"] == "open" and checkout["amount_total"] == 3000
    intent = openapi_session.get(f"/v2/payment-intents/{checkout['payment_intent_id']}").json()
    assert intent["amount"] == 3000 and intent["status"] == "requires_payment_method"


def test_create_session_without_line_items_is_refused(emulator, openapi_session):
    response = openapi_session.post(
        "/v2/checkout-sessions", json={"success_url": "https://x.example.com", "mode": "payment", "line_items": []}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "line_items must be a non-empty array"


def test_completed_session_has_a_succeeded_intent(emulator, openapi_session):
    checkout = new_session(openapi_session)
    emulator.control(f"checkout-sessions/{checkout['id']}/complete")
    assert openapi_session.get(f"/v2/checkout-sessions/{checkout['id']}").json()["status"] == "complete"
    intent = openapi_session.get(f"/v2/payment-intents/{checkout['payment_intent_id']}").json()
    assert intent["status"] == "succeeded"


def test_session_read_after_its_expiry_is_expired_and_cannot_complete(emulator, openapi_session):
    checkout = new_session(openapi_session, expires_in=60)
    emulator.control("clock", {"advance_seconds": 61})
    assert openapi_session.get("/v2/checkout-sessions").json()["data"][0]["status"] == "expired"
    response = requests.post(
        f"{emulator.root}/_emulator/checkout-sessions/{checkout['id']}/complete", json={}, timeout=5
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


def test_retrieve_unknown_session_is_404(emulator, openapi_session):
    assert openapi_session.get(f"/v2/checkout-sessions/{uuid.uuid4()}").status_code == 404


def test_intent_for_a_destination_user_pays_them_less_the_fee_on_completion(emulator, openapi_session, wallet):
    user = new_user(openapi_session)
    method = new_method(emulator)
    intent = openapi_session.post(
        "/v2/payment-intents",
        json={"amount": 1000, "currency": "usd", "payment_method_id": method["id"], "confirm": True,
              "transfer_data": {"destination_user_id": user["id"]}, "application_fee_amount": 150},
    ).json()  # fmt: skip
    emulator.control(f"transfers/{intent['transfer_id']}/advance", {"status": "completed"})
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["wallet"]["amount"] == 850
    assert wallet() == DEFAULT_WALLET_CENTS + 150


def test_failed_payment_transfer_fails_the_intent(emulator, openapi_session):
    method = new_method(emulator)
    intent = openapi_session.post(
        "/v2/payment-intents",
        json={"amount": 1000, "currency": "usd", "payment_method_id": method["id"], "confirm": True},
    ).json()
    emulator.control(f"transfers/{intent['transfer_id']}/advance", {"status": "failed", "reason": "card declined"})
    assert openapi_session.get(f"/v2/payment-intents/{intent['id']}").json()["status"] == "failed"
