"""DotsClient user and transfer operations against the emulator, and pagination."""

import itertools
import uuid
from urllib.parse import parse_qs

import pytest

from dots.client import DotsClient
from dots.errors import DotsInvalidRequest, DotsNotFound
from dots.retry import RetryPolicy
from dots.types import Page, Transfer, User

_phones = itertools.count(5550100)

ADDRESS = {"line_1": "1 Main St", "city": "Austin", "state": "TX", "postcode": "78701", "country": "US"}


@pytest.fixture
def client(emulator, openapi_session):
    return DotsClient(
        emulator.base_url,
        emulator.client_id,
        emulator.api_key,
        session=openapi_session,
        retry=RetryPolicy(sleep=lambda s: None),
    )


def new_user(client, **overrides) -> User:
    fields = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.com",
        "country_code": "1",
        "phone_number": f"512{next(_phones)}",
    }
    fields.update(overrides)
    return client.create_user(**fields)


def test_create_retrieve_update_delete_user(client):
    user = new_user(
        client, metadata={"vendor": "v-1"}, adjustment_1099={"year": 2026, "form": "1099-NEC", "amount": 120_00}
    )
    assert user.id and user.first_name == "Grace"
    assert user.status  # whatever the emulator's lifecycle starts with, kept as a string
    assert client.retrieve_user(user_id=user.id).email == "grace@example.com"
    updated = client.update_user(user_id=user.id, metadata={"vendor": "v-2"}, payout_options_exclude_list=["paypal"])
    assert updated.metadata == {"vendor": "v-2"}
    deleted = client.delete_user(user_id=user.id)
    assert deleted.id == user.id
    with pytest.raises(DotsNotFound):
        client.retrieve_user(user_id=user.id)


def test_duplicate_phone_is_invalid_request_with_code(client):
    user = new_user(client, phone_number="5125550999")
    with pytest.raises(DotsInvalidRequest) as caught:
        new_user(client, phone_number="5125550999")
    assert caught.value.error_code == "user-already-exists"
    assert caught.value.body["user_id"] == user.id


def test_list_and_iterate_users(client):
    created = [new_user(client).id for _ in range(3)]
    page = client.list_users(limit=2)
    assert isinstance(page, Page) and len(page.items) == 2 and page.has_more is True
    items, has_more = client.list_users(limit=2, starting_after=page.items[-1].id)
    assert not has_more and len(items) == 1
    assert [u.id for u in client.iter_users()] == list(reversed(created))


def test_user_compliance_w9(client):
    user = new_user(client)
    result = client.update_user_compliance(
        user_id=user.id,
        w9={
            "entity_type": "individual",
            "first_name": "Grace",
            "last_name": "Hopper",
            "date_of_birth": "1990-01-01",
            "tin": "123456789",
            "address": ADDRESS,
        },
    )
    assert result is None or result["id"] == user.id
    assert client.retrieve_user(user_id=user.id).compliance["tax_id_collected"] is True


def test_verification_token_round_trip(client, emulator):
    user = new_user(client)
    assert client.send_user_verification_token(user_id=user.id, use_voice=False) is None
    token = emulator.control_get(f"users/{user.id}/verification-token")["token"]
    with pytest.raises(DotsInvalidRequest) as caught:
        client.verify_user(user_id=user.id, token="000000" if token != "000000" else "111111")
    assert caught.value.error_code == "invalid-verification-token"
    client.verify_user(user_id=user.id, token=token)
    assert client.retrieve_user(user_id=user.id).status == "verified"


def test_payout_methods_put_and_list(client):
    user = new_user(client)
    method = client.put_user_payout_method(
        user_id=user.id,
        platform="ach",
        routing_number="021000021",
        account_number="000123456789",
        account_type="checking",
        is_default=True,
    )
    assert method["platform"] == "ach"
    methods = client.list_user_payout_methods(user_id=user.id)
    assert [m["platform"] for m in methods] == ["ach"]
    assert "000123456789" not in str([m.raw for m in methods])


def test_put_user_address(client):
    user = new_user(client)
    client.put_user_address(user_id=user.id, **ADDRESS)
    assert client.retrieve_user(user_id=user.id).compliance["address_collected"] is True


def test_create_and_retrieve_transfer(client):
    user = new_user(client)
    key = str(uuid.uuid4())
    transfer = client.create_transfer(amount=2_50, user_id=user.id, idempotency_key=key, metadata={"why": "test"})
    assert isinstance(transfer, Transfer)
    assert transfer.amount == 250 and transfer.user_id == user.id
    again = client.retrieve_transfer(transfer_id=transfer.id)
    assert again.id == transfer.id and again.raw["id"] == transfer.id


def test_transactions_list_and_retrieve(client):
    user = new_user(client)
    client.create_transfer(amount=1_00, user_id=user.id, idempotency_key=str(uuid.uuid4()))
    page = client.list_transactions(limit=10)
    assert page.items
    first = page.items[0]
    assert client.retrieve_transaction(transaction_id=first["id"])["id"] == first["id"]
    assert [t["id"] for t in client.iter_transactions()][: len(page.items)] == [t["id"] for t in page.items]


def test_iterating_250_transfers_follows_cursors_newest_first(client, emulator):
    user = new_user(client)
    created = [
        client.create_transfer(amount=1 + i, user_id=user.id, idempotency_key=str(uuid.uuid4())).id for i in range(250)
    ]
    seen = [t.id for t in client.iter_transfers(user_id=user.id)]
    assert seen == list(reversed(created))
    assert len(set(seen)) == 250
    pages = list(emulator.received("GET", "/v2/transfers"))
    queries = [parse_qs(r["query"]) for r in reversed(pages)]
    assert len(queries) == 3
    assert all(q["limit"] == ["100"] for q in queries)
    assert "starting_after" not in queries[0]
    assert queries[1]["starting_after"] == [created[-100]]
    assert queries[2]["starting_after"] == [created[-200]]


def test_iteration_is_lazy(client, emulator):
    user = new_user(client)
    for i in range(3):
        client.create_transfer(amount=1 + i, user_id=user.id, idempotency_key=str(uuid.uuid4()))
    iterator = client.iter_transfers()
    assert emulator.received("GET", "/v2/transfers") == []
    next(iterator)
    assert len(emulator.received("GET", "/v2/transfers")) == 1


def test_list_transfers_one_page_with_filters(client):
    user = new_user(client)
    ids = [
        client.create_transfer(amount=100 + i, user_id=user.id, idempotency_key=str(uuid.uuid4())).id for i in range(3)
    ]
    page = client.list_transfers(limit=2, user_id=user.id)
    assert isinstance(page, Page)
    assert [t.id for t in page.items] == [ids[2], ids[1]] and page.has_more is True
    rest = client.list_transfers(limit=2, user_id=user.id, starting_after=ids[1])
    assert [t.id for t in rest.items] == [ids[0]] and rest.has_more is False
