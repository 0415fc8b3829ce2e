"""Bulk admin actions: run a service once per row and report what happened to each.

    outcomes = [run_row(p.bill_number, services.payable_approve, payable_id=p.pk, actor=request.user)
                for p in queryset]
    message_outcomes(self, request, outcomes, verb="approved")

gives "7 approved." and "2 skipped: INV-104: already approved; INV-200: you created it."
Each row is its own transaction (the service's); one row's refusal never undoes another's.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.contrib import messages

from core.errors import DomainError


@dataclass(frozen=True)
class RowOutcome:
    label: str
    ok: bool
    reason: str = ""
    code: str = ""


def run_row(label: str, service: Callable, /, **kwargs) -> RowOutcome:
    """Call `service(**kwargs)`; a DomainError becomes a skipped row, anything else is a bug and surfaces."""
    try:
        service(**kwargs)
    except DomainError as exc:
        return RowOutcome(label=label, ok=False, reason=str(exc), code=exc.code)
    return RowOutcome(label=label, ok=True)


def summarise(outcomes: Sequence[RowOutcome], *, verb: str) -> tuple[str, str]:
    """(success text, skipped text); either may be empty."""
    done = [o for o in outcomes if o.ok]
    skipped = [o for o in outcomes if not o.ok]
    success = f"{len(done)} {verb}." if done else ""
    failure = ""
    if skipped:
        details = "; ".join(f"{o.label}: {o.reason}" for o in skipped)
        failure = f"{len(skipped)} skipped: {details}"
    return success, failure


def message_outcomes(modeladmin, request, outcomes: Sequence[RowOutcome], *, verb: str) -> None:
    success, failure = summarise(outcomes, verb=verb)
    if success:
        modeladmin.message_user(request, success, messages.SUCCESS)
    if failure:
        modeladmin.message_user(request, failure, messages.WARNING if success else messages.ERROR)
    if not outcomes:
        modeladmin.message_user(request, "Nothing was selected.", messages.INFO)
