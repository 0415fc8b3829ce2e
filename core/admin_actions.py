"""Bulk admin actions: run a service once per row and report what happened to each.

    outcomes = [run_row(p.bill_number, services.payable_approve, payable_id=p.pk, actor=request.user)
                for p in queryset]
    message_outcomes(self, request, outcomes, verb="approved")

gives "7 approved." and "2 skipped: INV-104: already approved; INV-200: you created it."
Each row is its own transaction (the service's); one row's refusal never undoes another's.
Rows queued because Dots is unreachable (core.errors.ActionQueued) are neither done nor
skipped: they get their own, reassuring message ("1 queued until Dots answers: ...").
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.contrib import messages

from core.errors import ActionQueued, DomainError


@dataclass(frozen=True)
class RowOutcome:
    label: str
    ok: bool
    reason: str = ""
    code: str = ""

    @property
    def queued(self) -> bool:
        return self.code == ActionQueued.code


def without_label(label: str, reason: str) -> str:
    """The reason without the row's own name in front: services name the record ("INV-7: you
    created it ..."), and the message names it once already ("INV-7: you created it ...", never
    "INV-7: INV-7: ...")."""
    prefix = f"{label}: "
    return reason[len(prefix) :] if label and reason.startswith(prefix) else reason


def run_row(label: str, service: Callable, /, **kwargs) -> RowOutcome:
    """Call `service(**kwargs)`; a DomainError becomes a skipped row, anything else is a bug and surfaces."""
    try:
        service(**kwargs)
    except DomainError as exc:
        return RowOutcome(label=label, ok=False, reason=without_label(label, str(exc)), code=exc.code)
    return RowOutcome(label=label, ok=True)


def summarise(outcomes: Sequence[RowOutcome], *, verb: str) -> tuple[str, str]:
    """(success text, skipped text); either may be empty."""
    done = [o for o in outcomes if o.ok]
    skipped = [o for o in outcomes if not o.ok and not o.queued]
    success = f"{len(done)} {verb}." if done else ""
    failure = ""
    if skipped:
        details = "; ".join(f"{o.label}: {o.reason}" for o in skipped)
        failure = f"{len(skipped)} skipped: {details}"
    return success, failure


def queued_text(outcomes: Sequence[RowOutcome]) -> str:
    """'2 queued until Dots answers: Dots is unreachable since 14:02: your approval of INV-1 is queued ...'."""
    queued = [o for o in outcomes if o.queued]
    if not queued:
        return ""
    return f"{len(queued)} queued until Dots answers: " + " ".join(o.reason for o in queued)


def message_outcomes(modeladmin, request, outcomes: Sequence[RowOutcome], *, verb: str) -> None:
    success, failure = summarise(outcomes, verb=verb)
    queued = queued_text(outcomes)
    if success:
        modeladmin.message_user(request, success, messages.SUCCESS)
    if queued:
        modeladmin.message_user(request, queued, messages.INFO)
    if failure:
        modeladmin.message_user(request, failure, messages.WARNING if success or queued else messages.ERROR)
    if not outcomes:
        modeladmin.message_user(request, "Nothing was selected.", messages.INFO)
