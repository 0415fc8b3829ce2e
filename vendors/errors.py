"""Vendor and bank-account refusals: each has a stable code and a message that names the object."""

from core.errors import DomainError, InvalidTransition, PermissionRefused, SegregationOfDutiesViolation

__all__ = [
    "AlreadyInDots",
    "AlreadyVerified",
    "BankAccountRetired",
    "InvalidBankDetails",
    "SegregationOfDutiesViolation",
    "VendorNotEditable",
    "VendorNotInDots",
    "VerificationNoteRequired",
    "VerifyNotAllowed",
]


class InvalidBankDetails(DomainError):
    """What was typed cannot be a US bank account; `errors` maps each form field to its messages."""

    code = "invalid-bank-details"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        text = "; ".join(f"{field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(f"The bank details are not valid ({text}).")


class VendorNotInDots(InvalidTransition):
    code = "vendor-not-in-dots"


class VendorNotEditable(InvalidTransition):
    code = "vendor-not-editable"


class AlreadyInDots(InvalidTransition):
    code = "already-in-dots"


class AlreadyVerified(InvalidTransition):
    code = "already-verified"


class BankAccountRetired(InvalidTransition):
    code = "bank-account-retired"


class VerificationNoteRequired(DomainError):
    code = "verification-note-required"


class VerifyNotAllowed(PermissionRefused):
    code = "verify-not-allowed"
