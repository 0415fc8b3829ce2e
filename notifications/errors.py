from core.errors import DomainError


class AbsenceInvalid(DomainError):
    """An absence that cannot be recorded; `field` names the form field at fault."""

    code = "absence-invalid"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field
