"""Who may open which admin pages of the payables app (merged by tests/core/test_roles.py)."""

from core import roles
from payables.models import ApprovalPolicy, Approver, Payable
from tests.support import make_user

VIEW = {"changelist", "change", "history"}
ALL = {"changelist", "add", "change", "delete", "history"}
_READERS = {roles.AP_CLERK: VIEW, roles.APPROVER: VIEW, roles.PAYER: VIEW, roles.MANAGER: VIEW}


def _draft_payable():
    """A draft (editable) payable, made without Dots."""
    from vendors.models import Vendor, VendorBankAccount

    vendor = Vendor.objects.create(
        name="Matrix Vendor", address_line_1="1 Road", city="Austin", state="TX", postcode="73301"
    )
    account = VendorBankAccount.objects.create(
        vendor=vendor, name="Main", routing_number="021000021", account_last4="6789", account_type="checking"
    )
    return Payable.objects.create(
        bill_number="MATRIX-1",
        vendor=vendor,
        bank_account=account,
        amount_cents=100,
        created_by=make_user("matrix-clerk"),
    )


EXPECTED = {
    # Clerks enter and edit drafts; nobody deletes a payable (a draft is canceled, with a reason).
    "payables.payable": {**_READERS, roles.AP_CLERK: VIEW | {"add"}, roles.ADMINISTRATOR: VIEW},
    # Policies decide who releases money: only administrators change them.
    "payables.approvalpolicy": {**_READERS, roles.ADMINISTRATOR: ALL},
    # Approvers come from Dots (sync, never added or deleted here); administrators link them to users.
    "payables.approver": {**_READERS, roles.ADMINISTRATOR: VIEW},
}

INSTANCE_FACTORIES = {
    "payables.payable": _draft_payable,
    "payables.approvalpolicy": lambda: ApprovalPolicy.objects.create(
        description="Large bills", priority=1, amount_comparator=">=", amount_cents=100_000
    ),
    "payables.approver": lambda: Approver.objects.create(
        dots_user_id=9001,
        email="approver@example.com",
        first_name="Alex",
        last_name="Approver",
        dots_role="ap_approver",
    ),
}
