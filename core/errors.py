"""Domain errors shared by every app.

Each has a stable kebab-case `code` and a message that names the object and its
state, so admin actions can report "INV-104: already approved" per row.
"""


class DomainError(Exception):
    code = "domain-error"

    def __init__(self, message: str, *, code: str | None = None):
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


class DotsUnavailable(DomainError):
    code = "dots-unavailable"


class DotsRejected(DomainError):
    code = "dots-rejected"
