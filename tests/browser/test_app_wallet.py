"""The app wallet in a real browser (issue #12): KYB, the bank account, a $25,000.00 deposit by two Payers.

An Administrator reads the app from Dots, fills its KYB information and adds its bank account;
a second person verifies the account; a Payer asks for a $25,000.00 deposit (above the $10,000.00
threshold), a second Payer approves it; the emulator settles it, the sync follows it, and the
app's page shows the wallet $25,000.00 fuller.
"""

import pytest

from core import roles
from core.audit import system_user
from tests.browser.helpers import shot, sign_in
from tests.support import add_totp_device, current_code, make_user
from tests.wallet.conftest import ACCOUNT_NUMBER, COMPLIANCE
from wallet import sync
from wallet.models import AchAccount, App, WalletTransfer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
EIN, SSN = COMPLIANCE["company_info"]["ein"], COMPLIANCE["directors"][0]["ssn"]


def _as(page, live_server, username: str, device) -> None:
    sign_in(page, live_server.url, username, code=current_code(device))
    assert "/login/" not in page.url, f"{username} could not sign in"


def _fill_kyb(page) -> None:
    company, contact, director = COMPLIANCE["company_info"], COMPLIANCE["contact_info"], COMPLIANCE["directors"][0]
    for field in ("name", "website", "ein", "incorporation_date"):
        page.fill(f"#id_{field}", company[field])
    page.select_option("#id_incorporation_type", company["incorporation_type"])
    page.select_option("#id_incorporation_state", company["incorporation_state"])
    for field in ("email", "phone_number", "line1", "city", "zip", "country"):
        page.fill(f"#id_{field}", contact[field])
    page.select_option("#id_state", contact["state"])
    page.fill("#id_reasons", COMPLIANCE["flow_of_funds"]["reasons"])
    page.fill("#id_usage", COMPLIANCE["flow_of_funds"]["usage"])
    for field in ("first_name", "last_name", "title", "phone", "email", "dob", "ssn"):
        page.fill(f"#id_director-0-{field}", director[field])
    page.fill("#id_director-0-ownership_percentage", "60")
    for field in ("line1", "city", "zip", "country"):
        page.fill(f"#id_director-0-{field}", director["address"][field])
    page.select_option("#id_director-0-state", director["address"]["state"])


def test_kyb_bank_account_and_a_deposit_two_payers_approve(page, live_server, dots):
    people = {
        name: make_user(name, role=role)
        for name, role in (
            ("ada", roles.ADMINISTRATOR),
            ("ben", roles.ADMINISTRATOR),
            ("pia", roles.PAYER),
            ("pat", roles.PAYER),
        )
    }
    devices = {name: add_totp_device(user) for name, user in people.items()}

    # The Administrator: the app from Dots, its KYB information, its bank account.
    _as(page, live_server, "ada", devices["ada"])
    page.goto(f"{live_server.url}/admin/wallet/app/")
    page.click("text=Read apps from Dots")
    page.wait_for_selector("text=1 app(s) read from Dots")
    page.click("#result_list a:has-text('Ledgerline')")
    assert "$100,000.00" in page.inner_text("#content")
    page.click("text=KYB information")
    _fill_kyb(page)
    shot(page, "wallet-kyb-form")
    page.click("input[type=submit]")
    page.wait_for_selector("text=KYB information of Ledgerline sent to Dots")
    assert EIN not in page.content() and "•••••6789" in page.inner_text("#content")

    page.click("text=Add bank account")
    page.fill("#id_holder_name", "Ledgerline Inc.")
    page.fill("#id_routing_number", "021000021")
    page.fill("#id_account_number", ACCOUNT_NUMBER)
    page.select_option("#id_account_type", "checking")
    page.click("input[type=submit]")
    page.wait_for_selector("text=A second person must verify it")
    assert "••••2333" in page.inner_text("#content") and ACCOUNT_NUMBER not in page.content()
    shot(page, "wallet-app-unverified-account")

    # A second Administrator verifies it.
    _as(page, live_server, "ben", devices["ben"])
    page.goto(f"{live_server.url}/admin/wallet/achaccount/")
    page.click("#result_list a:has-text('••••2333')")
    page.click("text=Verify")
    page.fill("#id_how_confirmed", "checked the bank's letter on file")
    shot(page, "wallet-verify-account")
    page.click("input[type=submit]")
    page.wait_for_selector("text=is verified: money may move")
    assert AchAccount.objects.get().verified_by == people["ben"]

    # A Payer asks for $25,000.00: above the threshold, so it waits.
    _as(page, live_server, "pia", devices["pia"])
    page.goto(f"{live_server.url}/admin/wallet/app/{App.objects.get().pk}/change/")
    page.click(".object-tools a:text-is('Deposit')")
    page.fill("#id_amount", "25,000.00")
    shot(page, "wallet-deposit-form")
    page.click("input[type=submit]")
    page.wait_for_selector("text=waits for a second Payer to approve it")
    transfer = WalletTransfer.objects.get()
    assert transfer.status == WalletTransfer.Status.AWAITING_APPROVAL
    assert dots.received("POST", "/v2/apps/*/deposit") == []

    # A second Payer approves it; it goes to Dots.
    _as(page, live_server, "pat", devices["pat"])
    page.goto(f"{live_server.url}/admin/wallet/wallettransfer/{transfer.pk}/change/")
    page.click("text=Approve or reject")
    page.check("input[name=decision][value=approve]")
    page.click("input[type=submit]")
    page.wait_for_selector("text=approved; it is being sent to Dots")
    transfer.refresh_from_db()
    assert transfer.status == WalletTransfer.Status.CREATED and transfer.decided_by == people["pat"]
    assert "Accepted by Dots" in page.inner_text("#content")

    # The bank settles it (the emulator's control), the sync follows it, the wallet shows it.
    dots.control(f"transfers/{transfer.dots_transfer_id}/advance", {"status": "completed"})
    sync.transfers_step(actor=system_user())
    page.reload()
    assert "Completed" in page.inner_text("#content")
    shot(page, "wallet-deposit-completed")
    page.goto(f"{live_server.url}/admin/wallet/app/{transfer.app_id}/change/")
    assert "$125,000.00" in page.inner_text("#content")
    shot(page, "wallet-app-after-deposit")
    assert page.csp_violations == []
