"""A payee's payout methods: listed from Dots, added (the account number typed once, never kept or shown)."""

import logging

import pytest

from core.models import AuditEvent
from payouts.services import payees
from tests.support import login_verified

from .conftest import phone

pytestmark = pytest.mark.django_db
ACCOUNT = "000123456789"


@pytest.fixture
def payee(dots, operator):
    return payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )


def test_add_a_bank_account_and_see_it_listed_masked(dots, operator, payee, client, caplog):
    caplog.set_level(logging.DEBUG)
    login_verified(client, operator)
    url = f"/admin/payouts/payee/{payee.pk}/payout-methods/"
    first = client.get(url).content.decode()
    assert "No payout method yet" in first and "Add this payout method" in first
    body = {"platform": "ach", "routing_number": "021000021", "account_number": ACCOUNT, "account_type": "checking"}
    done = client.post(url, {**body, "is_default": "on"})
    assert done.status_code == 302
    page = client.get(url).content.decode()
    assert "Bank account" in page and "account ending 6789" in page and ACCOUNT not in page
    client.post(url, {"platform": "paypal", "email": "ann@example.com"})
    page = client.get(url).content.decode()
    assert "PayPal" in page and "ann@example.com" in page
    payee.refresh_from_db()
    assert payee.default_payout_method
    events = AuditEvent.objects.filter(action="payee.payout_method_added")
    assert events.count() == 2
    assert all(ACCOUNT not in str(e.changes) for e in events) and ACCOUNT not in caplog.text


def test_a_wrong_account_number_comes_back_empty_and_nothing_reaches_dots(dots, operator, payee, client):
    login_verified(client, operator)
    url = f"/admin/payouts/payee/{payee.pk}/payout-methods/"
    page = client.post(url, {"platform": "ach", "routing_number": "12", "account_number": ACCOUNT})
    text = page.content.decode()
    assert page.status_code == 200 and "9 digits" in text and "type it again" in text and ACCOUNT not in text
    assert dots.received("PUT", f"/v2/users/{payee.dots_user_id}/payout-methods") == []


def test_dots_refusal_is_shown(dots, operator, payee, client):
    login_verified(client, operator)
    dots.add_fault(method="PUT", path="/v2/users/*/payout-methods", kind="status", status=400, count=1)
    page = client.post(f"/admin/payouts/payee/{payee.pk}/payout-methods/", {"platform": "cash_app", "cash_tag": "$ann"})
    assert page.status_code == 200 and "errornote" in page.content.decode()


def test_payers_and_managers_read_the_payout_methods_but_may_not_add_one(dots, operator, payer, payee, client):
    from core import roles
    from core.errors import PermissionRefused
    from tests.support import make_user

    payees.payee_add_payout_method(
        payee_id=payee.pk,
        fields={"platform": "ach", "routing_number": "021000021", "account_number": ACCOUNT,
                "account_type": "checking", "is_default": True},
        actor=operator,
    )  # fmt: skip
    url = f"/admin/payouts/payee/{payee.pk}/payout-methods/"
    manager = make_user("manager", role=roles.MANAGER)
    for user in (payer, manager):
        login_verified(client, user)
        change = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
        assert url in change  # the button is offered to those who may read
        page = client.get(url)
        text = page.content.decode()
        assert page.status_code == 200
        assert "Bank account" in text and "account ending 6789" in text and ACCOUNT not in text
        assert "Add this payout method" not in text and 'name="account_number"' not in text
        assert "Payouts operators add payout methods" in text
        refused = client.post(url, {"platform": "cash_app", "cash_tag": "$ann"})
        assert refused.status_code == 403
    assert len(dots.received("PUT", f"/v2/users/{payee.dots_user_id}/payout-methods")) == 1  # the operator's only
    assert [m["kind"] for m in payees.payee_payout_methods(payee_id=payee.pk, actor=payer)] == ["Bank account"]
    with pytest.raises(PermissionRefused):
        payees.payee_add_payout_method(payee_id=payee.pk, fields={"platform": "cash_app"}, actor=payer)
    assert AuditEvent.objects.filter(action="payee.payout_method_added").count() == 1
