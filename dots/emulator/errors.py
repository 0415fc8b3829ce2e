"""The one error type handlers raise; app.py turns it into Dots' error envelope."""


class ApiError(Exception):
    """An error answer: `{"error": message, "error_code": error_code}` with `status`.

    Raising it inside a handler rolls the handler's transaction back, so nothing
    a refused request half-did is kept.
    """

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.message, "error_code": self.error_code}
