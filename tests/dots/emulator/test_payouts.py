"""Payouts to saved payout methods, send-payout, and payout batches (create, list, retrieve, results)."""

import itertools
import uuid

import pytest

ACH = {"platform": "ach", "routing_number": "021000021", "account_number": "000123456789"}
DEFAULT_WALLET_CENTS = 10_000_000

# A distinct phone number per user: a repeated one is refused (user-already-exists).
PHONES = itertools.count(4155551000)


@pytest.fixture
def wallet(emulator, openapi_session):
    def read() -> int:
        dollars = openapi_session.get(f"/v2/apps/{emulator.app_id}").json()["metrics"]["wallet_balance"]
        return round(float(dollars) * 100)

    return read


def make_user(session, emulator, *, verified=True, method=ACH, phone=None):
    user = session.post(
        "/v2/users",
        json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "country_code": "1",
              "phone_number": phone or str(next(PHONES))},
    ).json()  # fmt: skip
    if method is not None:
        session.put(f"/v2/users/{user['id']}/payout-methods", json=method)
    if verified:
        session.post(f"/v2/users/{user['id']}/send-verification-token", json={})
        token = emulator.control_get(f"users/{user['id']}/verification-token")["token"]
        session.post(f"/v2/users/{user['id']}/verify", json={"token": token})
    return user


def payout(session, user_id, **overrides):
    return session.post("/v2/payouts", json={"user_id": user_id, "amount": 1500, "platform": "ach", **overrides})


# -- POST /v2/payouts ---------------------------------------------------------------------------------------


def test_funded_payout_answers_201_transfer_and_debits_the_wallet(emulator, openapi_session, wallet):
    user = make_user(openapi_session, emulator)
    response = payout(openapi_session, user["id"], fund=True)
    assert response.status_code == 201
    transfer = response.json()
    assert transfer["type"] == "payout" and transfer["user_id"] == user["id"] and transfer["amount"] == 1500
    assert transfer["external_data"]["platform"] == "ach"
    assert wallet() == DEFAULT_WALLET_CENTS - 1500


def test_unfunded_payout_from_an_empty_user_wallet_is_insufficient_funds(emulator, openapi_session):
    user = make_user(openapi_session, emulator)
    response = payout(openapi_session, user["id"])
    assert response.status_code == 400
    assert response.json()["error_code"] == "transaction-insufficient-funds"


def test_unfunded_payout_takes_from_the_user_wallet(emulator, openapi_session, wallet):
    user = make_user(openapi_session, emulator)
    emulator.control(f"users/{user['id']}/wallet/credit", {"amount": 2000})
    assert payout(openapi_session, user["id"]).status_code == 201
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["wallet"]["amount"] == 500
    assert wallet() == DEFAULT_WALLET_CENTS


def test_payout_to_an_unverified_user_is_refused(emulator, openapi_session):
    user = make_user(openapi_session, emulator, verified=False)
    response = payout(openapi_session, user["id"], fund=True)
    assert response.status_code == 400
    assert response.json()["error_code"] == "user-not-verified"


def test_payout_on_a_platform_the_user_lacks_is_refused(emulator, openapi_session, wallet):
    user = make_user(openapi_session, emulator)
    response = payout(openapi_session, user["id"], platform="venmo", fund=True)
    assert response.status_code == 400
    assert response.json()["error_code"] == "payout-method-not-found"
    assert wallet() == DEFAULT_WALLET_CENTS


def test_payout_to_an_unknown_user_is_404(emulator, openapi_session):
    assert payout(openapi_session, str(uuid.uuid4()), fund=True).status_code == 404


def test_failed_funded_payout_refunds_the_wallet(emulator, openapi_session, wallet):
    user = make_user(openapi_session, emulator)
    transfer = payout(openapi_session, user["id"], fund=True).json()
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "failed"})
    assert wallet() == DEFAULT_WALLET_CENTS


