"""What the vendors app brings to the shared machinery (core/registry.py): one place to read it all."""

from core import registry
from core.registry import ActionKind, SyncStep
from vendors.audit_actions import ACTIONS
from vendors.roles import ROLE_PERMISSIONS

APP = "vendors"
# Queued Dots action kinds (stored on core's QueuedDotsAction.kind).
VENDOR_SEND = "vendor.send_to_dots"

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
