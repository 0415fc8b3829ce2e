"""Audit action names of the vendors app (dotted, stable: filters and exports rely on them)."""

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
