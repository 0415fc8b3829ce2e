from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import (
    DomainError,
    DotsCallError,
    InvalidTransition,
    PermissionRefused,
    SegregationOfDutiesViolation,
)

__all__ = [
    "ApprovalOutdated",
    "ApprovalPolicyInvalid",
    "ApprovalPolicyRetired",
    "ApproverLinkRefused",
    "ApproverMayNotPay",
    "BankAccountNotVerified",
    "InsufficientFunds",
    "InvalidMove",
    "InvalidTransition",
    "NotReadyForDots",
    "OverrideRefused",
    "PayableOnHold",
    "PermissionRefused",
    "PolicyBeingSent",
    "PolicyNotInDots",
    "PossibleDuplicate",
    "Problem",
    "ReasonRequired",
    "ScheduleRefused",
    "SegregationOfDutiesViolation",
]


class PossibleDuplicate(DomainError):
    """Submitting needs a reason because the payable looks like one we already have."""

    code = "possible-duplicate"

    def __init__(self, message: str, *, matches):
        super().__init__(message)
        self.matches = matches


class ReasonRequired(DomainError):
    code = "reason-required"


class BankAccountNotVerified(DomainError):
    code = "bank-account-not-verified"


class InsufficientFunds(DomainError):
    code = "insufficient-funds"


class NotReadyForDots(DomainError):
    """Something the payable needs in Dots (its vendor, its bank account, an approver link) is missing."""

    code = "not-ready-for-dots"


# --- controls (payables.controls, holds, send_back, overrides) ------------------------------------------------


class ApproverMayNotPay(SegregationOfDutiesViolation):
    """Whoever approved a step of a payable does not pay it (superusers included)."""

    code = "approver-may-not-pay"


class ApprovalOutdated(DomainError):
    """The payable changed since it was approved: approvers must approve it again before it is paid."""

    code = "approval-outdated"


class PayableOnHold(DomainError):
    code = "payable-on-hold"


class OverrideRefused(DomainError):
    code = "override-refused"


# --- approval policies and approvers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy as entered (payables.policies checks them)."""

    field: str  # a form field name: description, amount_comparator, amount_cents, vendors, steps
    message: str
    step: int | None = None  # 1-based step number for step problems, None for the whole list


class ApprovalPolicyInvalid(DomainError):
    """The policy as entered could not be used; `problems` name each field (and step)."""

    code = "approval-policy-invalid"

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__(" ".join(p.message for p in self.problems))


class ApprovalPolicyRetired(DomainError):
    code = "approval-policy-retired"


class InvalidMove(DomainError):
    code = "approval-policy-cannot-move"


class PolicyBeingSent(DomainError):
    code = "approval-policy-being-sent"


class ApproverLinkRefused(DomainError):
    code = "approver-link-refused"


class PolicyNotInDots(DomainError):
    """The local change is saved, but Dots does not reflect it yet; `policy_push` retries.

    `policy` is the version concerned, `dots_error` the gateway's error (its `code` tells
    an outage from a refusal or an unknown outcome).
    """

    code = "approval-policy-not-in-dots"

    def __init__(self, message: str, *, policy, dots_error: DotsCallError):
        super().__init__(message)
        self.policy = policy
        self.dots_error = dots_error


class ScheduleRefused(DomainError):
    """A scheduled payment cannot be made or changed: a date in the past, no due date, a run under way."""

    code = "schedule-refused"
