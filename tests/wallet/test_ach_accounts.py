"""The app's bank account: added by an Administrator (holder = KYB business), verified by someone else."""

import pytest

from core.errors import PermissionRefused, SegregationOfDutiesViolation
from core.models import AuditEvent
from tests.support import make_user
from tests.wallet.conftest import ACCOUNT_NUMBER
from wallet import ach_accounts
from wallet.errors import HolderDoesNotMatchKyb, InvalidAchDetails
from wallet.models import AchAccount

pytestmark = pytest.mark.django_db


def _add(app, actor, **overrides):
    data = {
        "holder_name": "LEDGERLINE, Inc.",
        "routing_number": "021000021",
        "account_number": ACCOUNT_NUMBER,
        "account_type": "checking",
    }
    return ach_accounts.ach_account_add(actor=actor, app_id=app.pk, **{**data, **overrides})


def test_adding_the_bank_account_sends_the_number_to_dots_and_keeps_only_its_last_four(dots, wallet_app, team):
    account = _add(wallet_app, team.admin)

    assert (account.account_last4, account.is_verified, account.created_by) == ("2333", False, team.admin)
    put = dots.received("PUT", f"/v2/apps/{wallet_app.dots_app_id}/ach-account")
    assert len(put) == 1
    event = AuditEvent.objects.get(action="app_ach_account.added")
    stored = " ".join(str(v) for v in AchAccount.objects.values_list()) + str(event.changes)
    assert ACCOUNT_NUMBER not in stored and "2333" in str(event.changes)


def test_an_account_holder_other_than_the_kyb_business_is_refused_and_nothing_is_sent(dots, wallet_app, team):
    with pytest.raises(HolderDoesNotMatchKyb) as refused:
        _add(wallet_app, team.admin, holder_name="Mallory Holdings")
    assert "Ledgerline Inc" in str(refused.value)
    assert dots.received("PUT", "/v2/apps/*/ach-account") == []
    assert not AchAccount.objects.exists()


def test_a_bad_account_number_is_refused_naming_the_field(dots, wallet_app, team):
    with pytest.raises(InvalidAchDetails) as refused:
        _add(wallet_app, team.admin, account_number="12-34")
    assert set(refused.value.errors) == {"account_number"}


def test_a_payer_may_not_add_the_bank_account(dots, wallet_app, team):
    with pytest.raises(PermissionRefused):
        _add(wallet_app, team.payer)


def test_whoever_added_the_account_cannot_verify_it_superusers_included(dots, wallet_app, team):
    root = make_user("root", is_superuser=True)
    account = _add(wallet_app, root)
    with pytest.raises(SegregationOfDutiesViolation):
        ach_accounts.ach_account_verify(actor=root, ach_account_id=account.pk, how_confirmed="I know it")
    account.refresh_from_db()
    assert not account.is_verified

    ach_accounts.ach_account_verify(actor=team.admin2, ach_account_id=account.pk, how_confirmed="bank letter")
    account.refresh_from_db()
    assert account.verified_by == team.admin2
    assert AuditEvent.objects.get(action="app_ach_account.verified").reason == "bank letter"


def test_a_new_account_replaces_the_old_one_and_waits_for_its_own_verification(dots, verified_account, team):
    newer = _add(verified_account.app, team.admin, account_number="999888777666")
    verified_account.refresh_from_db()
    assert verified_account.replaced_at is not None
    assert ach_accounts.current_account(verified_account.app) == newer and not newer.is_verified
