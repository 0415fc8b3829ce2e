"""Refusals of the wallet app: each with a stable code and a message that names the record."""

from core.errors import DomainError, InvalidTransition, PermissionRefused


class InvalidAchDetails(DomainError):
    """What was typed cannot be the app's bank account; `errors` maps each form field to its messages."""

    code = "invalid-ach-details"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        text = "; ".join(f"{field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(f"The bank details are not valid ({text}).")


class HolderDoesNotMatchKyb(DomainError):
    code = "ach-holder-not-kyb-name"


class NoVerifiedAccount(InvalidTransition):
    code = "no-verified-ach-account"


class AlreadyVerified(InvalidTransition):
    code = "already-verified"


class VerificationNoteRequired(DomainError):
    code = "verification-note-required"


class VerifyNotAllowed(PermissionRefused):
    code = "verify-not-allowed"


class InvalidAmount(DomainError):
    code = "invalid-amount"


class InvalidCompliance(DomainError):
    """KYB information Dots would refuse; `errors` maps each field to its messages."""

    code = "invalid-compliance"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        text = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(f"The KYB information is not complete ({text}).")


class InvalidSettings(DomainError):
    code = "invalid-settings"
