"""What each role may do with payables, line items and approval policies (merged by core.roles)."""

from core import roles

_LINE_ITEMS = (
    "payables.view_lineitem",
    "payables.add_lineitem",
    "payables.change_lineitem",
    "payables.delete_lineitem",
)
_READ = (
    "payables.view_payable",
    "payables.view_lineitem",
    "payables.view_payableapproval",
    "payables.view_approvalpolicy",
    "payables.view_approvalstep",
    "payables.view_approver",
)

ROLE_PERMISSIONS = {
    roles.AP_CLERK: (
        *_READ,
        "payables.add_payable",
        "payables.change_payable",
        *_LINE_ITEMS,
        "payables.submit_payable",
    ),
    roles.APPROVER: (*_READ, "payables.approve_payable"),
    roles.PAYER: (*_READ, "payables.pay_payable"),
    # Approval policies decide who may release money: administered, not self-served.
    roles.ADMINISTRATOR: (
        *_READ,
        "payables.add_approvalpolicy",
        "payables.change_approvalpolicy",
        "payables.delete_approvalpolicy",
        "payables.add_approvalstep",
        "payables.change_approvalstep",
        "payables.delete_approvalstep",
        "payables.change_approver",
    ),
}
