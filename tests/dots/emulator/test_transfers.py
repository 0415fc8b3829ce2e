"""Transfers: creation against a user, the lifecycle controls and settings, listing, webhooks data."""

import uuid

import pytest


@pytest.fixture
def user_id(emulator, openapi_session):
    response = openapi_session.post(
        "/v2/users",
        json={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": f"ada-{uuid.uuid4().hex[:6]}@example.com",
            "country_code": "1",
            "phone_number": "4155550100",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def withdraw(session, emulator, amount=1000):
    return session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": amount}).json()


def test_create_transfer_to_a_user_debits_the_wallet(emulator, openapi_session, user_id):
    response = openapi_session.post("/v2/transfers", json={"amount": 2500, "user_id": user_id})
    assert response.status_code == 200
    assert response.json()["status"] == "created" and response.json()["user_id"] == user_id
    app = openapi_session.get(f"/v2/apps/{emulator.app_id}").json()
    assert app["metrics"]["wallet_balance"] == "99975.00"


def test_create_transfer_for_an_unknown_user_is_404(emulator, openapi_session):
    response = openapi_session.post("/v2/transfers", json={"amount": 2500, "user_id": str(uuid.uuid4())})
    assert response.status_code == 404
    assert response.json()["error_code"] == "not-found"


def test_create_transfer_without_amount_names_the_field(emulator, openapi_session):
    response = openapi_session.post("/v2/transfers", json={"user_id": str(uuid.uuid4())})
    assert response.status_code == 400
    assert response.json() == {"error": "amount is required", "error_code": "invalid-input"}


def test_transfer_has_one_transaction_with_an_integer_id(emulator, openapi_session):
    transfer = withdraw(openapi_session, emulator)
    [transaction] = transfer["transactions"]
    assert isinstance(transaction["id"], int) and transaction["transfer_id"] == transfer["id"]


def test_advance_control_moves_created_to_pending_to_completed(emulator, openapi_session):
    transfer = withdraw(openapi_session, emulator)
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "pending"})
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "completed"})
    assert openapi_session.get(f"/v2/transfers/{transfer['id']}").json()["status"] == "completed"


def test_failed_transfer_keeps_its_reason(emulator, openapi_session):
    transfer = withdraw(openapi_session, emulator)
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "failed", "reason": "R01 insufficient funds"})
    fetched = openapi_session.get(f"/v2/transfers/{transfer['id']}").json()
    assert fetched["status"] == "failed" and fetched["failure_reason"] == "R01 insufficient funds"


def test_completed_transfer_cannot_fail_afterwards(emulator, openapi_session):
    transfer = withdraw(openapi_session, emulator)
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "completed"})
    response = emulator._http.post(
        f"{emulator.root}/_emulator/transfers/{transfer['id']}/advance", json={"status": "failed"}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"
    assert "completed" in response.json()["error"] and "failed" in response.json()["error"]


def test_immediate_setting_completes_transfers_when_created(emulator, openapi_session):
    emulator.settings(transfer={"mode": "immediate"})
    assert withdraw(openapi_session, emulator)["status"] == "completed"


def test_on_read_setting_completes_a_transfer_on_the_nth_read(emulator, openapi_session):
    emulator.settings(transfer={"mode": "on_read", "reads": 2, "outcome": "failed", "reason": "bank said no"})
    transfer = withdraw(openapi_session, emulator)
    assert openapi_session.get(f"/v2/transfers/{transfer['id']}").json()["status"] == "created"
    second = openapi_session.get(f"/v2/transfers/{transfer['id']}").json()
    assert second["status"] == "failed" and second["failure_reason"] == "bank said no"


def test_list_transfers_is_enveloped_newest_first(emulator, openapi_session):
    first = withdraw(openapi_session, emulator)
    second = withdraw(openapi_session, emulator)
    page = openapi_session.get("/v2/transfers").json()
    assert [t["id"] for t in page["data"]] == [second["id"], first["id"]]
    assert page["has_more"] is False


def test_list_transfers_filters_by_status(emulator, openapi_session):
    first = withdraw(openapi_session, emulator)
    withdraw(openapi_session, emulator)
    emulator.control(f"transfers/{first['id']}/advance", {"status": "completed"})
    page = openapi_session.get("/v2/transfers", params={"status": "completed"}).json()
    assert [t["id"] for t in page["data"]] == [first["id"]]


def test_list_transfers_with_limit_over_100_is_refused(emulator, openapi_session):
    response = openapi_session.get("/v2/transfers", params={"limit": 101})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]


def test_transfer_of_another_app_is_404(emulator, openapi_session):
    other = emulator.control("seed/apps", {"name": "Other", "balance": 5000})["data"][0]
    response = openapi_session.post(
        f"/v2/apps/{other['id']}/withdraw", json={"amount": 100}, headers={"Api-App-Id": other["id"]}
    )
    assert openapi_session.get(f"/v2/transfers/{response.json()['id']}").status_code == 404


def test_transactions_list_holds_each_transfers_transaction(emulator, openapi_session):
    transfer = withdraw(openapi_session, emulator)
    page = openapi_session.get("/v2/transactions", params={"include_transfer": "true"}).json()
    assert page["data"][0]["transfer_id"] == transfer["id"]
    assert page["data"][0]["transfer"]["id"] == transfer["id"]


def user_wallet(session, user_id):
    return session.get(f"/v2/users/{user_id}").json()["wallet"]["amount"]


def test_completed_transfer_to_a_user_credits_the_users_wallet(emulator, openapi_session, user_id):
    transfer = openapi_session.post("/v2/transfers", json={"amount": 2500, "user_id": user_id}).json()
    assert user_wallet(openapi_session, user_id) == 0
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "completed"})
    assert user_wallet(openapi_session, user_id) == 2500


def test_pulling_more_than_the_user_holds_is_refused(emulator, openapi_session, user_id):
    response = openapi_session.post("/v2/transfers", json={"amount": -100, "user_id": user_id})
    assert response.status_code == 400
    assert response.json()["error_code"] == "transaction-insufficient-funds"


def test_failed_pull_from_a_user_gives_the_money_back(emulator, openapi_session, user_id):
    emulator.control(f"users/{user_id}/wallet/credit", {"amount": 1000})
    transfer = openapi_session.post("/v2/transfers", json={"amount": -600, "user_id": user_id}).json()
    assert user_wallet(openapi_session, user_id) == 400
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "failed", "reason": "user disputed"})
    assert user_wallet(openapi_session, user_id) == 1000
