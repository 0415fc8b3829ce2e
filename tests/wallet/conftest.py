"""Fixtures of the wallet tests: the emulator's default app, KYB in Dots, people in roles."""

from types import SimpleNamespace

import pytest

from core import dots_gateway, roles
from tests.support import make_user
from wallet import ach_accounts
from wallet.models import App

COMPLIANCE = {
    "company_info": {
        "name": "Ledgerline Inc",
        "website": "https://ledgerline.example",
        "ein": "123456789",
        "incorporation_type": "c_corporation",
        "incorporation_state": "DE",
        "incorporation_date": "2020-01-02",
        "ubo_count": 1,
    },
    "contact_info": {
        "email": "ops@ledgerline.example",
        "phone_number": "+14155550100",
        "line1": "1 Main St",
        "city": "Springfield",
        "zip": "12345",
        "state": "CA",
        "country": "US",
    },
    "directors": [
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "title": "Chief executive",
            "phone": "+14155550101",
            "email": "ann@ledgerline.example",
            "dob": "1980-05-06",
            "ownership_percentage": 60,
            "ssn": "987654321",
            "address": {"line1": "2 Oak St", "city": "Springfield", "zip": "12345", "state": "CA", "country": "US"},
        }
    ],
    "flow_of_funds": {"reasons": "vendor payments", "usage": "accounts payable"},
}
ACCOUNT_NUMBER = "000111222333"


@pytest.fixture
def team(db):
    return SimpleNamespace(
        admin=make_user("wallet-admin", role=roles.ADMINISTRATOR),
        admin2=make_user("wallet-admin2", role=roles.ADMINISTRATOR),
        payer=make_user("wallet-payer", role=roles.PAYER),
        payer2=make_user("wallet-payer2", role=roles.PAYER),
        manager=make_user("wallet-manager", role=roles.MANAGER),
    )


@pytest.fixture
def wallet_app(dots):
    """The emulator's default app (approved, $100,000.00), with KYB information in Dots."""
    dots_gateway.client().update_app_compliance(app_id=dots.app_id, **COMPLIANCE)
    return App.objects.create(dots_app_id=dots.app_id, name="Ledgerline", status=App.Status.APPROVED)


@pytest.fixture
def verified_account(wallet_app, team):
    account = ach_accounts.ach_account_add(
        actor=team.admin,
        app_id=wallet_app.pk,
        holder_name="Ledgerline Inc",
        routing_number="021000021",
        account_number=ACCOUNT_NUMBER,
        account_type="checking",
    )
    return ach_accounts.ach_account_verify(actor=team.payer2, ach_account_id=account.pk, how_confirmed="bank letter")
