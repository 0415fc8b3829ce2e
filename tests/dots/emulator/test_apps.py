"""Apps: the seeded default app, wallet metrics, ACH account masking, deposit/withdraw, flows."""

import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

COMPLIANCE = {
    "company_info": {
        "name": "Ledgerline Inc",
        "website": "https://ledgerline.example",
        "ein": "123456789",
        "incorporation_type": "c_corporation",
        "incorporation_state": "DE",
        "incorporation_date": "2020-01-02",
        "ubo_count": 1,
    },
    "contact_info": {
        "email": "ops@ledgerline.example",
        "phone_number": "+14155550100",
        "line1": "1 Main St",
        "city": "Springfield",
        "zip": "12345",
        "state": "CA",
        "country": "US",
    },
    "directors": [
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "title": "CEO",
            "phone": "5555550101",
            "email": "ada@ledgerline.example",
            "dob": "1980-12-10",
            "ssn": "123456789",
            "ownership_percentage": 100,
            "address": {"line1": "1 Main St", "city": "Austin", "zip": "78701", "state": "TX", "country": "US"},
        }
    ],
    "flow_of_funds": {"reasons": "vendor payments", "usage": "accounts payable"},
}


def wallet_balance(session, app_id):
    return session.get(f"/v2/apps/{app_id}").json()["metrics"]["wallet_balance"]


def test_reset_seeds_a_default_app_with_a_funded_wallet(emulator, openapi_session):
    app = openapi_session.get(f"/v2/apps/{emulator.app_id}").json()
    assert app["status"] == "approved"
    assert app["metrics"]["wallet_balance"] == "100000.00"


def test_list_apps_is_a_bare_array_holding_the_default_app(emulator, openapi_session):
    apps = openapi_session.get("/v2/apps").json()
    assert [a["id"] for a in apps] == [emulator.app_id]


def test_create_app_answers_201_with_an_empty_wallet(emulator, openapi_session):
    response = openapi_session.post("/v2/apps", json={"name": "Second app"})
    assert response.status_code == 201
    assert response.json()["metrics"]["wallet_balance"] == "0.00"


def test_create_app_with_a_short_name_is_refused(emulator, openapi_session):
    response = openapi_session.post("/v2/apps", json={"name": "ab"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-input"
    assert "name" in response.json()["error"]


def test_retrieve_unknown_app_is_404(emulator, openapi_session):
    response = openapi_session.get(f"/v2/apps/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"error": "app not found", "error_code": "not-found"}


def test_seed_apps_control_creates_an_app_with_a_balance(emulator, openapi_session):
    seeded = emulator.control("seed/apps", {"name": "Funded", "balance": 12345})["data"][0]
    assert wallet_balance(openapi_session, seeded["id"]) == "123.45"


def test_ach_account_is_answered_masked_to_the_last_four(emulator, openapi_session):
    response = openapi_session.put(
        f"/v2/apps/{emulator.app_id}/ach-account",
        json={"account_number": "987654321", "routing_number": "021000021", "account_type": "savings"},
    )
    assert response.status_code == 200
    assert response.json()["mask"] == "4321"
    assert "987654321" not in response.text
    assert "987654321" not in openapi_session.get(f"/v2/apps/{emulator.app_id}/ach-account").text


def test_ach_account_with_a_short_routing_number_is_refused(emulator, openapi_session):
    response = openapi_session.put(
        f"/v2/apps/{emulator.app_id}/ach-account",
        json={"account_number": "987654321", "routing_number": "0210", "account_type": "checking"},
    )
    assert response.status_code == 400
    assert "routing_number" in response.json()["error"]


def test_deposit_credits_the_wallet_only_when_its_transfer_completes(emulator, openapi_session):
    transfer = openapi_session.post(
        f"/v2/apps/{emulator.app_id}/deposit", json={"amount": 5000, "idempotency_key": str(uuid.uuid4())}
    ).json()
    assert transfer["type"] == "refill" and transfer["status"] == "created"
    assert wallet_balance(openapi_session, emulator.app_id) == "100000.00"
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "completed"})
    assert wallet_balance(openapi_session, emulator.app_id) == "100050.00"


def test_withdraw_debits_the_wallet_at_once(emulator, openapi_session):
    response = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": 10_000})
    assert response.status_code == 200
    assert wallet_balance(openapi_session, emulator.app_id) == "99900.00"


def test_withdraw_more_than_the_wallet_holds_is_refused_and_moves_nothing(emulator, openapi_session):
    response = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": 10_000_001})
    assert response.status_code == 400
    assert response.json()["error_code"] == "transaction-insufficient-funds"
    assert wallet_balance(openapi_session, emulator.app_id) == "100000.00"
    assert openapi_session.get("/v2/transfers").json()["data"] == []


def test_failed_withdrawal_refunds_the_wallet(emulator, openapi_session):
    transfer = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": 10_000}).json()
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "failed", "reason": "account closed"})
    assert wallet_balance(openapi_session, emulator.app_id) == "100000.00"


