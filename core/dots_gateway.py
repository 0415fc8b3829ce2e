"""The one place the app builds Dots clients and turns Dots' errors into domain errors.

Services call Dots through `client()` and wrap each call in `dots_call(...)`, so a
refusal reaches the user as "Dots refused to create the vendor: routing number is
invalid" and an outage as "Dots could not be reached", never as a stack trace.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests
from django.conf import settings

from core import dots_health, metrics
from core.errors import DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from dots.client import DotsClient
from dots.errors import (
    DotsAuthError,
    DotsConnectionError,
    DotsError,
    DotsOutcomeUnknown,
    DotsRateLimited,
    DotsServerError,
)
from dots.retry import RetryPolicy

_local = threading.local()
# Tests install a factory for schema-validating sessions (tests/fixtures_app.py).
_session_factory: Callable[[], requests.Session] | None = None


def set_session_factory(factory: Callable[[], requests.Session] | None) -> None:
    global _session_factory
    _session_factory = factory
    _local.__dict__.clear()


def _config_key() -> tuple[object, ...]:
    return (
        settings.DOTS_API_URL,
        settings.DOTS_CLIENT_ID,
        settings.DOTS_API_KEY,
        settings.DOTS_APP_ID,
        settings.DOTS_TIMEOUT_SECONDS,
        _session_factory,
        getattr(_local, "retry_sleep", None),
    )


def set_thread_retry_sleep(sleep: Callable[[float], None] | None) -> None:
    """This thread's clients wait between retries with `sleep` (the read pool's shared pause,
    core.sync_runner), so one 429 holds back every thread of the pool, not only the one that got it."""
    _local.retry_sleep = sleep


def client() -> DotsClient:
    """This thread's client for the configured Dots (a requests.Session is not shared across threads)."""
    key = _config_key()
    cached = getattr(_local, "client", None)
    if cached is None or getattr(_local, "key", None) != key:
        session = _session_factory() if _session_factory else None
        cached = DotsClient(
            settings.DOTS_API_URL,
            settings.DOTS_CLIENT_ID,
            settings.DOTS_API_KEY,
            app_id=settings.DOTS_APP_ID,
            timeout=settings.DOTS_TIMEOUT_SECONDS,
            retry=RetryPolicy(sleep=sleep) if (sleep := getattr(_local, "retry_sleep", None)) else None,
            session=session,
            observer=metrics.observe_dots_call,
        )
        _local.client, _local.key = cached, key
    return cached


def describe(exc: DotsError) -> str:
    """A short, user-facing summary of a Dots error, for messages and `last_dots_error` fields."""
    text = exc.message or exc.__class__.__name__
    if exc.error_code:
        text = f"{text} ({exc.error_code})"
    return text


def is_not_found(exc: DotsRejected) -> bool:
    """Dots answered 404: the object does not exist there (as opposed to any other refusal)."""
    return getattr(exc.dots_error, "status", None) == 404


@contextmanager
def dots_call(action: str, *, record_health: bool = True) -> Iterator[None]:
    """Run a Dots call, translating its errors. `action` reads after "to": "create the vendor".

    Also tells core.dots_health whether Dots answered: any answer (refusals included)
    is a success, no answer a failure; that is what the outage banner and the action
    queue go by. `record_health=False` for calls made in threads that must not touch the
    database (the payee import's worker pool).
    """
    try:
        yield
    except DotsOutcomeUnknown as exc:
        if record_health:
            dots_health.record_failure(describe(exc))
        raise DotsOutcomeUnknownError(
            f"Dots did not answer whether it managed to {action}; the outcome is being checked.",
            dots_error=exc,
        ) from exc
    except (DotsConnectionError, DotsServerError, DotsRateLimited) as exc:
        if record_health:
            dots_health.record_failure(describe(exc))
        raise DotsUnavailable(
            f"Dots could not be reached to {action}: {describe(exc)}. Try again.", dots_error=exc
        ) from exc
    except DotsAuthError as exc:
        if record_health:
            dots_health.record_failure(describe(exc))
        raise DotsUnavailable(
            f"Dots refused our credentials when trying to {action}: check DOTS_CLIENT_ID and DOTS_API_KEY.",
            dots_error=exc,
        ) from exc
    except DotsError as exc:
        if record_health:
            dots_health.record_success()
        raise DotsRejected(f"Dots refused to {action}: {describe(exc)}.", dots_error=exc) from exc
    if record_health:
        dots_health.record_success()
