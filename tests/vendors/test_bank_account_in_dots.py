"""A vendor bank account's page reads what Dots holds for it, masked, beside what we hold."""

import pytest
from django.urls import reverse

from core import roles
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db
FULL_NUMBER = "000123456789"


def _in_dots(client, account):
    return client.get(reverse("admin:vendors_vendorbankaccount_in_dots", args=[account.pk]))


def test_the_page_shows_what_dots_holds_masked_and_that_it_agrees(client, dots, people, vendor_account):
    _vendor, account = vendor_account
    login_verified(client, people.approver)
    before = len(dots.received())
    response = _in_dots(client, account)
    assert response.status_code == 200
    html = response.content.decode()
    assert "••••6789" in html and "021000021" in html and "Checking" in html
    assert "Dots and Ledgerline agree on this account." in html
    assert FULL_NUMBER not in html
    # One read of Dots, nothing else.
    (call,) = dots.received()[: len(dots.received()) - before]
    assert call["method"] == "GET" and account.dots_id in call["path"]


def test_the_bank_account_page_links_to_it(client, dots, people, vendor_account):
    _vendor, account = vendor_account
    login_verified(client, people.clerk)
    page = client.get(reverse("admin:vendors_vendorbankaccount_change", args=[account.pk])).content.decode()
    assert reverse("admin:vendors_vendorbankaccount_in_dots", args=[account.pk]) in page
    assert "Read from Dots" in page


def test_an_account_deleted_in_dots_is_said_so(client, dots, openapi_session, people, vendor_account):
    vendor, account = vendor_account
    path = f"/v2/accounts-payable/vendors/{vendor.dots_id}/payment-methods/{account.dots_id}"
    assert openapi_session.delete(path).status_code == 200
    login_verified(client, people.clerk)
    html = _in_dots(client, account).content.decode()
    assert "Dots no longer has this bank account" in html


def test_when_dots_is_away_the_page_says_so_and_nothing_changes(client, dots, people, vendor_account):
    _vendor, account = vendor_account
    dots.add_fault(method="GET", path="/v2/accounts-payable/vendors/*/payment-methods/*", kind="status", status=503)
    login_verified(client, people.clerk)
    response = _in_dots(client, account)
    assert response.status_code == 200
    assert "Dots could not be reached" in response.content.decode()


def test_a_role_that_may_not_see_bank_accounts_is_refused_and_anonymous_sent_to_sign_in(client, dots, vendor_account):
    _vendor, account = vendor_account
    response = _in_dots(client, account)
    assert response.status_code == 302 and "/login/" in response["Location"]
    login_verified(client, make_user("money-in", role=roles.RECEIVABLES_CLERK))
    assert _in_dots(client, account).status_code == 403
