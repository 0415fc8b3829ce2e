"""Compare Dots' listing of one record type with the local rows, a page at a time.

Every record type is compared the same way: walk Dots' listing (newest first) a page at
a time, look the page's ids up here in one query, report what Dots has and we lack, and
compare the pairs found on both sides; then report local rows that carry a Dots id Dots
never listed. Each app's `reconcile.py` says only what a row is and what each case means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from core.dots_gateway import dots_call
from core.findings import Finding, in_pages

# A local row: a tuple whose first two values are the primary key and the Dots id.
Row = Sequence[Any]


def compare_listing(
    *,
    what: str,
    listing: Callable[[], Iterable[Any]],
    local_rows: Callable[[list[str]], Iterable[Row]],
    linked_rows: Callable[[], Iterable[Row]],
    only_in_dots: Callable[[Any], Finding | None],
    only_here: Callable[[Row], Finding],
    on_both: Callable[[Row, Any], Iterable[Finding]] | None = None,
) -> Iterator[Finding]:
    """Yield every disagreement between Dots' listing and the local rows.

    - `what` reads after "list": "the vendors".
    - `listing()`: Dots' objects (each with `.id`), newest first.
    - `local_rows(ids)`: the local rows carrying those Dots ids (one query per page).
    - `linked_rows()`: every local row that carries a Dots id (iterated in chunks).
    - `only_in_dots(obj)`: the finding for an object Dots has and we lack (None: not one).
    - `only_here(row)`: the finding for a local row whose Dots id Dots did not list.
    - `on_both(row, obj)`: the findings for a pair (status, amount ...); none if omitted.
    """
    seen: set[str] = set()
    with dots_call(f"list {what}"):
        for page in in_pages(listing()):
            ids = [obj.id for obj in page if obj.id]
            seen.update(ids)
            local = {row[1]: row for row in local_rows(ids)}
            for obj in page:
                if not obj.id:
                    continue
                row = local.get(obj.id)
                if row is None:
                    finding = only_in_dots(obj)
                    if finding is not None:
                        yield finding
                elif on_both is not None:
                    yield from on_both(row, obj)
    for row in linked_rows():
        if row[1] not in seen:
            yield only_here(row)
