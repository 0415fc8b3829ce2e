"""Payout links: funding from the wallet, delivery, claim (a transfer), cancel/expire refunds, redeliver, webhooks."""

import uuid

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.openapi_check import spec_dir

PAYEE = {"first_name": "Grace", "last_name": "Hopper", "country_code": "1", "phone_number": "4155550142",
         "email": "grace@example.com"}  # fmt: skip
DEFAULT_WALLET_CENTS = 10_000_000


@pytest.fixture
def wallet(emulator, openapi_session):
    def read() -> int:
        dollars = openapi_session.get(f"/v2/apps/{emulator.app_id}").json()["metrics"]["wallet_balance"]
        return round(float(dollars) * 100)

    return read


def create_link(session, **overrides):
    body = {"amount": 2500, "payee": PAYEE, "delivery": {"method": "sms"}, **overrides}
    response = session.post("/v2/payout-links", json=body)
    assert response.status_code in (201, 202), response.text
    return response.json()


def advance(emulator, link_id, status, **extra):
    return emulator.control(f"payout-links/{link_id}/advance", {"status": status, **extra})


def events(emulator, prefix):
    return [e for e in emulator.control_get("webhooks", {"limit": 100})["data"] if e["type"].startswith(prefix)]


# -- create ---------------------------------------------------------------------------------------------


def test_create_link_answers_201_and_debits_the_wallet(emulator, openapi_session, wallet):
    link = create_link(openapi_session, amount=2500)
    assert link["amount"] == 2500
    assert wallet() == DEFAULT_WALLET_CENTS - 2500


def test_create_link_delivered_by_sms_is_sent(emulator, openapi_session):
    assert create_link(openapi_session)["status"] == "sent"


def test_create_link_with_link_delivery_stays_created(emulator, openapi_session):
    assert create_link(openapi_session, delivery={"method": "link"})["status"] == "created"


def test_create_link_funded_by_ach_answers_202_without_debiting(emulator, openapi_session, wallet):
    response = openapi_session.post("/v2/payout-links", json={"amount": 2500, "funding_source": "ach"})
    assert response.status_code == 202
    assert wallet() == DEFAULT_WALLET_CENTS


def test_create_link_beyond_the_wallet_is_insufficient_funds_and_stores_nothing(emulator, openapi_session, wallet):
    response = openapi_session.post("/v2/payout-links", json={"amount": DEFAULT_WALLET_CENTS + 1, "payee": PAYEE})
    assert response.status_code == 400
    assert response.json()["error_code"] == "transaction-insufficient-funds"
    assert openapi_session.get("/v2/payout-links").json()["data"] == []
    assert wallet() == DEFAULT_WALLET_CENTS


def test_create_link_with_an_unknown_field_is_refused(emulator, openapi_session):
    response = openapi_session.post("/v2/payout-links", json={"amount": 100, "colour": "blue"})
    assert response.status_code == 400
    assert response.json() == {"error": "unknown field(s): colour", "error_code": "invalid-input"}


def test_create_link_for_an_unknown_user_is_404(emulator, openapi_session):
    response = openapi_session.post("/v2/payout-links", json={"amount": 100, "user_id": str(uuid.uuid4())})
    assert response.status_code == 404


def test_create_link_replayed_with_the_same_key_returns_the_first_link_and_debits_once(
    emulator, openapi_session, wallet
):
    key = str(uuid.uuid4())
    first = openapi_session.post("/v2/payout-links", json={"amount": 2500, "payee": PAYEE, "idempotency_key": key})
    again = openapi_session.post("/v2/payout-links", json={"amount": 9999, "payee": PAYEE, "idempotency_key": key})
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert wallet() == DEFAULT_WALLET_CENTS - 2500


# -- read -----------------------------------------------------------------------------------------------------


def test_list_links_is_enveloped_newest_first(emulator, openapi_session):
    older = create_link(openapi_session)
    newer = create_link(openapi_session)
    page = openapi_session.get("/v2/payout-links").json()
    assert [each["id"] for each in page["data"]] == [newer["id"], older["id"]] and page["has_more"] is False


