"""When the Dots client may repeat a request, and how long it waits first.

Repeating is safe only when it cannot move money twice:
- a GET (reads change nothing);
- a request that never connected (nothing reached Dots);
- a POST/PUT/PATCH carrying an ``idempotency_key``: Dots replays the first answer
  for the same key, provided we resend the identical body (the client does).

Everything else (``pay``, vendor creation, deletes...) is sent once. If its
answer is lost we raise ``DotsOutcomeUnknown`` and the caller reconciles by
reading the object back (NOTES.md decision 5).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "CONNECT",
    "DROPPED",
    "RETRYABLE_STATUSES",
    "STATUS",
    "TIMEOUT",
    "RetryPolicy",
    "backoff_delay",
    "should_retry",
]

# What went wrong with one attempt.
CONNECT = "connect"  # never connected (refused, DNS, connect timeout): nothing was sent
TIMEOUT = "timeout"  # sent, no answer in time: Dots may be doing the work
DROPPED = "dropped"  # sent, connection closed without an answer: same uncertainty
STATUS = "status"  # Dots answered with an error status

# Statuses worth another try when repeating is safe: busy, rate limited, or a
# server/gateway failure. 4xx refusals are answers, not accidents.
RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# A Retry-After longer than this is not waited for: the caller gets DotsRateLimited.
MAX_RETRY_AFTER = 30.0


def should_retry(*, method: str, has_idempotency_key: bool, kind: str, status: int | None = None) -> bool:
    """The retry decision for one failed attempt (the attempt budget is checked separately)."""
    if kind == CONNECT:
        return True
    repeatable = method.upper() in _SAFE_METHODS or has_idempotency_key
    if not repeatable:
        return False
    if kind in (TIMEOUT, DROPPED):
        return True
    if kind == STATUS:
        return status in RETRYABLE_STATUSES
    return False


def backoff_delay(
    attempt: int,
    *,
    base_delay: float,
    max_delay: float,
    jitter: float,
    rand: float,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    Capped exponential growth, then up to ``jitter`` (a fraction, 0..1) of it taken
    off at random so many clients do not retry in step. ``rand`` is a number in
    [0, 1), passed in so tests can pin it.
    """
    growth: int = 2**attempt  # int ** int is typed Any (a negative exponent gives a float)
    capped = min(max_delay, base_delay * growth)
    jitter = min(max(jitter, 0.0), 1.0)
    return capped * (1.0 - jitter * rand)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay: float = 0.25
    max_delay: float = 4.0
    jitter: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """The wait before retry ``attempt``; a server's Retry-After wins when it is longer."""
        computed = backoff_delay(
            attempt,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            jitter=self.jitter,
            rand=self.rand(),
        )
        if retry_after is not None and retry_after > computed:
            return retry_after
        return computed


NO_RETRY = RetryPolicy(max_retries=0)
