"""Send once, find it after a lost answer: creates Dots takes no idempotency key for.

Vendors, payables, approval policies and payout requests are created in Dots without an
idempotency key, so a create whose answer was lost (a timeout, a dropped connection, a
worker killed mid-call) may or may not have made the object. Sending again blindly could
make two. Every such create goes through `create_once`: when an earlier attempt's answer
was lost it first looks in Dots for what that attempt may have made (`find_in_dots`), and
only creates when Dots has nothing of ours.

Payout links carry a stored idempotency key instead (Dots answers a repeated key with the
first link), so they are simply sent again with the same key and body.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from typing import Any, TypeVar

from core.dots_gateway import dots_call
from core.errors import DotsOutcomeUnknownError

T = TypeVar("T")


def find_in_dots(
    listing: Callable[[], Iterable[T]],
    *,
    matches: Callable[[T], bool],
    what: str,
    taken: Container[Any] = frozenset(),
) -> T | None:
    """The newest object in Dots' listing that `matches` and no local record owns yet, or None.

    `what` reads after "look for": "the vendor". `taken` holds the Dots ids local records
    already own, so a look-up never adopts another record's object. Dots lists newest first,
    so a recent create is found on the first page.
    """
    with dots_call(f"look for {what} in Dots"):
        for candidate in listing():
            if getattr(candidate, "id", None) in taken:
                continue
            if matches(candidate):
                return candidate
    return None


def create_once(
    *,
    create: Callable[[], T],
    find: Callable[[], T | None],
    what: str,
    look_first: bool,
    look_after_lost_answer: bool = False,
) -> tuple[T, bool]:
    """Create an object in Dots at most once. Answers (the object, whether it was found, not created).

    - `look_first`: an earlier attempt's answer was lost, so look before creating.
    - `look_after_lost_answer`: when this attempt's answer is lost, look at once; if Dots
      does not show it (yet), the outcome-unknown error is raised as it came.
    `what` reads after "to": "create the vendor". Dots errors arrive as core.errors types.
    """
    if look_first:
        found = find()
        if found is not None:
            return found, True
    try:
        with dots_call(what):
            return create(), False
    except DotsOutcomeUnknownError:
        if not look_after_lost_answer:
            raise
        found = find()
        if found is None:
            raise
        return found, True