def test_compliance_is_404_until_put_then_returned(emulator, openapi_session):
    assert openapi_session.get(f"/v2/apps/{emulator.app_id}/compliance").status_code == 404
    assert openapi_session.put(f"/v2/apps/{emulator.app_id}/compliance", json=COMPLIANCE).status_code == 200
    assert openapi_session.get(f"/v2/apps/{emulator.app_id}/compliance").json()["company_info"]["ein"] == "123456789"


def test_compliance_without_a_section_is_refused(emulator, openapi_session):
    body = {k: v for k, v in COMPLIANCE.items() if k != "flow_of_funds"}
    response = openapi_session.put(f"/v2/apps/{emulator.app_id}/compliance", json=body)
    assert response.status_code == 400
    assert "flow_of_funds" in response.json()["error"]


def _new_app(openapi_session) -> str:
    return openapi_session.post("/v2/apps", json={"name": "Awaiting KYB"}).json()["id"]


def test_kyb_flow_answers_201_with_a_pending_url_for_72_hours(emulator, openapi_session):
    response = openapi_session.post(f"/v2/apps/{_new_app(openapi_session)}/kyb-flow")
    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    expires = datetime.fromisoformat(response.json()["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=71, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=72)


def test_a_new_kyb_flow_link_stops_the_previous_one(emulator, openapi_session):
    app_id = _new_app(openapi_session)
    first = openapi_session.post(f"/v2/apps/{app_id}/kyb-flow").json()["url"]
    second = openapi_session.post(f"/v2/apps/{app_id}/kyb-flow").json()["url"]
    assert first != second
    assert requests.get(second).status_code == 200
    assert requests.get(first).status_code == 404


def test_a_kyb_flow_link_stops_after_72_hours(emulator, openapi_session):
    url = openapi_session.post(f"/v2/apps/{_new_app(openapi_session)}/kyb-flow").json()["url"]
    emulator.control("clock", {"advance_seconds": 72 * 3600})
    assert requests.get(url).status_code == 410


def test_no_kyb_flow_for_an_app_already_approved(emulator, openapi_session):
    response = openapi_session.post(f"/v2/apps/{emulator.app_id}/kyb-flow")
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["company_info"].update(ubo_count=2), "ubo_count"),
        (lambda b: b["directors"][0].update(ownership_percentage=101), "ownership_percentage"),
        (lambda b: b["directors"][0].pop("ssn"), "ssn"),
        (lambda b: b["company_info"].update(incorporation_date="2020-13-01"), "incorporation_date"),
        (lambda b: b["company_info"].update(incorporation_type="trust"), "incorporation_type"),
    ],
)
def test_compliance_dots_would_refuse_is_refused_naming_the_field(emulator, openapi_session, change, field):
    body = copy.deepcopy(COMPLIANCE)
    change(body)
    response = openapi_session.put(f"/v2/apps/{emulator.app_id}/compliance", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]


def test_older_compliance_flow_answers_200_with_a_bare_url_string(emulator, openapi_session):
    response = openapi_session.post(f"/v2/apps/{_new_app(openapi_session)}/compliance-flow")
    assert response.status_code == 200
    assert response.json().startswith("http")


@pytest.mark.parametrize("field", ["refill_amount", "refill_threshold"])
def test_change_settings_refuses_refill_values_below_the_minimum(emulator, openapi_session, field):
    response = openapi_session.post(f"/v2/apps/{emulator.app_id}/change_settings", json={field: 999})
    assert response.status_code == 400
    assert field in response.json()["error"]


def test_change_settings_keeps_earlier_changes(emulator, openapi_session):
    openapi_session.post(f"/v2/apps/{emulator.app_id}/change_settings", json={"auto_refill_active": True})
    settings = openapi_session.post(f"/v2/apps/{emulator.app_id}/change_settings", json={"refill_amount": 5000}).json()
    assert settings["auto_refill_active"] is True and settings["refill_amount"] == 5000


def test_deposit_to_an_app_without_an_ach_account_is_refused(emulator, openapi_session):
    app = openapi_session.post("/v2/apps", json={"name": "No bank"}).json()
    response = openapi_session.post(f"/v2/apps/{app['id']}/deposit", json={"amount": 100})
    assert response.status_code == 400
    assert response.json()["error_code"] == "ach-account-missing"


def test_organization_balance_is_the_sum_of_its_app_wallets(emulator, openapi_session):
    emulator.control("seed/apps", {"name": "Second", "balance": 250})
    assert openapi_session.get("/v2/organizations").json()["balance"] == 10_000_250


def test_compliance_is_copied_between_apps(emulator, openapi_session):
    other = openapi_session.post("/v2/apps", json={"name": "Copy target"}).json()
    openapi_session.put(f"/v2/apps/{emulator.app_id}/compliance", json=COMPLIANCE)
    response = openapi_session.put(
        "/v2/organizations/copy-compliance-information-between-apps",
        json={"source_app_id": emulator.app_id, "destination_app_id": other["id"]},
    )
    assert response.json()["success"] is True
    assert openapi_session.get(f"/v2/apps/{other['id']}/compliance").json() == COMPLIANCE
