"""Domain errors shared by every app.

Each has a stable kebab-case `code` and a message that names the object and its
state, so admin actions can report "INV-104: already approved" per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.models import QueuedDotsAction
    from dots.errors import DotsError


class DomainError(Exception):
    code = "domain-error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message


class AuditLogIsAppendOnly(DomainError):
    code = "audit-log-append-only"


class InvalidTransition(DomainError):
    code = "invalid-transition"


class PermissionRefused(DomainError):
    code = "permission-refused"


class SegregationOfDutiesViolation(PermissionRefused):
    code = "segregation-of-duties"


class DotsCallError(DomainError):
    """A Dots call failed; `dots_error` keeps the client's typed error (status, error_code, request id)."""

    code = "dots-error"

    def __init__(self, message: str, *, dots_error: DotsError | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.dots_error = dots_error

    @property
    def dots_error_code(self) -> str | None:
        return getattr(self.dots_error, "error_code", None)


class DotsUnavailable(DotsCallError):
    """Dots could not be reached or failed on its side: nothing changed there, try again."""

    code = "dots-unavailable"


class DotsRejected(DotsCallError):
    """Dots answered and refused (invalid input, a state it does not allow, insufficient funds...)."""

    code = "dots-rejected"


class DotsOutcomeUnknownError(DotsCallError):
    """The call may or may not have happened in Dots: reconcile before trying again."""

    code = "dots-outcome-unknown"


class ActionQueued(DomainError):
    """Not a failure: Dots is unreachable, so the action was queued and will be sent when Dots answers.

    Admin views show it as good news ("... is queued and will be sent when Dots answers"),
    not as an error; `action` is the `core.models.QueuedDotsAction` row.
    """

    code = "dots-action-queued"

    def __init__(self, message: str, *, action: QueuedDotsAction | None = None) -> None:
        super().__init__(message)
        self.action = action


class AlreadyQueued(DomainError):
    """The same action for the same record is already waiting to be sent to Dots."""

    code = "dots-action-already-queued"
