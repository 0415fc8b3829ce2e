"""What the vendors app brings to the shared machinery (core/registry.py): one place to read it all."""

from core import registry, roles
from core.registry import ActionKind, SyncStep

APP = "vendors"
# Queued Dots action kinds (stored on core's QueuedDotsAction.kind).
VENDOR_SEND = "vendor.send_to_dots"

# --- roles: what each role may do with vendors and their bank accounts (least privilege).
#
# Nobody has "change" on a bank account: Dots has no update for payment methods, so a
# wrong account is deleted and added again. Verifying is a permission, but never of
# one's own account: the service refuses that for everyone, superusers included.

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

# --- audit actions (dotted, stable: filters and exports rely on them)

ACTIONS: dict[str, str] = {
    "vendor.created": "Vendor created",
    "vendor.sent_to_dots": "Vendor created in Dots",
    "vendor.dots_failed": "Vendor could not be created in Dots",
    "vendor.updated": "Vendor updated",
    "vendor.deactivated": "Vendor deactivated (payables refer to it)",
    "vendor.deleted": "Vendor deleted",
    "vendor_bank_account.created": "Vendor bank account added",
    "vendor_bank_account.verified": "Vendor bank account verified",
    "vendor_bank_account.retired": "Vendor bank account retired (payables refer to it)",
    "vendor_bank_account.deleted": "Vendor bank account deleted",
    "vendor.adopted_from_dots": "Dots' state adopted for a vendor",
}

registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, ACTIONS)
registry.action_kind(
    APP,
    ActionKind(
        kind=VENDOR_SEND,
        label="Send vendor to Dots",
        service="vendors.services.vendor_send_to_dots",
        target_model="vendors.vendor",
        target_arg="vendor_id",
        noun="sending to Dots",
        permission="vendors.change_vendor",
        doing="send vendors to Dots",
        direct_replaces_waiting=True,
    ),
)
registry.sync_step(APP, SyncStep(name="vendors", run="vendors.sync.vendors_step", order=20))
registry.reconcile_check(APP, "vendor", "vendors.reconcile.VENDOR_CHECK")

# What vendors tell people (notifications.services.notify; wording in vendors/notify.py).
BANK_ACCOUNT_WAITING_FOR_VERIFICATION = "vendor_bank_account.waiting_for_verification"
registry.notification_event(
    APP, BANK_ACCOUNT_WAITING_FOR_VERIFICATION, "A vendor bank account waits for a second person's verification"
)
registry.inbox_source(
    APP,
    registry.InboxSource(
        name="bank_accounts_to_verify",
        title="Bank accounts waiting for your verification",
        build="vendors.notify.waiting_for_my_verification",
        order=30,
    ),
)
