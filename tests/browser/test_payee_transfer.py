"""A transfer to a payee in a real browser (issue #12): a Payouts operator asks, a Payer approves, Dots has it.

The operator moves $25.00 from the app wallet to a payee's wallet with a reason; the page says a
Payer approves it first and offers the operator no approve link; a Payer approves and it is sent
with the key stored on the request: Dots has one transfer.
"""

import pytest

from core import roles
from payouts.models import PayeeTransfer
from payouts.services import payees
from tests.browser.helpers import shot, sign_in
from tests.support import add_totp_device, current_code, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _as(page, live_server, username: str, device) -> None:
    sign_in(page, live_server.url, username, code=current_code(device))
    assert "/login/" not in page.url, f"{username} could not sign in"


def test_an_operator_asks_and_a_payer_approves_a_transfer_to_a_payee(page, live_server, dots):
    olga = make_user("olga", role=roles.PAYOUTS_OPERATOR)
    pia = make_user("pia", role=roles.PAYER)
    devices = {"olga": add_totp_device(olga), "pia": add_totp_device(pia)}
    payee = payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone="+12015550177", actor=olga
    )

    _as(page, live_server, "olga", devices["olga"])
    page.goto(f"{live_server.url}/admin/payouts/payeetransfer/add/")
    page.select_option("#id_payee", str(payee.pk))
    page.fill("#id_amount", "25.00")
    page.fill("#id_reason", "Referral bonus")
    shot(page, "payee-transfer-ask")
    page.click("input[type=submit]")
    page.wait_for_selector("text=A Payer approves it before it is sent")
    content = page.inner_text("#content")
    assert "$25.00" in content and "Waiting for a Payer to approve" in content and "Approve and send" not in content
    assert dots.received("POST", "/v2/transfers") == []
    transfer = PayeeTransfer.objects.get()

    _as(page, live_server, "pia", devices["pia"])
    page.goto(f"{live_server.url}/admin/payouts/payeetransfer/{transfer.pk}/change/")
    page.click("text=Approve and send")
    page.fill("#id_note", "Agreed in the referral programme")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Ann Lee: Accepted by Dots")
    shot(page, "payee-transfer-sent")
    assert "Accepted by Dots" in page.inner_text("#content")
    (call,) = dots.received("POST", "/v2/transfers")
    assert call["body"]["idempotency_key"] == str(transfer.idempotency_key)
