"""Payables (bills), their line items and approvals, and the approval policies that route them."""

from payables.models.approval import ApprovalPolicy, ApprovalPolicyDotsCopy, ApprovalStep, Approver
from payables.models.payable import (
    ControlOverride,
    LineItem,
    Payable,
    PayableApproval,
    PayableHold,
    PayableReapproval,
)

__all__ = [
    "ApprovalPolicy",
    "ApprovalPolicyDotsCopy",
    "ApprovalStep",
    "Approver",
    "ControlOverride",
    "LineItem",
    "Payable",
    "PayableApproval",
    "PayableHold",
    "PayableReapproval",
]