def test_payout_replayed_with_the_same_key_pays_once(emulator, openapi_session, wallet):
    user = make_user(openapi_session, emulator)
    key = str(uuid.uuid4())
    first = payout(openapi_session, user["id"], fund=True, idempotency_key=key).json()
    again = payout(openapi_session, user["id"], fund=True, idempotency_key=key).json()
    assert again["id"] == first["id"]
    assert wallet() == DEFAULT_WALLET_CENTS - 1500


# -- POST /v2/payouts/send-payout ------------------------------------------------------------------------------


def test_send_payout_to_a_verified_user_with_a_method_is_claimed_at_once(emulator, openapi_session):
    user = make_user(openapi_session, emulator)
    response = openapi_session.post("/v2/payouts/send-payout", json={"amount": 800, "user_id": user["id"]})
    assert response.status_code == 201
    link = response.json()
    assert link["status"] == "claimed" and link["claimed_user_id"] == user["id"]


def test_send_payout_to_an_unknown_phone_number_sends_a_link(emulator, openapi_session, wallet):
    response = openapi_session.post(
        "/v2/payouts/send-payout", json={"amount": 800, "payee": {"country_code": "1", "phone_number": "4155550123"}}
    )
    assert response.status_code == 201
    assert response.json()["status"] == "sent"
    assert wallet() == DEFAULT_WALLET_CENTS - 800


def test_send_payout_without_a_payee_is_refused(emulator, openapi_session):
    response = openapi_session.post("/v2/payouts/send-payout", json={"amount": 800})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-input"


# -- payout batches ------------------------------------------------------------------------------------------------


def batch_item(user_id, **overrides):
    return {"user_id": user_id, "amount": 1000, "platform": "ach", "fund": True,
            "idempotency_key": str(uuid.uuid4()), **overrides}  # fmt: skip


def test_batch_pays_each_item_and_reports_failures_per_item(emulator, openapi_session, wallet):
    good = make_user(openapi_session, emulator)
    unverified = make_user(openapi_session, emulator, verified=False)
    response = openapi_session.post(
        "/v2/payout-batches", json={"items": [batch_item(good["id"]), batch_item(unverified["id"])]}
    )
    assert response.status_code == 200 and response.json()["status"] == "completed"
    results = openapi_session.get(f"/v2/payout-batches/{response.json()['id']}/results").json()["items"]
    assert results[0]["transfer"]["status"] == "created" and "error_code" not in results[0]
    assert results[1]["error_code"] == "user-not-verified" and "transfer" not in results[1]
    assert wallet() == DEFAULT_WALLET_CENTS - 1000


def test_batch_item_without_fund_true_refuses_the_batch(emulator, openapi_session):
    user = make_user(openapi_session, emulator)
    response = openapi_session.post("/v2/payout-batches", json={"items": [batch_item(user["id"], fund=False)]})
    assert response.status_code == 400
    assert response.json()["error"].startswith("items[0].fund")


def test_batch_item_key_already_paid_is_not_paid_again(emulator, openapi_session, wallet):
    user = make_user(openapi_session, emulator)
    item = batch_item(user["id"])
    first = openapi_session.post("/v2/payout-batches", json={"items": [item]}).json()
    second = openapi_session.post("/v2/payout-batches", json={"items": [item]}).json()
    results = [openapi_session.get(f"/v2/payout-batches/{b['id']}/results").json()["items"][0] for b in (first, second)]
    assert results[0]["transfer"]["id"] == results[1]["transfer"]["id"]
    assert wallet() == DEFAULT_WALLET_CENTS - 1000


def test_batch_results_include_the_request_when_asked(emulator, openapi_session):
    user = make_user(openapi_session, emulator)
    item = batch_item(user["id"])
    batch = openapi_session.post("/v2/payout-batches", json={"items": [item]}).json()
    results = openapi_session.get(f"/v2/payout-batches/{batch['id']}/results", params={"include_request": "true"})
    assert results.json()["items"][0]["request"] == item


