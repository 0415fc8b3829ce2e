"""What one sync step did, in words `sync_dots` can print and the audit trail can keep."""

from dataclasses import dataclass, field


@dataclass
class SyncReport:
    name: str  # "payables in flight", "payees", ...
    checked: int = 0
    changes: list[str] = field(default_factory=list)  # "Payable INV-104: approved -> payment_completed"
    errors: list[str] = field(default_factory=list)  # Dots calls that failed; the step goes on with the rest
    # A step that follows records one by one (core.sync_runner.follow): how many were due when it
    # started, and how many of those it left for the next run (`checked` says how many it read).
    due: int | None = None
    left: int | None = None
    note: str = ""  # "already running since 14:02:10; left to that run"
    more: bool = False  # its pass goes on in the next run (a scheduled run that used its time budget)

    @property
    def changed(self) -> int:
        return len(self.changes)

    def summary(self) -> str:
        if self.note:
            return f"{self.name}: {self.note}"
        text = f"{self.name}: {self.checked} checked, {self.changed} changed"
        if self.due is not None:
            text += f" ({self.due} due, {self.left or 0} left for the next run)"
        if self.errors:
            text += f", {len(self.errors)} could not be read"
        return text
