"""Money out of payees' wallets in a real browser (issue #12): a payout to a payee's payout method, and a
payout batch built from the payee list, each approved by a Payer who did not ask; the batch page shows each
payee's outcome in words with the totals."""

import pytest

from core import roles
from core.audit import system_user
from payouts import sync
from payouts.models import PayeePayout, PayoutBatch
from payouts.services import payees
from tests.browser.helpers import shot, sign_in
from tests.support import add_totp_device, current_code, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _as(page, live_server, username: str, device) -> None:
    sign_in(page, live_server.url, username, code=current_code(device))
    assert "/login/" not in page.url, f"{username} could not sign in"


def _payee(dots, operator, first: str, phone: str, *, method=True, wallet=0):
    payee = payees.payee_create(
        first_name=first, last_name="Lee", email=f"{first.lower()}@example.com", phone=phone, actor=operator
    )
    dots.control(f"users/{payee.dots_user_id}/status", {"status": "verified"})
    if wallet:
        dots.control(f"users/{payee.dots_user_id}/wallet/credit", {"amount": wallet})
    if method:
        fields = {"platform": "ach", "routing_number": "021000021", "account_number": "000123456789"}
        payee = payees.payee_add_payout_method(payee_id=payee.pk, fields={**fields, "is_default": True}, actor=operator)
    return payees.payee_refresh(payee_id=payee.pk, actor=operator)


def test_a_payout_from_a_payee_wallet_is_asked_from_the_payee_page_and_approved(page, live_server, dots):
    olga = make_user("olga", role=roles.PAYOUTS_OPERATOR)
    pia = make_user("pia", role=roles.PAYER)
    devices = {"olga": add_totp_device(olga), "pia": add_totp_device(pia)}
    ann = _payee(dots, olga, "Ann", "+12015550171", wallet=50_000)

    _as(page, live_server, "olga", devices["olga"])
    page.goto(f"{live_server.url}/admin/payouts/payee/{ann.pk}/change/")
    page.click("text=Pay out from wallet")
    page.wait_for_selector("text=Bank account, account ending 6789 (their default)")
    page.fill("#id_amount", "120.00")
    page.fill("#id_reason", "March earnings")
    shot(page, "payee-payout-ask")
    page.click("input[type=submit]")
    page.wait_for_selector("text=A Payer approves it before it is sent")
    content = page.inner_text("#content")
    assert "$120.00" in content and "Waiting for a Payer to approve" in content and "Approve and send" not in content
    payout = PayeePayout.objects.get()

    _as(page, live_server, "pia", devices["pia"])
    page.goto(f"{live_server.url}/admin/payouts/payeepayout/{payout.pk}/change/")
    page.click("text=Approve and send")
    shot(page, "payee-payout-approve")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Accepted by Dots")
    shot(page, "payee-payout-sent")
    (call,) = dots.received("POST", "/v2/payouts")
    assert call["body"]["idempotency_key"] == str(payout.idempotency_key) and call["body"]["fund"] is False


def test_a_batch_built_from_the_payee_list_shows_each_payee_outcome_and_the_totals(page, live_server, dots):
    olga = make_user("olga", role=roles.PAYOUTS_OPERATOR)
    pia = make_user("pia", role=roles.PAYER)
    devices = {"olga": add_totp_device(olga), "pia": add_totp_device(pia)}
    ann = _payee(dots, olga, "Ann", "+12015550172")
    ben = _payee(dots, olga, "Ben", "+12015550173")
    cy = _payee(dots, olga, "Cy", "+12015550174", method=False)

    _as(page, live_server, "olga", devices["olga"])
    page.goto(f"{live_server.url}/admin/payouts/payee/")
    for payee in (ann, ben, cy):
        page.check(f"input[name=_selected_action][value='{payee.pk}']")
    page.select_option("select[name=action]", "pay_out_in_batch")
    page.click("button[name=index]")
    page.wait_for_selector("text=3 payees chosen")
    page.fill("#id_amount", "75.00")
    page.fill("#id_reason", "April bonus")
    shot(page, "payout-batch-build")
    page.click("input[type=submit]")
    page.wait_for_selector("text=A Payer approves it before it is sent")
    batch = PayoutBatch.objects.get()
    assert (batch.item_count, batch.total_cents) == (3, 22_500)

    _as(page, live_server, "pia", devices["pia"])
    page.goto(f"{live_server.url}/admin/payouts/payoutbatch/{batch.pk}/change/")
    page.click("text=Approve and send")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Each payee's outcome")
    batch.refresh_from_db()
    first, second, _ = batch.items.order_by("id")
    dots.control(f"transfers/{first.dots_transfer_id}/advance", {"status": "completed"})
    dots.control(f"transfers/{second.dots_transfer_id}/advance", {"status": "failed", "reason": "Account closed"})
    sync.payout_batches_step(actor=system_user())
    page.reload()
    content = page.inner_text("#content")
    shot(page, "payout-batch-outcomes")
    assert "1 paid, $75.00; 2 failed, $150.00" in content
    assert "Account closed" in content and "The payee has no default payout method in Dots" in content
    assert "Paid" in content
