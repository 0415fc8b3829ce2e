"""Typed errors raised by the Dots client and the webhook verifier.

Classes are named for what the caller should do, not for the status code:
``DotsConnectionError`` is safe to retry (nothing reached Dots), while
``DotsOutcomeUnknown`` means a state-changing request may or may not have been
applied and must be reconciled by reading the object back.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DotsAuthError",
    "DotsConflict",
    "DotsConnectionError",
    "DotsError",
    "DotsInsufficientFunds",
    "DotsInvalidRequest",
    "DotsNotFound",
    "DotsOutcomeUnknown",
    "DotsRateLimited",
    "DotsServerError",
    "WebhookVerificationError",
    "error_for_status",
]


class DotsError(Exception):
    """Base class for every error talking to Dots.

    ``may_have_reached_dots`` is False only when we know the request never left
    (connection refused, DNS failure): then a retry cannot duplicate anything.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        body: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        may_have_reached_dots: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.body = body
        self.request_id = request_id
        self.method = method
        self.path = path
        self.may_have_reached_dots = may_have_reached_dots

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.error_code:
            parts.append(f"error_code={self.error_code}")
        if self.method and self.path:
            parts.append(f"{self.method} {self.path}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class DotsAuthError(DotsError):
    """401/403: bad credentials or an app the key may not use."""


class DotsNotFound(DotsError):
    """404: unknown id (or unknown route)."""


class DotsInvalidRequest(DotsError):
    """400/422: Dots refused the input or the state transition; see ``error_code``."""


class DotsInsufficientFunds(DotsInvalidRequest):
    """400 ``transaction-insufficient-funds``: the wallet cannot cover the amount."""


class DotsConflict(DotsError):
    """409: the object is busy or in a conflicting state."""


class DotsRateLimited(DotsError):
    """429: slow down; ``retry_after`` is seconds from the Retry-After header, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class DotsServerError(DotsError):
    """5xx (or any status we do not otherwise recognise)."""


class DotsConnectionError(DotsError):
    """The connection was never established: nothing reached Dots, safe to retry."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("may_have_reached_dots", False)
        super().__init__(message, **kwargs)


class DotsOutcomeUnknown(DotsError):
    """A state-changing request timed out or lost its response after it was sent.

    Dots may have applied it. Do not resend blindly: read the object back.
    """


class WebhookVerificationError(Exception):
    """A webhook delivery failed verification (headers, signature, age or body)."""


INSUFFICIENT_FUNDS_CODE = "transaction-insufficient-funds"


def error_for_status(status: int, error_code: str | None = None) -> type[DotsError]:
    """The one place that maps an HTTP status (and Dots error code) to an error class."""
    if status in (401, 403):
        return DotsAuthError
    if status == 404:
        return DotsNotFound
    if status == 409:
        return DotsConflict
    if status == 429:
        return DotsRateLimited
    if 400 <= status < 500:
        # 400/422 are Dots' documented refusals; 405, 413, ... also mean the request is wrong.
        if error_code == INSUFFICIENT_FUNDS_CODE:
            return DotsInsufficientFunds
        return DotsInvalidRequest
    return DotsServerError
