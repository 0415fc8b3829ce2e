"""Payout links, requests, transfers and payees as an operator reads them in Chromium: money in dollars,
statuses and labels in words, times without microseconds, no save button where nothing can be changed,
and ids, keys and JSON only inside the collapsed "Details for support"."""

import re

import pytest

from core import roles
from payouts.models import PayoutLink, PayoutRequest, Transfer
from payouts.services import payees
from tests.browser.helpers import shot, sign_in
from tests.payouts.conftest import phone
from tests.support import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RAW_CENTS = re.compile(r"(amount|total|wallet)[^\n$]{0,20}?\b\d{3,}\b", re.IGNORECASE)
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
JSON_LITERAL = re.compile(r"[\[{]\s*\"|\":\s")
SAVE_BUTTONS = "input[name=_save], input[name=_continue], input[name=_addanother]"


def outside_support(page) -> str:
    """The page's main text without what the collapsed "Details for support" holds."""
    return page.evaluate(
        """() => {
            const main = document.querySelector('#content-main').cloneNode(true);
            main.querySelectorAll('details').forEach(d => d.remove());
            return main.innerText;
        }"""
    )


def assert_reads_like_a_person_wrote_it(page) -> None:
    text = outside_support(page)
    assert not RAW_CENTS.search(text), RAW_CENTS.search(text)
    assert not MICROSECONDS.search(page.inner_text("#content")), "a time shows microseconds"
    assert not JSON_LITERAL.search(text), JSON_LITERAL.search(text)
    for code in ("cents", "e164", "None", "(local)", "dots error", "Idempotency"):
        assert code not in text, code
    assert page.locator(SAVE_BUTTONS).count() == 0
    assert page.locator("details").count() == 1 and page.locator("details").get_attribute("open") is None
    assert page.inner_text("details summary") == "Details for support"
    assert page.csp_violations == []


@pytest.fixture
def jane(db):
    operator = make_user("olive", role=roles.PAYOUTS_OPERATOR)
    return payees.payee_create(
        first_name="Jane", last_name="Doe", email="jane@example.com", phone=phone(), actor=operator
    )


def test_operator_creates_a_payout_link_and_reads_its_page_in_words(page, live_server, dots, jane):
    payees.payee_create(
        first_name="Aaron", last_name="Zed", email="a@example.com", phone=phone(), actor=jane.created_by
    )
    sign_in(page, live_server.url, "olive")
    page.goto(f"{live_server.url}/admin/payouts/payoutlink/add/")
    options = page.locator("#id_payee option").all_inner_texts()
    assert [o.split(" (")[0] for o in options[1:]] == ["Aaron Zed", "Jane Doe"]  # sorted by name
    page.select_option("#id_payee", label=str(jane))
    page.fill("#id_amount", "25.00")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist")

    link = PayoutLink.objects.get()
    message = page.inner_text(".messagelist")
    assert message.startswith("Payout link for $25.00 to Jane Doe")
    assert "(local)" not in message and "Dots (local)" not in message
    assert page.inner_text(".field-amount .readonly") == "$25.00"
    assert page.inner_text(".field-status_shown .readonly") == "Created in Dots"
    assert page.inner_text(".field-payee_shown .readonly").startswith("Jane Doe")
    assert page.input_value("#payout-link-url") == link.link
    page.click("button.ll-copy")
    page.wait_for_selector("button.ll-copy:has-text('Copied')")
    assert "What happens next" in page.inner_text("#content-main")
    # The key, the body sent to Dots and the raw history are there, folded away for support.
    assert not page.is_visible(f"text={link.idempotency_key}")
    assert_reads_like_a_person_wrote_it(page)
    shot(page, "payout-link")
    page.click("details summary")
    assert str(link.idempotency_key) in page.inner_text("details")
    assert '"amount": 2500' in page.inner_text("details")
    shot(page, "payout-link-details-open")


def test_operator_sends_a_payout_request_and_reads_its_page_in_words(page, live_server, dots, jane):
    sign_in(page, live_server.url, "olive")
    page.goto(f"{live_server.url}/admin/payouts/payoutrequest/add/")
    page.select_option("#id_payee", label=str(jane))
    page.fill("#id_amount", "25.00")
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist")

    assert PayoutRequest.objects.get().amount_cents == 2500
    assert page.inner_text(".messagelist").startswith("Payout request for $25.00 to Jane Doe")
    assert page.inner_text(".field-amount .readonly") == "$25.00"
    assert page.inner_text(".field-status_shown .readonly") == "Waiting for approval in Dots"
    assert "For someone who is not a payee yet" not in page.inner_text("#content")  # no form help on a page to read
    assert_reads_like_a_person_wrote_it(page)
    shot(page, "payout-request")

    page.goto(f"{live_server.url}/admin/payouts/payoutrequest/")
    headers = page.inner_text("#result_list thead")
    assert "PHONE" in headers.upper() and "E164" not in headers.upper()
    assert "$25.00" in page.inner_text("#result_list tbody")
    shot(page, "payout-requests")


def test_transfer_and_payee_pages_show_dollars_words_and_no_save_button(page, live_server, dots, jane):
    transfer = Transfer.objects.create(
        dots_id="tr-1", type="payout", status="failed", amount_cents=2500, failure_reason="account closed"
    )
    sign_in(page, live_server.url, "olive")

    page.goto(f"{live_server.url}/admin/payouts/transfer/{transfer.pk}/change/")
    assert page.inner_text(".field-amount .readonly") == "$25.00"
    assert page.inner_text(".field-failure_reason .readonly") == "account closed"
    assert not page.is_visible(".field-fingerprint") and not page.is_visible(".field-dots_user_id")  # for support
    assert_reads_like_a_person_wrote_it(page)
    shot(page, "transfer")

    page.goto(f"{live_server.url}/admin/payouts/payee/{jane.pk}/change/")
    assert page.inner_text(".field-wallet .readonly") == "$0.00"
    assert page.inner_text(".field-phone_e164 label") == "Phone:"
    assert_reads_like_a_person_wrote_it(page)
    shot(page, "payee")


def test_the_home_page_names_the_payouts_and_vendors_apps_and_models_in_words(page, live_server, dots):
    make_user("mona", role=roles.MANAGER)
    sign_in(page, live_server.url, "mona")
    text = page.inner_text("#content-main")
    for name in ("Payouts", "Payout links", "Payout requests", "Vendors", "Bank accounts"):
        assert name.upper() in text.upper(), name
    assert "VENDOR BANK ACCOUNTS" not in text.upper()
    shot(page, "home")
