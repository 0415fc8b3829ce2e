"""What each role may do with vendors and their bank accounts (least privilege).

Nobody has "change" on a bank account: Dots has no update for payment methods, so a
wrong account is deleted and added again. Verifying is a permission, but never of
one's own account: the service refuses that for everyone, superusers included.
"""

from core import roles

_VIEW = ("vendors.view_vendor", "vendors.view_vendorbankaccount")

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    roles.AP_CLERK: (
        *_VIEW,
        "vendors.add_vendor",
        "vendors.change_vendor",
        "vendors.delete_vendor",
        "vendors.add_vendorbankaccount",
        "vendors.delete_vendorbankaccount",
        "vendors.verify_vendorbankaccount",
    ),
    roles.APPROVER: (*_VIEW, "vendors.verify_vendorbankaccount"),
    # Payers must see that an account still waits for verification before paying.
    roles.PAYER: _VIEW,
    roles.ADMINISTRATOR: _VIEW,
}
