"""The read-only transfers list, kept in step with Dots."""

import uuid

import pytest
import requests

from payouts import transfers
from payouts.models import Transfer
from payouts.services import payees, payout_links
from tests.support import login_verified

from .conftest import phone

pytestmark = pytest.mark.django_db


def dots_transfer(dots, user_id: str, amount: int = 700) -> dict:
    response = requests.post(
        dots.base_url + "/v2/transfers",
        auth=dots.auth,
        json={"amount": amount, "user_id": user_id, "idempotency_key": str(uuid.uuid4())},
    )
    assert response.status_code < 300, response.text
    return response.json()


def test_sync_lists_each_dots_transfer_once_with_its_payee(dots, operator):
    payee = payees.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(), actor=operator)
    made = dots_transfer(dots, payee.dots_user_id)
    transfers.transfers_sync(actor=operator)
    transfers.transfers_sync(actor=operator)
    transfer = Transfer.objects.get()
    assert (transfer.dots_id, transfer.amount_cents) == (made["id"], 700)
    assert transfers.links_for([transfer])[transfer.pk].payee == payee


def test_a_transfer_that_paid_a_payable_links_to_it(dots, operator):
    access = pytest.importorskip("tests.payables.admin_access")
    payable = access.INSTANCE_FACTORIES["payables.payable"]()
    payee = payees.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(), actor=operator)
    made = dots_transfer(dots, payee.dots_user_id)
    type(payable).objects.filter(pk=payable.pk).update(dots_transfer_id=made["id"])
    transfers.transfers_sync(actor=operator)
    transfer = Transfer.objects.get(dots_id=made["id"])
    assert transfers.links_for([transfer])[transfer.pk].payable == payable


def test_the_transfers_page_refreshes_from_dots_for_an_operator(dots, operator, client):
    payee = payees.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(), actor=operator)
    made = dots_transfer(dots, payee.dots_user_id)
    login_verified(client, operator)
    client.post("/admin/payouts/transfer/sync/")
    page = client.get("/admin/payouts/transfer/").content.decode()
    assert made["id"] in page and "$7.00" in page


# --- what the admin shows ---------------------------------------------------------------------------------


def test_the_transfers_list_shows_status_failure_reason_amount_and_filters_by_status(dots, operator, client):
    from core.audit import system_user

    dots.control(
        "seed/transfers",
        {
            "count": 3,
            "statuses": {"failed": 1, "completed": 2},
            "failure_reason": "R01: insufficient funds",
            "amount": 123456,
        },
    )
    transfers.transfers_sync(actor=system_user())
    login_verified(client, operator)

    page = client.get("/admin/payouts/transfer/").content.decode()
    failed_only = client.get("/admin/payouts/transfer/?status__exact=failed").content.decode()

    assert "$1,234.56" in page and "R01: insufficient funds" in page and "Completed" in page
    assert failed_only.count("R01: insufficient funds") == 1 and "Completed</td>" not in failed_only
    assert client.get("/admin/payouts/transfer/?type__exact=balance").status_code == 200


def test_the_transfers_list_links_payee_and_payout_link_in_a_fixed_number_of_queries(
    dots, operator, client, django_assert_max_num_queries
):
    from core.audit import system_user

    for n in range(3):
        payee = payees.payee_create(
            first_name="Ann", last_name=f"Lee{n}", email=f"a{n}@example.com", phone=phone(), actor=operator
        )
        link = payout_links.payout_link_push(
            payout_link_id=payout_links.payout_link_request(
                amount_cents=900, payee_id=payee.pk, actor=operator, push=False
            ).pk,
            actor=operator,
        )
        dots.control(f"payout-links/{link.dots_id}/advance", {"status": "claimed"})
    transfers.transfers_sync(actor=system_user())
    login_verified(client, operator)
    client.get("/admin/payouts/transfer/")  # warm the session and permission caches

    with django_assert_max_num_queries(12):
        page = client.get("/admin/payouts/transfer/").content.decode()

    assert page.count("payout link #") == 3 and "Ann Lee2" in page


def test_a_payout_links_page_shows_its_failed_transfer_with_the_reason(dots, operator, client):
    from core.audit import system_user

    payee = payees.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(), actor=operator)
    link = payout_links.payout_link_request(amount_cents=900, payee_id=payee.pk, actor=operator, push=False)
    link = payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    claimed = dots.control(f"payout-links/{link.dots_id}/advance", {"status": "claimed"})
    transfer_id = (
        claimed.get("transfer_id")
        or requests.get(f"{dots.base_url}/v2/payout-links/{link.dots_id}", auth=dots.auth, timeout=10).json()[
            "transfer_id"
        ]
    )
    dots.control(f"transfers/{transfer_id}/advance", {"status": "failed", "reason": "R03: no account"})
    transfers.transfers_sync(actor=system_user())
    login_verified(client, operator)

    page = client.get(f"/admin/payouts/payoutlink/{link.pk}/change/").content.decode()

    assert "Failed: R03: no account" in page and "$9.00" in page


def test_a_payables_page_shows_its_payments_transfer_and_why_it_failed(dots, people, approved_payable, client):
    from core.audit import system_user
    from payables import services as payable_services

    payable = payable_services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    dots.control(f"transfers/{payable.dots_transfer_id}/advance", {"status": "pending"})
    dots.control(f"transfers/{payable.dots_transfer_id}/advance", {"status": "failed", "reason": "R01: NSF"})
    transfers.transfers_sync(actor=system_user())
    login_verified(client, people.payer)

    page = client.get(f"/admin/payables/payable/{payable.pk}/change/").content.decode()

    assert f"{payable.dots_transfer_id}: Failed (R01: NSF)" in page
