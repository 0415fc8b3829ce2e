"""The reconciler: settle records in doubt, then compare every record type with Dots.

A run (`reconcile_all`) does two things, in this order:
1. Records whose last call to Dots ended without a clear answer (a payment whose
   outcome is unknown, a `pay` a dead worker never finished, a create whose answer
   was lost) are settled from Dots' answer, automatically: each record type's
   `resolve_in_doubt` knows how (declared by its app through its seam).
2. Each record type is compared with Dots (status, amount, a record either side
   lacks). Disagreements go to the report (`Discrepancy`): new ones open, ones found
   again stay open, ones no longer found close by themselves. Nothing is changed
   silently: a person adopts Dots' state from the report (`discrepancy_adopt`).
A record type whose listing failed (Dots unreachable) keeps its open rows as they
were: not seeing a disagreement because Dots did not answer is not agreement.
"""

import logging
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit, registry
from core.errors import DomainError, DotsCallError, InvalidTransition, PermissionRefused
from core.findings import Finding, RecordCheck
from core.models import AuditEvent
from reconciliation.models import Discrepancy, ReconciliationRun

logger = logging.getLogger(__name__)


def all_checks() -> dict[str, RecordCheck]:
    """Every record type the apps declare through their seam (core.registry.reconcile_check)."""
    return registry.reconcile_checks()


@dataclass
class ReconcileResult:
    run_id: int
    settled: list[str] = field(default_factory=list)  # records in doubt settled from Dots' answer
    still_in_doubt: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    still_open: int = 0
    closed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.settled)} settled from Dots' answer, {len(self.still_in_doubt)} still in doubt, "
            f"{len(self.opened)} new disagreements, {self.still_open} still open, {len(self.closed)} gone"
            + (f", {len(self.errors)} errors" if self.errors else "")
        )


def reconcile_all(*, actor: User, trigger: str = "schedule", record_types: list[str] | None = None) -> ReconcileResult:
    """Settle records in doubt, then compare each record type with Dots. `actor`: the system user
    for scheduled runs, the person who pressed "Reconcile with Dots now" otherwise."""
    checks = {k: v for k, v in all_checks().items() if record_types is None or k in record_types}
    run = ReconciliationRun.objects.create(trigger=trigger)
    result = ReconcileResult(run_id=run.pk)
    for check in checks.values():
        if check.resolve_in_doubt is None:
            continue
        try:
            settling = check.resolve_in_doubt(actor=actor)
        except DotsCallError as exc:
            result.errors.append(f"{check.label}: records in doubt not settled: {exc}")
            continue
        result.settled += settling.settled
        result.still_in_doubt += settling.still_in_doubt
    for record_type, check in checks.items():
        try:
            findings = list(check.find())
        except DotsCallError as exc:
            result.errors.append(f"{check.label}: not compared: {exc}")
            continue
        _record_findings(record_type, findings, actor=actor, result=result)
    with transaction.atomic():
        ReconciliationRun.objects.filter(pk=run.pk).update(
            finished_at=timezone.now(),
            checked=len(checks),
            opened=len(result.opened),
            still_open=result.still_open,
            closed=len(result.closed),
            auto_resolved=len(result.settled),
            errors="\n".join(result.errors)[:5000],
        )
        run.refresh_from_db()
        audit.record(
            actor=actor,
            action="reconciliation.run",
            target=run,
            source=AuditEvent.Source.RECONCILE,
            after={
                "settled": len(result.settled),
                "still_in_doubt": len(result.still_in_doubt),
                "opened": len(result.opened),
                "still_open": result.still_open,
                "closed": len(result.closed),
                "errors": len(result.errors),
            },
            reason=result.summary(),
        )
    return result


def _record_findings(record_type: str, findings: list[Finding], *, actor: User, result: ReconcileResult) -> None:
    now = timezone.now()
    open_rows = {
        (d.record_type, d.local_id, d.dots_id, d.kind): d
        for d in Discrepancy.objects.filter(record_type=record_type, resolution="")
    }
    found_keys = set()
    for finding in findings:
        key = finding.key
        if key in found_keys:
            continue
        found_keys.add(key)
        row = open_rows.get(key)
        if row is not None:
            Discrepancy.objects.filter(pk=row.pk).update(
                last_seen_at=now,
                local_value=finding.local_value[:200],
                dots_value=finding.dots_value[:200],
                label=finding.label[:200],
                detail=finding.detail,
            )
            result.still_open += 1
            continue
        with transaction.atomic():
            row = Discrepancy.objects.create(
                record_type=record_type,
                local_id=finding.local_id,
                dots_id=finding.dots_id,
                label=finding.label[:200],
                kind=finding.kind,
                local_value=finding.local_value[:200],
                dots_value=finding.dots_value[:200],
                detail=finding.detail,
                last_seen_at=now,
            )
            audit.record(
                actor=actor,
                action="discrepancy.opened",
                target=row,
                source=AuditEvent.Source.RECONCILE,
                after={
                    "record": finding.label,
                    "kind": finding.kind,
                    "here": finding.local_value,
                    "dots": finding.dots_value,
                },
            )
        result.opened.append(
            f"{finding.label}: {row.get_kind_display().lower()} "
            f"(here {finding.local_value or '-'}, Dots {finding.dots_value or '-'})"
        )
    for key, row in open_rows.items():
        if key in found_keys:
            continue
        with transaction.atomic():
            if Discrepancy.objects.filter(pk=row.pk, resolution="").update(
                resolution=Discrepancy.Resolution.AGREES_AGAIN, resolved_at=now
            ):
                audit.record(
                    actor=actor,
                    action="discrepancy.closed",
                    target=row,
                    source=AuditEvent.Source.RECONCILE,
                    before={"resolution": "open"},
                    after={"resolution": Discrepancy.Resolution.AGREES_AGAIN},
                )
                result.closed.append(f"{row.label}: {row.get_kind_display().lower()} no longer found")


def discrepancy_adopt(*, discrepancy_id: int, actor: User) -> str:
    """Make the local record say what Dots says, for one open disagreement. Answers what was done."""
    if not actor.has_perm("reconciliation.adopt_discrepancy"):
        raise PermissionRefused("You may not adopt Dots' state: an Administrator decides disagreements with Dots.")
    discrepancy = Discrepancy.objects.get(pk=discrepancy_id)
    if not discrepancy.is_open:
        raise InvalidTransition(f"{discrepancy} is already settled ({discrepancy.get_resolution_display().lower()}).")
    check = all_checks().get(discrepancy.record_type)
    if check is None:
        raise DomainError(f"{discrepancy}: Ledgerline no longer checks {discrepancy.record_type} records.")
    done = check.adopt(discrepancy=discrepancy, actor=actor)
    with transaction.atomic():
        if Discrepancy.objects.filter(pk=discrepancy.pk, resolution="").update(
            resolution=Discrepancy.Resolution.ADOPTED, resolved_at=timezone.now(), resolved_by=actor
        ):
            audit.record(
                actor=actor,
                action="discrepancy.adopted",
                target=discrepancy,
                source=AuditEvent.Source.RECONCILE,
                before={"resolution": "open"},
                after={"resolution": Discrepancy.Resolution.ADOPTED},
                reason=done[:500],
            )
    return done
