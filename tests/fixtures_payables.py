"""People, a vendor with a verified bank account in Dots, and payable drafts, for payables tests."""

from dataclasses import dataclass

import pytest

from core import roles
from payables import drafts, services
from payables.models import Approver, Payable
from tests.support import make_user
from tests.vendors.helpers import verified_vendor_account


@dataclass
class People:
    clerk: object
    clerk2: object
    approver: object
    approver2: object
    approver3: object
    payer: object
    dots_users: list


@pytest.fixture
def people(dots, db) -> People:
    """Local users in each role, linked by email to the emulator's dashboard users."""
    seeded = dots.seed_approvers()
    by_role: dict[str, list[dict]] = {}
    for user in seeded:
        by_role.setdefault(user["role"], []).append(user)

    def linked(username, role, dots_user):
        user = make_user(username, role=role)
        user.email = dots_user["email"]
        user.save(update_fields=["email"])
        Approver.objects.create(
            dots_user_id=dots_user["id"],
            email=dots_user["email"],
            first_name=dots_user.get("first_name", ""),
            last_name=dots_user.get("last_name", ""),
            dots_role=dots_user["role"],
            user=user,
        )
        return user

    approvers = by_role["ap_approver"]
    return People(
        clerk=linked("clerk", roles.AP_CLERK, by_role["ap_creator"][0]),
        clerk2=make_user("clerk2", role=roles.AP_CLERK),
        approver=linked("approver", roles.APPROVER, approvers[0]),
        approver2=linked("approver2", roles.APPROVER, approvers[1]),
        approver3=linked("approver3", roles.APPROVER, approvers[2]),
        payer=linked("payer", roles.PAYER, by_role["payer"][0]),
        dots_users=seeded,
    )


@pytest.fixture
def vendor_account(people):
    """A vendor and a bank account, both in Dots, the account verified by a second clerk."""
    vendor, account = verified_vendor_account(
        people.clerk,
        people.clerk2,
        name="Acme Supplies",
        contact_email="billing@acme.example",
        account_name="Acme operating",
    )
    assert vendor.dots_id, vendor.last_dots_error
    return vendor, account


@pytest.fixture
def make_payable(people, vendor_account):
    vendor, account = vendor_account
    counter = iter(range(100, 10_000))

    def make(
        *,
        items=((("Widgets", 12_500, 2)),),
        amount_cents=None,
        creator=None,
        bill_number=None,
        funding_source=Payable.FundingSource.DOTS_BALANCE,
        bank_account=None,
        **extra,
    ):
        creator = creator or people.clerk
        payable = Payable.objects.create(
            bill_number=bill_number or f"INV-{next(counter)}",
            vendor=vendor,
            bank_account=bank_account or account,
            amount_cents=amount_cents,
            funding_source=funding_source,
            created_by=creator,
            **extra,
        )
        for name, unit_price, quantity in items if amount_cents is None else ():
            payable.items.create(name=name, unit_price_cents=unit_price, quantity=quantity)
        drafts.payable_record_edit(payable_id=payable.pk, actor=creator, before={}, created=True)
        payable.refresh_from_db()
        return payable

    return make


@pytest.fixture
def approved_payable(people, make_payable):
    """A payable approved in Dots (no policy: one approval by any approver suffices)."""
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    payable.refresh_from_db()
    assert payable.status == Payable.Status.APPROVED
    return payable
