"""A clerk adds a vendor and its bank account in a real browser; a second person verifies it."""

import pytest

from core import roles
from tests.browser.helpers import shot, sign_in
from tests.support import make_user
from tests.vendors.helpers import ACCOUNT_NUMBER, BAD_CHECKSUM_ROUTING, GOOD_ROUTING
from vendors.models import Vendor, VendorBankAccount

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_adds_a_vendor_and_bank_account_and_a_second_person_verifies_it(page, live_server, dots):
    make_user("carla", role=roles.AP_CLERK)
    make_user("arnold", role=roles.APPROVER)

    sign_in(page, live_server.url, "carla")
    page.goto(f"{live_server.url}/admin/vendors/vendor/add/")
    page.fill("#id_name", "Acme Paper Supply")
    page.fill("#id_contact_email", "billing@acme.example")
    page.fill("#id_external_id", "V-1001")
    page.fill("#id_address_line_1", "1 Main Street")
    page.fill("#id_city", "Springfield")
    page.select_option("#id_state", "IL")
    page.fill("#id_postcode", "62701")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=Dots has no vendor update")
    assert Vendor.objects.get().dots_id

    page.click("text=Add bank account")
    page.fill("#id_name", "Operating account")
    page.fill("#id_routing_number", BAD_CHECKSUM_ROUTING)
    page.fill("#id_account_number", ACCOUNT_NUMBER)
    page.click("input[type=submit]")
    page.wait_for_selector(".field-routing_number .errorlist")
    assert "check digit" in page.inner_text(".field-routing_number .errorlist")
    # The full number never comes back to the browser: the field is empty and says why.
    assert page.input_value("#id_account_number") == ""
    assert ACCOUNT_NUMBER not in page.content()
    assert page.inner_text("#retype-account_number") == "For your security, type the account number again."
    assert page.input_value("#id_name") == "Operating account"  # the rest of what was typed is kept
    shot(page, "bank-account-type-the-number-again")
    page.fill("#id_routing_number", GOOD_ROUTING)
    page.fill("#id_account_number", ACCOUNT_NUMBER)
    page.click("input[type=submit]")
    page.wait_for_selector("text=waits for a second person to verify it")
    assert "Waiting for verification" in page.inner_text("#content")
    assert "••••" + ACCOUNT_NUMBER[-4:] in page.inner_text("#content")
    assert ACCOUNT_NUMBER not in page.content()

    page.click("#logout-form button, #logout-form input[type=submit]")
    sign_in(page, live_server.url, "arnold")
    page.goto(f"{live_server.url}/admin/vendors/vendorbankaccount/?verification=waiting")
    page.click("#result_list a:has-text('Operating account')")
    page.click("text=Verify")
    page.fill("#id_how_confirmed", "called the vendor on the number we already had")
    page.click("input[type=submit]")
    page.wait_for_selector("text=is verified")
    account = VendorBankAccount.objects.get()
    assert account.verified_by.username == "arnold"
    assert page.csp_violations == []
