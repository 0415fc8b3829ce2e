"""One transition table per record: the moves we make, and the moves Dots makes on its own.

A model keeps its table next to its statuses (`Payable.TRANSITIONS = TransitionTable(...)`);
services call `TRANSITIONS.ensure(record, new_status)` before they change a status, and the
sync calls `TRANSITIONS.ensure(record, new_status, by=DOTS)` (or asks `dots_may_move`) before
it adopts what Dots did. Both refuse with the same `InvalidTransition`, naming the record,
where it is and where it was asked to go, in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import models

from core.errors import InvalidTransition

Mover = Literal["us", "dots"]
US: Mover = "us"
DOTS: Mover = "dots"


def _frozen(table: Mapping[Any, Iterable[Any]]) -> dict[str, frozenset[str]]:
    return {str(source): frozenset(str(target) for target in targets) for source, targets in table.items()}


@dataclass(frozen=True)
class TransitionTable:
    """The statuses of one record type and who may move it from which to which.

    `ours`: the moves our services make. `dots`: the moves Dots makes without us (read back
    by the sync, a webhook or reconciliation). A status missing from both tables is final.
    """

    statuses: type[models.TextChoices]
    ours: Mapping[str, frozenset[str]]
    dots: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        statuses: type[models.TextChoices],
        *,
        ours: Mapping[Any, Iterable[Any]],
        dots: Mapping[Any, Iterable[Any]] | None = None,
    ) -> TransitionTable:
        table = cls(statuses=statuses, ours=_frozen(ours), dots=_frozen(dots or {}))
        known = {str(value) for value in statuses.values}
        named = set(table.ours) | set(table.dots)
        for targets in (*table.ours.values(), *table.dots.values()):
            named |= targets
        unknown = named - known
        if unknown:
            raise ValueError(f"{statuses.__qualname__} has no status {sorted(unknown)}")
        return table

    def label(self, status: str) -> str:
        try:
            return str(self.statuses(status).label).lower()
        except ValueError:
            return status or "(none)"

    def allows(self, current: str, new: str, *, by: Mover = US) -> bool:
        table = self.ours if by == US else self.dots
        return new in table.get(current, frozenset())

    def dots_may_move(self, current: str, new: str) -> bool:
        return self.allows(current, new, by=DOTS)

    def followed(self) -> list[str]:
        """The statuses Dots can still move a record from: what the sync reads back."""
        return [status for status, targets in self.dots.items() if targets]

    def ensure(self, record: object, new: str, *, by: Mover = US, current: str | None = None) -> None:
        """Raise InvalidTransition unless `by` may move `record` from its status to `new`."""
        now = str(current if current is not None else record.status)  # type: ignore[attr-defined]
        if not self.allows(now, new, by=by):
            raise InvalidTransition(f"{record} is {self.label(now)}: it cannot become {self.label(new)}.")
