"""Payables (bills), their line items and approvals, and the approval policies that route them."""

from payables.models.approval import ApprovalPolicy, ApprovalPolicyDotsCopy, ApprovalStep, Approver
from payables.models.payable import LineItem, Payable, PayableApproval

__all__ = [
    "ApprovalPolicy",
    "ApprovalPolicyDotsCopy",
    "ApprovalStep",
    "Approver",
    "LineItem",
    "Payable",
    "PayableApproval",
]