def test_list_and_retrieve_batches(emulator, openapi_session):
    user = make_user(openapi_session, emulator)
    batch = openapi_session.post(
        "/v2/payout-batches", json={"items": [batch_item(user["id"])], "metadata": {"run": "2026-11"}}
    ).json()
    assert openapi_session.get(f"/v2/payout-batches/{batch['id']}").json() == batch
    page = openapi_session.get("/v2/payout-batches").json()
    assert [b["id"] for b in page["data"]] == [batch["id"]] and page["has_more"] is False


def test_retrieve_unknown_batch_is_404(emulator, openapi_session):
    assert openapi_session.get(f"/v2/payout-batches/{uuid.uuid4()}").status_code == 404


def test_batch_with_an_idempotency_key_that_is_not_a_uuid_is_refused(emulator, openapi_session):
    user = make_user(openapi_session, emulator)
    response = openapi_session.post(
        "/v2/payout-batches", json={"items": [batch_item(user["id"], idempotency_key="key-1")]}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "items[0].idempotency_key must be a UUID", "error_code": "invalid-input"}


def test_failed_payout_from_the_user_wallet_returns_the_money_to_that_wallet(emulator, openapi_session):
    user = make_user(openapi_session, emulator)
    emulator.control(f"users/{user['id']}/wallet/credit", {"amount": 2000})
    transfer = payout(openapi_session, user["id"]).json()
    emulator.control(f"transfers/{transfer['id']}/advance", {"status": "failed", "reason": "R02"})
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["wallet"]["amount"] == 2000


def test_a_batch_held_by_the_manual_setting_moves_through_each_status_and_pays_at_paying_out(
    emulator, openapi_session, wallet
):
    emulator.settings(payout_batch={"mode": "manual"})
    user = make_user(openapi_session, emulator)
    item = batch_item(user["id"])
    batch = openapi_session.post("/v2/payout-batches", json={"items": [item]}).json()
    assert batch["status"] == "created"
    waiting = openapi_session.get(f"/v2/payout-batches/{batch['id']}/results").json()["items"]
    assert waiting == [{"user_id": user["id"], "idempotency_key": item["idempotency_key"]}]
    assert wallet() == DEFAULT_WALLET_CENTS

    seen = [emulator.control(f"payout-batches/{batch['id']}/advance", {"status": "processing"})["status"]]
    assert wallet() == DEFAULT_WALLET_CENTS
    seen.append(emulator.control(f"payout-batches/{batch['id']}/advance", {"status": "paying_out"})["status"])
    assert wallet() == DEFAULT_WALLET_CENTS - 1000
    seen.append(emulator.control(f"payout-batches/{batch['id']}/advance", {"status": "completed"})["status"])
    assert seen == ["processing", "paying_out", "completed"]
    (result,) = openapi_session.get(f"/v2/payout-batches/{batch['id']}/results").json()["items"]
    assert result["transfer"]["status"] == "created"
    assert wallet() == DEFAULT_WALLET_CENTS - 1000  # paid once, not again at completed


def test_a_batch_cannot_go_back_and_on_read_completes_it_on_a_get(emulator, openapi_session):
    emulator.settings(payout_batch={"mode": "manual"})
    user = make_user(openapi_session, emulator)
    batch = openapi_session.post("/v2/payout-batches", json={"items": [batch_item(user["id"])]}).json()
    emulator.control(f"payout-batches/{batch['id']}/advance", {"status": "paying_out"})
    back = emulator._http.post(
        f"{emulator.root}/_emulator/payout-batches/{batch['id']}/advance", json={"status": "processing"}
    )
    assert back.status_code == 400 and back.json()["error_code"] == "invalid-state-transition"

    emulator.settings(payout_batch={"mode": "on_read", "reads": 1})
    other = openapi_session.post("/v2/payout-batches", json={"items": [batch_item(user["id"])]}).json()
    assert other["status"] == "created"
    assert openapi_session.get(f"/v2/payout-batches/{other['id']}").json()["status"] == "completed"
