"""Who opens which vendor admin pages (merged into tests/core/test_roles.py)."""

from core import roles
from tests.vendors.helpers import local_bank_account, local_vendor

VIEW = {"changelist", "change", "history"}

EXPECTED = {
    "vendors.vendor": {
        roles.AP_CLERK: VIEW | {"add", "delete"},
        roles.APPROVER: VIEW,
        roles.PAYER: VIEW,
        roles.MANAGER: VIEW,
        roles.ADMINISTRATOR: VIEW,
    },
    "vendors.vendorbankaccount": {
        roles.AP_CLERK: VIEW | {"add", "delete"},
        roles.APPROVER: VIEW,
        roles.PAYER: VIEW,
        roles.MANAGER: VIEW,
        roles.ADMINISTRATOR: VIEW,
    },
}

INSTANCE_FACTORIES = {
    "vendors.vendor": lambda: local_vendor(name="Role Matrix Vendor", dots_id="role-matrix-vendor"),
    "vendors.vendorbankaccount": lambda: local_bank_account(
        local_vendor(name="Role Matrix Bank Vendor", external_id="V-RM", dots_id="role-matrix-bank-vendor"),
        dots_id="role-matrix-pm",
    ),
}
