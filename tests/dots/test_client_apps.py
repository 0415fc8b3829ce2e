"""DotsClient app operations against the emulator, with keyed retries and idempotent replay."""

import uuid

import pytest

from dots.client import DotsClient
from dots.errors import DotsInsufficientFunds, DotsInvalidRequest
from dots.retry import RetryPolicy
from dots.types import App, Transfer

ACCOUNT = "9876543210"
ROUTING = "021000021"

COMPLIANCE = {
    "company_info": {
        "name": "Ledgerline Inc",
        "website": "https://ledgerline.example",
        "ein": "123456789",
        "incorporation_type": "llc",
        "incorporation_state": "DE",
        "incorporation_date": "2020-01-15",
        "ubo_count": 1,
    },
    "contact_info": {
        "email": "ops@ledgerline.example",
        "phone_number": "5555550100",
        "line1": "1 Main St",
        "city": "Austin",
        "zip": "78701",
        "state": "TX",
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


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(emulator, openapi_session, sleeps):
    policy = RetryPolicy(sleep=sleeps, rand=lambda: 0.0)
    return DotsClient(emulator.base_url, emulator.client_id, emulator.api_key, retry=policy, session=openapi_session)


@pytest.fixture
def app_with_bank(client, emulator):
    client.put_app_ach_account(
        app_id=emulator.app_id, account_number=ACCOUNT, routing_number=ROUTING, account_type="checking"
    )
    return emulator.app_id


def test_list_apps_is_a_bare_list_of_apps(client, emulator):
    apps = client.list_apps()
    assert isinstance(apps, list)
    assert emulator.app_id in [app.id for app in apps]
    assert all(isinstance(app, App) for app in apps)


def test_create_app_answers_201_and_the_new_app(client):
    app = client.create_app(name="Second app", metadata={"team": "ap"})
    assert app.status == "created"
    assert app.name == "Second app"
    assert client.retrieve_app(app_id=app.id).id == app.id


def test_app_compliance_put_then_get(client):
    app = client.create_app(name="KYB app")
    stored = client.update_app_compliance(app_id=app.id, **COMPLIANCE)
    assert stored["company_info"]["name"] == "Ledgerline Inc"
    assert client.retrieve_app_compliance(app_id=app.id)["flow_of_funds"] == COMPLIANCE["flow_of_funds"]
    assert client.retrieve_app(app_id=app.id).status == "in_review"


def test_ach_account_put_and_get_are_masked(client, emulator):
    put = client.put_app_ach_account(
        app_id=emulator.app_id, account_number=ACCOUNT, routing_number=ROUTING, account_type="savings"
    )
    got = client.retrieve_app_ach_account(app_id=emulator.app_id)
    assert put["mask"] == got["mask"] == "3210"
    assert ACCOUNT not in str(got.raw)


def test_deposit_creates_a_refill_transfer(client, app_with_bank):
    transfer = client.deposit_to_app(app_id=app_with_bank, amount=50_00, idempotency_key=str(uuid.uuid4()))
    assert isinstance(transfer, Transfer)
    assert transfer.amount == 5000
    assert transfer.type == "refill"
    assert client.retrieve_transfer(transfer_id=transfer.id).id == transfer.id


def test_withdraw_more_than_the_wallet_holds_is_insufficient_funds(client, emulator, app_with_bank):
    emulator.control(f"apps/{app_with_bank}/balance", {"balance": 100})
    with pytest.raises(DotsInsufficientFunds) as caught:
        client.withdraw_from_app(app_id=app_with_bank, amount=101, idempotency_key=str(uuid.uuid4()))
    assert caught.value.error_code == "transaction-insufficient-funds"
    assert isinstance(caught.value, DotsInvalidRequest)


def test_withdraw_within_the_balance(client, app_with_bank):
    transfer = client.withdraw_from_app(app_id=app_with_bank, amount=1_00, idempotency_key=str(uuid.uuid4()))
    assert transfer.type == "settlement" and transfer.amount == 100


def test_kyb_flow_current_and_compliance_flow_older(client, emulator):
    app = client.create_app(name="Awaiting KYB")  # a new app: flows are for apps not yet in review
    flow = client.create_app_kyb_flow(app_id=app.id)
    assert flow["url"].startswith("http")
    assert flow["status"]
    url = client.create_app_compliance_flow(app_id=app.id)
    assert isinstance(url, str) and url.startswith("http")


def test_change_app_settings(client, emulator):
    settings = client.change_app_settings(
        app_id=emulator.app_id,
        auto_refill_active=True,
        refill_amount=5000,
        refill_threshold=2000,
        payout_options_exclude_list=["paypal"],
    )
    assert settings["auto_refill_active"] is True
    assert settings["refill_amount"] == 5000
    assert settings["payout_options_exclude_list"] == ["paypal"]


def test_same_idempotency_key_twice_creates_one_transfer(client, emulator, app_with_bank):
    key = str(uuid.uuid4())
    first = client.deposit_to_app(app_id=app_with_bank, amount=12_34, idempotency_key=key)
    second = client.deposit_to_app(app_id=app_with_bank, amount=12_34, idempotency_key=key)
    assert first.id == second.id
    refills = [t for t in client.iter_transfers() if t.type == "refill"]
    assert [t.id for t in refills] == [first.id]


def test_keyed_post_is_retried_after_an_injected_503(client, emulator, app_with_bank, sleeps):
    emulator.add_fault(method="POST", path="/v2/apps/*/deposit", kind="status", status=503, count=1)
    key = str(uuid.uuid4())
    transfer = client.deposit_to_app(app_id=app_with_bank, amount=7_00, idempotency_key=key)
    received = emulator.received("POST", "/v2/apps/*/deposit")
    assert sorted(r["status"] for r in received) == [200, 503]
    assert all(r["body"]["idempotency_key"] == key for r in received)
    assert sleeps == [0.25]
    assert [t.id for t in client.iter_transfers() if t.type == "refill"] == [transfer.id]


def test_keyed_post_whose_answer_was_dropped_is_retried_and_replayed(client, emulator, app_with_bank):
    # The emulator does the work, then closes the connection: the retry must not deposit twice.
    emulator.add_fault(method="POST", path="/v2/apps/*/deposit", kind="drop", count=1)
    transfer = client.deposit_to_app(app_id=app_with_bank, amount=3_00, idempotency_key=str(uuid.uuid4()))
    assert len(emulator.received("POST", "/v2/apps/*/deposit")) == 2
    assert [t.id for t in client.iter_transfers() if t.type == "refill"] == [transfer.id]


def test_unknown_app_is_not_found(client):
    from dots.errors import DotsNotFound

    with pytest.raises(DotsNotFound):
        client.retrieve_app_compliance(app_id=str(uuid.uuid4()))
