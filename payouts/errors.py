"""Domain errors of the payouts app."""

from core.errors import DomainError, InvalidTransition, SegregationOfDutiesViolation  # noqa: F401


class FileRefused(DomainError):
    """The whole CSV file is refused (too big, unreadable encoding, missing columns)."""

    code = "csv-refused"


class ImportNotConfirmable(InvalidTransition):
    code = "import-not-confirmable"


class PayeeNotInDots(DomainError):
    code = "payee-not-in-dots"


class RunNotReady(DomainError):
    code = "payout-run-not-ready"


class PayeeCreateFailed(DomainError):
    code = "payee-create-failed"


class InvalidPayee(DomainError):
    """A payee's name, email or phone is not acceptable (the message names the field)."""

    code = "invalid-payee"


class PayeeInUse(DomainError):
    """A payee whose payout links or requests are kept here for the record cannot be deleted."""

    code = "payee-in-use"
