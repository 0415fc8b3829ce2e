"""End to end in a browser: a bill goes from a clerk's draft to paid, and the audit history shows who did what."""

import pytest
from playwright.sync_api import expect

from core import roles
from core.models import AuditEvent
from payables.models import Payable
from tests.browser.helpers import choose_in_autocomplete, sign_in
from tests.support import add_totp_device, current_code, make_user
from vendors.models import VendorBankAccount

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def click_and_wait(page, selector):
    """Click something that posts a form and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def test_a_bill_goes_from_draft_to_paid_with_four_people(page, live_server, people, tmp_path, dots):
    base = live_server.url
    dots.settings(payable_payment={"mode": "immediate", "outcome": "payment_completed"})
    device = add_totp_device(people.payer)
    manager = make_user("manager", role=roles.MANAGER)

    # 1. The clerk creates the vendor and its bank account.
    sign_in(page, base, "clerk")
    page.goto(f"{base}/admin/vendors/vendor/add/")
    page.fill("#id_name", "Globex Corporation")
    page.fill("#id_contact_email", "ap@globex.example")
    page.fill("#id_address_line_1", "100 Industrial Way")
    page.fill("#id_city", "Cypress Creek")
    page.select_option("#id_state", "OR")
    page.fill("#id_postcode", "97401")
    click_and_wait(page, "input[name=_save]")
    vendor_account_url = f"{base}/admin/vendors/vendorbankaccount/add/"
    page.goto(vendor_account_url)
    choose_in_autocomplete(page, "id_vendor", "glob", "Globex Corporation")
    page.fill("#id_name", "Globex operating")
    page.fill("#id_routing_number", "021000021")
    page.fill("#id_account_number", "000123456789")
    page.select_option("#id_account_type", "checking")
    click_and_wait(page, "input[type=submit]")
    account = VendorBankAccount.objects.get(name="Globex operating")
    assert account.account_last4 == "6789"

    # 2. The clerk enters the bill with two line items and its PDF, and submits it.
    pdf = tmp_path / "globex-7001.pdf"
    pdf.write_bytes(PDF)
    page.goto(f"{base}/admin/payables/payable/add/")
    choose_in_autocomplete(page, "id_vendor", "Globex", "Globex Corporation")
    expect(page.locator("#id_bank_account option")).to_have_count(2)
    page.select_option("#id_bank_account", str(account.pk))
    page.fill("#id_bill_number", "GX-7001")
    page.fill("#id_description", "Widgets for the spring line")
    page.set_input_files("#id_file", str(pdf))
    add_row = page.locator(".add-row a")
    add_row.click()
    add_row.click()
    page.fill("#id_items-0-name", "Widgets")
    page.fill("#id_items-0-unit_price_cents", "125.00")
    page.fill("#id_items-0-quantity", "8")
    page.fill("#id_items-1-name", "Freight")
    page.fill("#id_items-1-unit_price_cents", "$49.99")
    page.fill("#id_items-1-quantity", "1")
    click_and_wait(page, "input[name=_continue]")
    assert "$1,049.99" in page.inner_text(".payable-panel h2")
    click_and_wait(page, "input[value='Submit for approval']")
    payable = Payable.objects.get(bill_number="GX-7001")
    assert payable.status == Payable.Status.SUBMITTED, page.inner_text(".messagelist")

    # 3. A second clerk verifies the bank account.
    sign_in(page, base, "clerk2")
    page.goto(f"{base}/admin/vendors/vendorbankaccount/{account.pk}/verify/")
    page.fill("#id_how_confirmed", "Called Globex on the number from our 2025 contract")
    click_and_wait(page, "input[type=submit]")
    account.refresh_from_db()
    assert account.is_verified

    # 4. The approver approves.
    sign_in(page, base, "approver")
    page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
    click_and_wait(page, "a.button:has-text('Approve…')")
    page.fill("#id_comment", "Matches PO 55")
    click_and_wait(page, "input[type=submit][value=Approve]")
    assert "approved" in page.inner_text(".messagelist")

    # 5. The payer signs in with a code and pays; the page ends at Paid.
    sign_in(page, base, "payer", code=current_code(device))
    page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
    click_and_wait(page, "a.button:has-text('Pay…')")
    click_and_wait(page, "input[type=submit][value=Pay]")
    assert "sent for payment" in page.inner_text(".messagelist"), page.inner_text(".messagelist")
    page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
    assert "Paid" in page.inner_text(".payable-panel h2")

    # 6. The manager reads every step in the audit history, with the right people.
    sign_in(page, base, manager.username)
    page.goto(f"{base}/admin/core/auditevent/?object_type=payables.payable&q={payable.pk}")
    rows = page.locator("#result_list tbody tr")
    text = "\n".join(rows.nth(i).inner_text() for i in range(rows.count()))
    for label, who in [
        ("Payable created", "clerk"),
        ("Payable submitted for approval", "clerk"),
        ("Payable approved", "approver"),
        ("Payment requested", "payer"),
        ("Payable paid", ""),
    ]:
        assert label in text, text
        if who:
            assert any(label in line and who in line for line in text.splitlines()), (label, who, text)
    verified = AuditEvent.objects.filter(
        object_type="vendors.vendorbankaccount", object_id=str(account.pk), actor=people.clerk2
    )
    assert verified.exists()
    assert page.csp_violations == []
