"""What one sync step did, in words `sync_dots` can print and the audit trail can keep."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.errors import DotsCallError


@dataclass
class SyncReport:
    name: str  # "payables in flight", "payees", ...
    checked: int = 0
    changes: list[str] = field(default_factory=list)  # "Payable INV-104: approved -> payment_completed"
    errors: list[str] = field(default_factory=list)  # Dots calls that failed; the step goes on with the rest

    @property
    def changed(self) -> int:
        return len(self.changes)

    def summary(self) -> str:
        text = f"{self.name}: {self.checked} checked, {self.changed} changed"
        if self.errors:
            text += f", {len(self.errors)} could not be read"
        return text


def refresh_each(
    name: str, rows: Iterable[tuple[int, str]], refresh: Callable[[int], Any], *, label: str
) -> SyncReport:
    """Re-read each record from Dots (`refresh(pk)` answers the row); report each status that moved.

    `rows`: (pk, status before) pairs. A record Dots does not answer for is reported and the
    rest go on.
    """
    report = SyncReport(name)
    for pk, before in rows:
        report.checked += 1
        try:
            after = refresh(pk).status
        except DotsCallError as exc:
            report.errors.append(f"{label} #{pk}: {exc}")
            continue
        if after != before:
            report.changes.append(f"{label} #{pk}: {before} -> {after}")
    return report
