"""Who is asking, from where: the request's IP and id, for the audit trail.

Services take the acting user explicitly; the IP address and request id come from
here so that every service does not need the request passed down to it. Tasks and
commands bind their own request id (for example the django-q2 task id).
"""

import contextvars
import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None
    user_id: int | None = None  # the signed-in user, once authentication has run (for log lines)


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "ledgerline_request_context",
    default=RequestContext(),  # noqa: B039 (frozen: never changed in place)
)


def current() -> RequestContext:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bound(*, request_id: str = "", ip_address: str | None = None) -> Iterator[RequestContext]:
    token = _current.set(RequestContext(request_id=request_id or new_request_id(), ip_address=ip_address))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


@contextmanager
def bound_user(user_id: int | None) -> Iterator[RequestContext]:
    """The current context with the signed-in user's id added (log lines name who asked)."""
    token = _current.set(dataclasses.replace(_current.get(), user_id=user_id))
    try:
        yield _current.get()
    finally:
        _current.reset(token)
