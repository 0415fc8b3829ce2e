"""Every capability the README's table of demo logins claims for a role is a permission that role has."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from core import roles

ROOT = Path(__file__).resolve().parents[1]

# Each phrase the table may use, and the permissions that make it true.
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "add and change vendors and bank accounts": (
        "vendors.add_vendor",
        "vendors.change_vendor",
        "vendors.add_vendorbankaccount",
    ),
    "verify a bank account someone else added": ("vendors.verify_vendorbankaccount",),
    "create, edit and submit payables": ("payables.add_payable", "payables.change_payable", "payables.submit_payable"),
    "cancel a draft": ("payables.submit_payable",),
    "see payables": ("payables.view_payable",),
    "approve or reject them": ("payables.approve_payable",),
    "pay approved payables": ("payables.pay_payable",),
    "schedule approved payables for a date": ("payables.pay_payable",),
    "send them back for changes": ("payables.approve_payable",),
    "put payables on hold and release them": ("payables.hold_payable",),
    "ask for and confirm emergency overrides of a payable's controls": ("payables.override_control",),
    "approve payout runs": ("payouts.approve_payoutrun",),
    "read disagreements with Dots": ("reconciliation.view_discrepancy",),
    "add payees": ("payouts.add_payee",),
    "import payees from CSV": ("payouts.add_payeeimport", "payouts.change_payeeimport"),
    "create payout requests and links": ("payouts.add_payoutrequest", "payouts.add_payoutlink"),
    "see transfers": ("payouts.view_transfer",),
    "send payees' addresses and tax forms (W-9, W-8BEN)": ("payouts.change_payee",),
    "add payout methods": ("payouts.change_payee",),
    "read payees and their payout methods": ("payouts.view_payee",),
    "ask for transfers to payees, payouts from their wallets and payout batches": (
        "payouts.add_payeetransfer",
        "payouts.add_payeepayout",
        "payouts.add_payoutbatch",
    ),
    "approve transfers to payees, payouts and payout batches another person asked for": (
        "payouts.approve_payeetransfer",
        "payouts.approve_payeepayout",
        "payouts.approve_payoutbatch",
    ),
    "read everything but authenticator secrets": (
        "payables.view_payable",
        "core.view_auditevent",
        "vendors.view_vendor",
    ),
    "export the audit history": ("core.export_auditevent",),
    "change nothing": (),  # checked below: no permission but view and export
    "give people their roles": ("auth.change_user", "auth.view_group"),
    "reset authenticators": ("otp_totp.delete_totpdevice",),
    "reset lockouts": ("axes.delete_accessattempt",),
    "change approval policies": ("payables.add_approvalpolicy", "payables.change_approvalpolicy"),
    "keep the holiday list": ("core.add_holiday", "core.change_holiday", "core.delete_holiday"),
    "record someone else's absence and their backup": ("notifications.record_absence_for_others",),
    "adopt Dots' state": ("reconciliation.adopt_discrepancy",),
    "ask for app wallet deposits and withdrawals": ("wallet.add_wallettransfer",),
    "approve those of another Payer": ("wallet.approve_wallettransfer",),
    "verify the app's bank account someone else added": ("wallet.verify_achaccount",),
    "send the app's KYB information": ("wallet.change_app",),
    "add the app's bank account": ("wallet.add_achaccount",),
    "change the app wallet's settings": ("wallet.change_app",),
    "add payment customers": ("receivables.add_paymentcustomer",),
    "attach and detach their payment methods": ("receivables.change_paymentmethod",),
    "create and confirm payment intents": ("receivables.add_paymentintent", "receivables.confirm_paymentintent"),
    "create checkout sessions": ("receivables.add_checkoutsession",),
    "collect ACH payments": ("receivables.add_payment",),
}


def _table() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("### Demo logins", 1)[1].split("\n\n", 2)[1]
    claims = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in roles.ALL_ROLES:
            claims[cells[0]] = [c.strip() for c in cells[3].split(";")]
    return claims


def test_the_table_names_every_role():
    assert set(_table()) == set(roles.ALL_ROLES)


@pytest.mark.django_db
@pytest.mark.parametrize("role", roles.ALL_ROLES)
def test_each_capability_the_readme_claims_is_a_permission_of_the_role(role):
    held = {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=role).permissions.values_list("content_type__app_label", "codename")
    }
    for phrase in _table()[role]:
        assert phrase in CAPABILITIES, f"{role}: the README claims {phrase!r}; say which permissions make it true"
        missing = [p for p in CAPABILITIES[phrase] if p not in held]
        assert missing == [], f"{role} may {phrase!r} says the README, but lacks {missing}"
        if phrase == "change nothing":
            acting = sorted(p for p in held if not re.match(r"^[a-z_]+\.(view|export)_", p))
            assert acting == [], f"{role} changes nothing says the README, but holds {acting}"
        if phrase == "read everything but authenticator secrets":
            assert not any(p.startswith("otp_totp.") for p in held)
