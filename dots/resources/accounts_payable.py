"""Accounts payable: vendors, their payment methods, payables, approval policies, approvers.

Dots sends no webhooks for accounts payable, so the app learns a payment's
outcome only by reading payables back (PITFALLS.md).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from dots._http import clean, query, seg
from dots.resources._base import ResourceBase
from dots.types import (
    ApprovalPolicy,
    Approver,
    Deleted,
    DotsObject,
    Page,
    Payable,
    Vendor,
    VendorPaymentMethod,
)

_VENDORS = "/v2/accounts-payable/vendors"
_PAYABLES = "/v2/accounts-payable/payables"
_POLICIES = "/v2/accounts-payable/approval-policies"


def _base64(file: bytes | str) -> str:
    """Dots takes attached PDFs as base64 text; accept raw bytes or text already encoded."""
    if isinstance(file, (bytes, bytearray)):
        return base64.b64encode(bytes(file)).decode("ascii")
    return file


class AccountsPayableMixin(ResourceBase):
    # --- vendors ------------------------------------------------------------------------------

    def list_vendors(
        self, *, limit: int | None = 100, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[Vendor]:
        return self._page(
            _VENDORS, Vendor.from_dict, query(limit=limit, starting_after=starting_after, ending_before=ending_before)
        )

    def iter_vendors(self) -> Iterator[Vendor]:
        return self._iterate(_VENDORS, Vendor.from_dict, {})

    def create_vendor(
        self,
        *,
        name: str,
        address: dict[str, Any],
        contact_email: str | None = None,
        external_id: str | None = None,
    ) -> Vendor:
        body = clean(name=name, address=address, contact_email=contact_email, external_id=external_id)
        return Vendor.from_dict(self._call("POST", _VENDORS, body=body))

    def retrieve_vendor(self, *, vendor_id: str) -> Vendor:
        return Vendor.from_dict(self._call("GET", f"{_VENDORS}/{seg(vendor_id)}"))

    def delete_vendor(self, *, vendor_id: str) -> Deleted:
        return Deleted.from_dict(self._call("DELETE", f"{_VENDORS}/{seg(vendor_id)}"))

    # --- vendor payment methods (no update endpoint in Dots) -----------------------------------

    def list_vendor_payment_methods(self, *, vendor_id: str) -> list[VendorPaymentMethod]:
        return self._list(f"{_VENDORS}/{seg(vendor_id)}/payment-methods", VendorPaymentMethod.from_dict)

    def create_vendor_payment_method(
        self,
        *,
        vendor_id: str,
        name: str,
        ach_account_number: str,
        ach_routing_number: str,
        ach_account_type: str,
    ) -> VendorPaymentMethod:
        body = clean(
            name=name,
            ach_account_number=ach_account_number,
            ach_routing_number=ach_routing_number,
            ach_account_type=ach_account_type,
        )
        data = self._call("POST", f"{_VENDORS}/{seg(vendor_id)}/payment-methods", body=body)
        return VendorPaymentMethod.from_dict(data)

    def retrieve_vendor_payment_method(self, *, vendor_id: str, payment_method_id: str) -> VendorPaymentMethod:
        path = f"{_VENDORS}/{seg(vendor_id)}/payment-methods/{seg(payment_method_id)}"
        return VendorPaymentMethod.from_dict(self._call("GET", path))

    def delete_vendor_payment_method(self, *, vendor_id: str, payment_method_id: str) -> Deleted:
        path = f"{_VENDORS}/{seg(vendor_id)}/payment-methods/{seg(payment_method_id)}"
        return Deleted.from_dict(self._call("DELETE", path))

    # --- payables -----------------------------------------------------------------------------

    def list_payables(
        self, *, limit: int | None = 100, starting_after: str | None = None, ending_before: str | None = None
    ) -> Page[Payable]:
        return self._page(
            _PAYABLES, Payable.from_dict, query(limit=limit, starting_after=starting_after, ending_before=ending_before)
        )

    def iter_payables(self) -> Iterator[Payable]:
        return self._iterate(_PAYABLES, Payable.from_dict, {})

    def create_payable(
        self,
        *,
        acting_user_id: int,
        number: str,
        amount: int | None = None,
        description: str | None = None,
        external_id: str | None = None,
        ap_vendor_id: str | None = None,
        ap_payment_method_id: str | None = None,
        funding_source: str | None = None,
        items: list[dict[str, Any]] | None = None,
        file: bytes | str | None = None,
    ) -> Payable:
        """Create a payable (amounts in cents). ``file`` is a PDF, as bytes or base64 text."""
        body = clean(
            acting_user_id=acting_user_id,
            number=number,
            amount=amount,
            description=description,
            external_id=external_id,
            ap_vendor_id=ap_vendor_id,
            ap_payment_method_id=ap_payment_method_id,
            funding_source=funding_source,
            items=items,
            file=_base64(file) if file is not None else None,
        )
        return Payable.from_dict(self._call("POST", _PAYABLES, body=body))

    def create_payable_from_file(
        self,
        *,
        acting_user_id: int,
        file: bytes,
        filename: str = "payable.pdf",
        content_type: str = "application/pdf",
    ) -> Payable:
        """Upload a PDF as multipart/form-data; Dots reads the payable out of it."""
        # bytes, not a file object: a retry after a failed connect must be able to resend it.
        files = {"file": (filename, bytes(file), content_type)}
        form = {"acting_user_id": str(acting_user_id)}
        return Payable.from_dict(self._call("POST", f"{_PAYABLES}/upload-from-file", files=files, form=form))

    def retrieve_payable(self, *, payable_id: str) -> Payable:
        return Payable.from_dict(self._call("GET", f"{_PAYABLES}/{seg(payable_id)}"))

    def update_payable(
        self,
        *,
        payable_id: str,
        number: str | None = None,
        amount: int | None = None,
        description: str | None = None,
        ap_vendor_id: str | None = None,
        ap_payment_method_id: str | None = None,
        items: list[dict[str, Any]] | None = None,
    ) -> Payable:
        """Change a payable before it is submitted; omitted fields are left as they are."""
        body = clean(
            number=number,
            amount=amount,
            description=description,
            ap_vendor_id=ap_vendor_id,
            ap_payment_method_id=ap_payment_method_id,
            items=items,
        )
        return Payable.from_dict(self._call("PATCH", f"{_PAYABLES}/{seg(payable_id)}", body=body))

    def upload_payable_file(self, *, payable_id: str, file: bytes | str) -> DotsObject:
        """Attach a PDF (bytes or base64 text); Dots answers ``{"id", "updated", "object"}``."""
        data = self._call("POST", f"{_PAYABLES}/{seg(payable_id)}/file", body={"file": _base64(file)})
        return DotsObject(data)

    def delete_payable_file(self, *, payable_id: str) -> Deleted:
        return Deleted.from_dict(self._call("DELETE", f"{_PAYABLES}/{seg(payable_id)}/file"))

    def _payable_action(self, payable_id: str, action: str, acting_user_id: int, comment: str | None) -> Payable:
        body = clean(acting_user_id=acting_user_id, comment=comment)
        return Payable.from_dict(self._call("POST", f"{_PAYABLES}/{seg(payable_id)}/{action}", body=body))

    def cancel_payable(self, *, payable_id: str, acting_user_id: int, comment: str | None = None) -> Payable:
        return self._payable_action(payable_id, "cancel", acting_user_id, comment)

    def submit_payable_for_approval(
        self, *, payable_id: str, acting_user_id: int, comment: str | None = None
    ) -> Payable:
        return self._payable_action(payable_id, "submit-for-approval", acting_user_id, comment)

    def approve_payable(self, *, payable_id: str, acting_user_id: int, comment: str | None = None) -> Payable:
        return self._payable_action(payable_id, "approve", acting_user_id, comment)

    def reject_payable(self, *, payable_id: str, acting_user_id: int, comment: str | None = None) -> Payable:
        return self._payable_action(payable_id, "reject", acting_user_id, comment)

    def pay_payable(self, *, payable_id: str, acting_user_id: int) -> Payable:
        """Pay an approved payable. Sent exactly once: Dots takes no idempotency key here.

        After DotsOutcomeUnknown or DotsServerError, read the payable back: if it has
        left ``approved`` the payment was accepted (NOTES.md decision 5).
        """
        body = {"acting_user_id": acting_user_id}
        return Payable.from_dict(self._call("POST", f"{_PAYABLES}/{seg(payable_id)}/pay", body=body))

    # --- approval policies and approvers (bare arrays) ---------------------------------------

    def list_approval_policies(self) -> list[ApprovalPolicy]:
        return self._list(_POLICIES, ApprovalPolicy.from_dict)

    def create_approval_policy(
        self,
        *,
        payable_conditions: list[dict[str, Any]],
        approval_conditions: list[dict[str, Any]],
        description: str | None = None,
    ) -> ApprovalPolicy:
        body = clean(
            description=description,
            payable_conditions=payable_conditions,
            approval_conditions=approval_conditions,
        )
        return ApprovalPolicy.from_dict(self._call("POST", _POLICIES, body=body))

    def update_approval_policy_priority(self, *, approval_policy_id: str, priority: int) -> ApprovalPolicy:
        """Only ``priority`` can change on an existing policy (NOTES.md decision 7)."""
        data = self._call("PATCH", f"{_POLICIES}/{seg(approval_policy_id)}", body={"priority": priority})
        return ApprovalPolicy.from_dict(data)

    def delete_approval_policy(self, *, approval_policy_id: str) -> Deleted:
        return Deleted.from_dict(self._call("DELETE", f"{_POLICIES}/{seg(approval_policy_id)}"))

    def list_approvers(self) -> list[Approver]:
        return self._list("/v2/accounts-payable/approvers", Approver.from_dict)
