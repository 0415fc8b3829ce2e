"""The shape of a disagreement with Dots, shared by every app's checks (`<app>/reconcile.py`).

Each app registers its record types through its seam (`core.registry.reconcile_check`):
a `RecordCheck` says how to find its disagreements with Dots and how to adopt Dots' state
for one of them. The reconciler runs them all and keeps the report. No Django here.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    record_type: str  # the record type a check is registered under
    kind: str  # "status", "amount", "missing_locally", "missing_in_dots"
    label: str
    local_id: int | None
    dots_id: str
    local_value: str = ""
    dots_value: str = ""
    detail: str = ""  # what adopting Dots' state would do, in words

    @property
    def key(self) -> tuple:
        return (self.record_type, self.local_id, self.dots_id, self.kind)


@dataclass
class Settling:
    """What settling records in doubt did: one line per record settled, and per record Dots could not answer for."""

    settled: list[str] = field(default_factory=list)
    still_in_doubt: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordCheck:
    label: str  # "payables"
    model: str  # "payables.payable": where the report links a local record to
    # Reads every record of this type in Dots and here; yields each disagreement.
    find: Callable[[], Iterable[Finding]]
    # Makes the local record say what Dots says (or creates it); answers what it did.
    # Raises core.errors.DomainError with a clear message when that cannot be done.
    adopt: Callable[..., str]
    # Settles records whose last call to Dots ended without a clear answer ("outcome unknown")
    # once Dots' answer is clear.
    resolve_in_doubt: Callable[..., Settling] | None = None


def in_pages(items: Iterable, size: int = 100) -> Iterator[list]:
    """Dots' listings, a page at a time, so each page is compared with one local query."""
    page: list = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def status_and_amount_findings(
    *,
    record_type: str,
    label: str,
    local_id: int,
    dots_id: str,
    local_status: str,
    local_amount: int | None,
    dots_obj,
    compare_status: bool = True,
) -> Iterator[Finding]:
    """The two disagreements every money record can have: its status and its amount (cents)."""
    if compare_status and dots_obj.status and local_status != dots_obj.status:
        yield Finding(
            record_type=record_type,
            kind="status",
            label=label,
            local_id=local_id,
            dots_id=dots_id,
            local_value=local_status,
            dots_value=dots_obj.status,
            detail=f"Adopting sets the status here to {dots_obj.status}.",
        )
    if dots_obj.amount is not None and local_amount != dots_obj.amount:
        yield Finding(
            record_type=record_type,
            kind="amount",
            label=label,
            local_id=local_id,
            dots_id=dots_id,
            local_value=str(local_amount),
            dots_value=str(dots_obj.amount),
            detail="Adopting sets the amount here to Dots' amount.",
        )
