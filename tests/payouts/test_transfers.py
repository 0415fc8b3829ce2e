"""The read-only transfers list, kept in step with Dots."""

import uuid

import pytest
import requests

from payouts import services, transfers
from payouts.models import Transfer
from tests.support import login_verified

from .conftest import phone

pytestmark = pytest.mark.django_db


def dots_transfer(dots, user_id: str, amount: int = 700) -> dict:
    response = requests.post(dots.base_url + "/v2/transfers", auth=dots.auth,
                             json={"amount": amount, "user_id": user_id, "idempotency_key": str(uuid.uuid4())})
    assert response.status_code < 300, response.text
    return response.json()


def test_sync_lists_each_dots_transfer_once_with_its_payee(dots, operator):
    payee = services.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(),
                                  actor=operator)
    made = dots_transfer(dots, payee.dots_user_id)
    transfers.transfers_sync(actor=operator)
    transfers.transfers_sync(actor=operator)
    transfer = Transfer.objects.get()
    assert (transfer.dots_id, transfer.amount_cents) == (made["id"], 700)
    assert transfers.links_for([transfer])[transfer.pk].payee == payee


def test_a_transfer_that_paid_a_payable_links_to_it(dots, operator):
    access = pytest.importorskip("tests.payables.admin_access")
    payable = access.INSTANCE_FACTORIES["payables.payable"]()
    payee = services.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(),
                                  actor=operator)
    made = dots_transfer(dots, payee.dots_user_id)
    type(payable).objects.filter(pk=payable.pk).update(dots_transfer_id=made["id"])
    transfers.transfers_sync(actor=operator)
    transfer = Transfer.objects.get(dots_id=made["id"])
    assert transfers.links_for([transfer])[transfer.pk].payable == payable


def test_the_transfers_page_refreshes_from_dots_for_an_operator(dots, operator, client):
    payee = services.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(),
                                  actor=operator)
    made = dots_transfer(dots, payee.dots_user_id)
    login_verified(client, operator)
    client.post("/admin/payouts/transfer/sync/")
    page = client.get("/admin/payouts/transfer/").content.decode()
    assert made["id"] in page and "$7.00" in page
