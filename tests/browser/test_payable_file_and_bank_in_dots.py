"""In Chromium: an approver opens a payable's PDF from its page (the download page, never /media/), and a
clerk reads a vendor bank account from Dots, masked, from the bank account's page.

Screenshots land in /tmp/shots-leftovers-ap (or $LEDGERLINE_SHOTS) for a person to look at.
"""

import os

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.helpers import shot, sign_in
from tests.support import add_totp_device, current_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _shots(monkeypatch):
    monkeypatch.setenv("LEDGERLINE_SHOTS", os.environ.get("LEDGERLINE_SHOTS", "/tmp/shots-leftovers-ap"))


def _signed_in(browser, live_server, user):
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    sign_in(page, live_server.url, user.username, code=current_code(add_totp_device(user)))
    return page


def test_an_approver_opens_the_bill_pdf_from_the_payable_page(browser, live_server, people, make_payable):
    payable = make_payable()
    payable.file.save("acme-inv-9.pdf", ContentFile(PDF), save=True)
    page = _signed_in(browser, live_server, people.approver)
    page.goto(live_server.url + reverse("admin:payables_payable_change", args=[payable.pk]))
    link = page.get_by_role("link", name="acme-inv-9")
    expect(link).to_have_attribute("href", reverse("admin:payables_payable_file", args=[payable.pk]))
    shot(page, "payable-with-pdf")
    assert "/media/" not in page.content()
    url = live_server.url + reverse("admin:payables_payable_file", args=[payable.pk])
    response = page.request.get(url)  # the browser's own session: signed in
    assert response.status == 200
    assert response.body() == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_clerk_reads_a_bank_account_from_dots(browser, live_server, people, vendor_account):
    _vendor, account = vendor_account
    page = _signed_in(browser, live_server, people.clerk)
    page.goto(live_server.url + reverse("admin:vendors_vendorbankaccount_change", args=[account.pk]))
    with page.expect_navigation():
        page.get_by_role("link", name="Read from Dots").click()
    expect(page.locator("table.ll-in-dots")).to_contain_text("••••6789")
    expect(page.get_by_text("Dots and Ledgerline agree on this account.")).to_be_visible()
    assert "000123456789" not in page.content()
    shot(page, "bank-account-in-dots")
