"""The shape of a disagreement, shared by every app's checks (`<app>/reconcile.py`).

Each app lists its record types in `CHECKS`: a `RecordCheck` says how to find its
disagreements with Dots and how to adopt Dots' state for one of them. The
reconciler (reconciliation.services) runs them all and keeps the report.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    record_type: str  # a key of some app's CHECKS
    kind: str  # reconciliation.models.Discrepancy.Kind
    label: str
    local_id: int | None
    dots_id: str
    local_value: str = ""
    dots_value: str = ""
    detail: str = ""  # what adopting Dots' state would do, in words

    @property
    def key(self) -> tuple:
        return (self.record_type, self.local_id, self.dots_id, self.kind)


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
    # once Dots' answer is clear; answers one line per record it settled.
    resolve_in_doubt: Callable[..., list[str]] | None = None
