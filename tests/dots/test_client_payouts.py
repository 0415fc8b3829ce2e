"""DotsClient payout operations against the emulator: links, requests, payouts, batches."""

import itertools
import uuid

import pytest

from dots.client import DotsClient
from dots.errors import DotsInvalidRequest, DotsNotFound
from dots.retry import RetryPolicy
from dots.types import PayoutLink, PayoutRequest, Transfer

_phones = itertools.count(7000100)


@pytest.fixture
def client(emulator, openapi_session):
    return DotsClient(
        emulator.base_url,
        emulator.client_id,
        emulator.api_key,
        session=openapi_session,
        retry=RetryPolicy(sleep=lambda s: None),
    )


def key() -> str:
    return str(uuid.uuid4())


def payable_user(client, emulator):
    """A verified user with a default ACH payout method: one Dots can pay at once."""
    user = client.create_user(
        first_name="Alan",
        last_name="Turing",
        email="alan@example.com",
        country_code="1",
        phone_number=f"415{next(_phones)}",
    )
    emulator.control(f"users/{user.id}/status", {"status": "verified"})
    client.put_user_payout_method(
        user_id=user.id,
        platform="ach",
        routing_number="021000021",
        account_number="1234567890",
        account_type="checking",
        is_default=True,
    )
    return user


def test_payout_link_create_retrieve_list_cancel(client):
    link = client.create_payout_link(
        amount=25_00,
        idempotency_key=key(),
        payee={"first_name": "Ada", "email": "ada@example.com"},
        delivery={"method": "email"},
        memo="invoice 7",
        metadata={"ref": "x"},
    )
    assert isinstance(link, PayoutLink)
    assert link.amount == 2500 and link.memo == "invoice 7"
    assert client.retrieve_payout_link(payout_link_id=link.id).id == link.id
    items, has_more = client.list_payout_links(limit=10)
    assert [i.id for i in items] == [link.id] and has_more is False
    assert [i.id for i in client.iter_payout_links()] == [link.id]
    canceled = client.cancel_payout_link(payout_link_id=link.id)
    assert canceled.status == "canceled"


def test_redeliver_payout_link(client):
    link = client.create_payout_link(
        amount=10_00, idempotency_key=key(), payee={"email": "bob@example.com"}, delivery={"method": "email"}
    )
    answer = client.redeliver_payout_link(payout_link_id=link.id)
    assert answer["redelivered"] in (True, False)
    assert PayoutLink.from_dict(answer["payout_link"]).id == link.id


def test_payout_link_same_key_twice_is_one_link(client):
    k = key()
    first = client.create_payout_link(amount=5_00, idempotency_key=k, payee={"email": "c@example.com"})
    second = client.create_payout_link(amount=999_00, idempotency_key=k, payee={"email": "c@example.com"})
    assert first.id == second.id and second.amount == 500  # the first answer, whatever the body says
    assert len(list(client.iter_payout_links())) == 1


def test_payout_request_lifecycle_with_dashboard_approval(client, emulator):
    request = client.create_payout_request(
        amount=40_00, payee={"country_code": "1", "phone_number": "4155550111"}, memo="expenses"
    )
    assert isinstance(request, PayoutRequest)
    assert request.status == "created" and request.payout_link is None
    emulator.control(f"payout-requests/{request.id}/approve")
    approved = client.retrieve_payout_request(payout_request_id=request.id)
    assert approved.status == "approved"
    assert approved.payout_link is not None and approved.payout_link.amount == 4000
    page = client.list_payout_requests(limit=5)
    assert [r.id for r in page.items] == [request.id]
    assert [r.id for r in client.iter_payout_requests()] == [request.id]


def test_create_payout_pays_a_verified_user(client, emulator):
    user = payable_user(client, emulator)
    transfer = client.create_payout(user_id=user.id, amount=12_00, platform="ach", idempotency_key=key(), fund=True)
    assert isinstance(transfer, Transfer)
    assert transfer.amount == 1200 and transfer.user_id == user.id


def test_create_payout_without_a_method_is_refused(client):
    user = client.create_user(
        first_name="No", last_name="Method", email="n@example.com", country_code="1", phone_number=f"415{next(_phones)}"
    )
    with pytest.raises(DotsInvalidRequest) as caught:
        client.create_payout(user_id=user.id, amount=100, platform="ach", idempotency_key=key())
    assert caught.value.error_code in ("user-not-verified", "payout-method-not-found")


def test_send_payout_answers_a_payout_link(client, emulator):
    user = payable_user(client, emulator)
    link = client.send_payout(amount=8_00, user_id=user.id, idempotency_key=key(), memo="bonus")
    assert isinstance(link, PayoutLink)
    assert link.amount == 800
    assert link.status == "claimed"


def test_payout_batch_create_list_retrieve_results(client, emulator):
    users = [payable_user(client, emulator) for _ in range(2)]
    items = [
        {"user_id": u.id, "amount": 3_00, "platform": "ach", "fund": True, "idempotency_key": key()} for u in users
    ]
    batch = client.create_payout_batch(items=items, idempotency_key=key(), metadata={"run": "weekly"})
    assert batch["id"] and batch["status"]
    assert client.retrieve_payout_batch(payout_batch_id=batch["id"])["id"] == batch["id"]
    page = client.list_payout_batches(limit=10)
    assert [b["id"] for b in page.items] == [batch["id"]]
    assert [b["id"] for b in client.iter_payout_batches()] == [batch["id"]]
    results = client.retrieve_payout_batch_results(payout_batch_id=batch["id"], include_request=True)
    assert len(results["items"]) == 2


def test_unknown_payout_link_is_not_found(client):
    with pytest.raises(DotsNotFound):
        client.retrieve_payout_link(payout_link_id=str(uuid.uuid4()))