def test_retrieve_unknown_link_is_404(emulator, openapi_session):
    response = openapi_session.get(f"/v2/payout-links/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"error": "payout link not found", "error_code": "not-found"}


# -- claim -------------------------------------------------------------------------------------------------------


def test_claim_creates_a_payout_transfer_to_the_claimant(emulator, openapi_session):
    link = create_link(openapi_session)
    advance(emulator, link["id"], "claimed")
    claimed = openapi_session.get(f"/v2/payout-links/{link['id']}").json()
    assert claimed["status"] == "claimed"
    transfer = openapi_session.get(f"/v2/transfers/{claimed['transfer_id']}").json()
    assert transfer["type"] == "payout" and transfer["amount"] == 2500
    assert transfer["user_id"] == claimed["claimed_user_id"] and transfer["payout_link_id"] == link["id"]


def test_claim_by_a_new_payee_makes_them_a_verified_user(emulator, openapi_session):
    link = create_link(openapi_session)
    claimed = advance(emulator, link["id"], "claimed")
    user = openapi_session.get(f"/v2/users/{claimed['claimed_user_id']}").json()
    assert user["status"] == "verified" and user["phone_number"]["phone_number"] == PAYEE["phone_number"]


def test_claim_emits_claimed_and_paid_out_webhooks(emulator, openapi_session):
    link = create_link(openapi_session)
    advance(emulator, link["id"], "claimed")
    types = {e["type"] for e in events(emulator, "payout_link.")}
    assert {"payout_link.sent", "payout_link.updated", "payout_link.claimed", "payout_link.paid_out"} <= types


def test_failed_claim_transfer_fails_the_link_and_refunds_the_wallet(emulator, openapi_session, wallet):
    link = create_link(openapi_session)
    claimed = advance(emulator, link["id"], "claimed")
    emulator.control(f"transfers/{claimed['transfer_id']}/advance", {"status": "failed", "reason": "account closed"})
    assert openapi_session.get(f"/v2/payout-links/{link['id']}").json()["status"] == "failed"
    assert wallet() == DEFAULT_WALLET_CENTS


def test_claimed_link_cannot_be_canceled(emulator, openapi_session):
    link = create_link(openapi_session)
    advance(emulator, link["id"], "claimed")
    response = openapi_session.delete(f"/v2/payout-links/{link['id']}")
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


def test_link_lifecycle_immediate_claims_on_create(emulator, openapi_session):
    emulator.settings(payout_link={"mode": "immediate", "outcome": "claimed"})
    assert create_link(openapi_session)["status"] == "claimed"


# -- cancel / expire ------------------------------------------------------------------------------------------------


def test_delete_cancels_the_link_and_refunds_the_wallet(emulator, openapi_session, wallet):
    link = create_link(openapi_session)
    response = openapi_session.delete(f"/v2/payout-links/{link['id']}")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert wallet() == DEFAULT_WALLET_CENTS


def test_expired_link_refunds_the_wallet_once(emulator, openapi_session, wallet):
    link = create_link(openapi_session)
    advance(emulator, link["id"], "expired")
    with pytest.raises(AssertionError):
        advance(emulator, link["id"], "canceled")
    assert wallet() == DEFAULT_WALLET_CENTS


# -- redeliver --------------------------------------------------------------------------------------------------------


def test_redeliver_a_sent_link_answers_redelivered_true(emulator, openapi_session):
    link = create_link(openapi_session)
    response = openapi_session.post(f"/v2/payout-links/{link['id']}/redeliver", json={})
    assert response.status_code == 200
    assert response.json()["redelivered"] is True and response.json()["payout_link"]["id"] == link["id"]


def test_redeliver_stops_after_five_deliveries(emulator, openapi_session):
    link = create_link(openapi_session)  # delivery 1
    answers = [openapi_session.post(f"/v2/payout-links/{link['id']}/redeliver", json={}).json() for _ in range(5)]
    assert [a["redelivered"] for a in answers] == [True, True, True, True, False]


def test_redeliver_a_canceled_link_is_refused(emulator, openapi_session):
    link = create_link(openapi_session)
    openapi_session.delete(f"/v2/payout-links/{link['id']}")
    response = openapi_session.post(f"/v2/payout-links/{link['id']}/redeliver", json={})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


def test_payout_link_events_match_the_webhook_catalog(emulator, openapi_session):
    catalog = yaml.safe_load((spec_dir() / "webhooks.yaml").read_text())
    link = create_link(openapi_session)
    advance(emulator, link["id"], "claimed")
    advance(emulator, link["id"], "failed", reason="bank rejected")
    sent = events(emulator, "payout_link.")
    assert {e["type"] for e in sent} == {
        "payout_link.sent", "payout_link.updated", "payout_link.claimed", "payout_link.paid_out", "payout_link.failed"
    }  # fmt: skip
    for event in sent:
        ref = catalog["webhooks"][event["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = catalog["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        assert list(Draft202012Validator(schema).iter_errors(event["payload"])) == [], event["type"]
