"""What one sync step did, in words `sync_dots` can print and the audit trail can keep."""

from dataclasses import dataclass, field


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
