"""The wallet pages: a fresh authenticator code before money moves, numbers never sent back, decisions."""

import pytest
from django.urls import reverse

from core.two_factor import SESSION_OTP_VERIFIED_AT
from tests.support import add_totp_device, current_code, login_verified
from tests.wallet.conftest import ACCOUNT_NUMBER
from wallet.models import AchAccount, WalletTransfer

pytestmark = pytest.mark.django_db
S = WalletTransfer.Status


def _move(app, kind="deposit"):
    return reverse("admin:wallet_app_move", args=[app.pk, kind])


def test_asking_for_a_deposit_needs_a_fresh_code_and_a_wrong_one_moves_nothing(
    client, dots, verified_account, team, django_capture_on_commit_callbacks
):
    app = verified_account.app
    device = add_totp_device(team.payer)
    login_verified(client, team.payer)
    page = client.post(_move(app), {"amount": "250.00", "otp_token": "000000"}).content.decode()
    assert "That code is wrong or has expired" in page
    assert not WalletTransfer.objects.exists()

    device.refresh_from_db()
    device.throttle_reset()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_move(app), {"amount": "250.00", "otp_token": current_code(device)})
    transfer = WalletTransfer.objects.get()
    assert response.status_code == 302 and (transfer.amount_cents, transfer.status) == (25_000, S.CREATED)


def test_the_second_payer_approves_on_the_decide_page_and_the_requester_is_told_they_cannot(
    client, dots, verified_account, team, django_capture_on_commit_callbacks
):
    app = verified_account.app
    login_verified(client, team.payer)
    session = client.session
    session[SESSION_OTP_VERIFIED_AT] = __import__("time").time()
    session.save()
    client.post(_move(app), {"amount": "25,000.00"})
    transfer = WalletTransfer.objects.get()
    assert transfer.status == S.AWAITING_APPROVAL
    own = client.get(reverse("admin:wallet_wallettransfer_decide", args=[transfer.pk])).content.decode()
    assert "You asked for this, so you cannot approve it" in own

    login_verified(client, team.payer2)
    session = client.session
    session[SESSION_OTP_VERIFIED_AT] = __import__("time").time()
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:wallet_wallettransfer_decide", args=[transfer.pk]), {"decision": "approve"})
    transfer.refresh_from_db()
    assert transfer.status == S.CREATED and transfer.decided_by == team.payer2
    page = client.get(reverse("admin:wallet_wallettransfer_change", args=[transfer.pk])).content.decode()
    assert "$25,000.00" in page and "Accepted by Dots" in page


def test_the_bank_account_number_is_never_sent_back_after_an_error(client, dots, wallet_app, team):
    login_verified(client, team.admin)
    data = {
        "holder_name": "Someone Else LLC",
        "routing_number": "021000021",
        "account_number": ACCOUNT_NUMBER,
        "account_type": "checking",
    }
    page = client.post(reverse("admin:wallet_app_ach_account", args=[wallet_app.pk]), data).content.decode()
    assert "is not the business in the KYB information" in page
    assert ACCOUNT_NUMBER not in page and "For your security, type it again." in page
    assert not AchAccount.objects.exists()


def test_whoever_added_the_account_is_told_a_second_person_must_verify_it(client, dots, wallet_app, team):
    login_verified(client, team.admin)
    data = {
        "holder_name": "Ledgerline Inc",
        "routing_number": "021000021",
        "account_number": ACCOUNT_NUMBER,
        "account_type": "savings",
    }
    client.post(reverse("admin:wallet_app_ach_account", args=[wallet_app.pk]), data)
    account = AchAccount.objects.get()
    page = client.get(reverse("admin:wallet_achaccount_verify", args=[account.pk])).content.decode()
    assert "You added this bank account, so you cannot verify it" in page
    app_page = client.get(reverse("admin:wallet_app_change", args=[wallet_app.pk])).content.decode()
    assert "••••2333" in app_page and "Unverified" in app_page and ACCOUNT_NUMBER not in app_page
    assert "$100,000.00" in app_page  # the wallet balance, read from Dots as the page opens
