"""A payee's address, W-8BEN and payout methods in Chromium: an operator fills the address and the W-8BEN
(reached from the W-9), the payee's page shows them; a Payer reads the payout methods, masked, with no form."""

import pytest

from core import roles
from payouts.services import payees
from tests.browser.helpers import shot, sign_in
from tests.payouts.conftest import phone
from tests.support import add_totp_device, current_code, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FTIN = "65929970489"
ACCOUNT = "000123456789"


@pytest.fixture
def anna(db, dots):
    operator = make_user("olive", role=roles.PAYOUTS_OPERATOR)
    return payees.payee_create(
        first_name="Anna", last_name="Schmidt", email="anna@example.com", phone=phone(), actor=operator
    )


def test_operator_sends_the_address_and_the_w8ben_and_the_payee_page_shows_them(page, live_server, dots, anna):
    sign_in(page, live_server.url, "olive")
    page.goto(f"{live_server.url}/admin/payouts/payee/{anna.pk}/change/")
    page.click(".object-tools a:text-is('Address')")
    page.fill("#id_line_1", "Unter den Linden 1")
    page.fill("#id_city", "Berlin")
    page.select_option("#id_country", "DE")
    page.fill("#id_postcode", "10117")
    page.click("input[type=submit]")  # no region: refused, naming the field
    assert "Type the state, province or region" in page.inner_text("#content-main")
    page.fill("#id_region", "Berlin")
    shot(page, "payee-address-form")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert "Address of Anna Schmidt" in page.inner_text(".messagelist")
    address = page.inner_text(".field-address_shown")
    assert "Unter den Linden 1" in address and "Berlin, Berlin 10117" in address and "Germany" in address

    page.click(".object-tools a:text-is('W-9')")
    page.click("text=Use the W-8BEN")
    assert page.input_value("#id_name") == "Anna Schmidt" and page.input_value("#id_city") == "Berlin"
    page.select_option("#id_citizenship_country", "DE")
    page.fill("#id_date_of_birth", "1985-06-01")
    page.fill("#id_foreign_tax_id", FTIN)
    page.select_option("#id_tax_treaty_country", "DE")
    page.fill("#id_tax_treaty_citation", "Article 12(1)")
    page.fill("#id_tax_treaty_rate", "15")
    page.select_option("#id_tax_treaty_income_type", label="Copyright royalties")
    page.click("input[type=submit]")  # not signed yet: refused, the tax id to type again
    text = page.inner_text("#content-main")
    assert "For your security, type it again." in text and page.input_value("#id_foreign_tax_id") == ""
    assert FTIN not in page.content()
    page.check("#id_consent")
    page.fill("#id_foreign_tax_id", FTIN)
    shot(page, "payee-w8ben-form")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert "W-8BEN of Anna Schmidt" in page.inner_text(".messagelist")
    assert "tax form collected" in page.inner_text(".field-compliance_summary")
    assert FTIN not in page.content()
    (call,) = dots.received("PUT", f"/v2/users/{anna.dots_user_id}/compliance")
    assert call["body"]["w8ben"]["tax_treaty_rate"] == 0.15
    shot(page, "payee-page-with-address")
    assert page.csp_violations == []


def test_a_payer_reads_the_payout_methods_masked_and_is_offered_no_form(page, live_server, dots, anna):
    payees.payee_add_payout_method(
        payee_id=anna.pk,
        fields={"platform": "ach", "routing_number": "021000021", "account_number": ACCOUNT,
                "account_type": "checking", "is_default": True},
        actor=anna.created_by,
    )  # fmt: skip
    payer = make_user("pat", role=roles.PAYER)
    sign_in(page, live_server.url, "pat", code=current_code(add_totp_device(payer)))
    page.goto(f"{live_server.url}/admin/payouts/payee/{anna.pk}/change/")
    tools = page.inner_text(".object-tools").upper()  # the admin's CSS writes the buttons in capitals
    assert "PAYOUT METHODS" in tools and "W-8BEN" not in tools and "ADDRESS" not in tools and "W-9" not in tools
    page.click(".object-tools a:text-is('Payout methods')")
    table = page.inner_text("table.ll-details")
    assert "Bank account" in table and "account ending 6789" in table and "yes" in table
    assert page.locator("input[name=account_number]").count() == 0
    assert page.locator("input[type=submit]").count() == 0
    assert ACCOUNT not in page.content()
    shot(page, "payee-payout-methods-payer")
    assert page.csp_violations == []
