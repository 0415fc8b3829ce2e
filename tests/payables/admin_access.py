"""Who may open which admin pages of the payables app (merged by tests/core/test_roles.py)."""

from core import roles
from payables.models import ApprovalPolicy, Approver

VIEW = {"changelist", "change", "history"}
ALL = {"changelist", "add", "change", "delete", "history"}
_READERS = {roles.AP_CLERK: VIEW, roles.APPROVER: VIEW, roles.PAYER: VIEW, roles.MANAGER: VIEW}

EXPECTED = {
    # Policies decide who releases money: only administrators change them.
    "payables.approvalpolicy": {**_READERS, roles.ADMINISTRATOR: ALL},
    # Approvers come from Dots (sync, never added or deleted here); administrators link them to users.
    "payables.approver": {**_READERS, roles.ADMINISTRATOR: VIEW},
}

INSTANCE_FACTORIES = {
    "payables.approvalpolicy": lambda: ApprovalPolicy.objects.create(description="Large bills", priority=1,
                                                                      amount_comparator=">=", amount_cents=100_000),
    "payables.approver": lambda: Approver.objects.create(dots_user_id=9001, email="approver@example.com",
                                                         first_name="Alex", last_name="Approver",
                                                         dots_role="ap_approver"),
}
