from core.errors import DomainError, InvalidTransition, PermissionRefused, SegregationOfDutiesViolation

__all__ = [
    "BankAccountNotVerified",
    "InsufficientFunds",
    "InvalidTransition",
    "NotReadyForDots",
    "PermissionRefused",
    "PossibleDuplicate",
    "ReasonRequired",
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
