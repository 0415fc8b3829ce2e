"""Payables compared with Dots, for the reconciliation report (reconciliation.services).

`find_payable_disagreements` reads every payable in Dots, a page at a time, and
compares each with ours by Dots id (one query per page): status, amount, and a
record either side lacks. Payables whose payment is in doubt are not compared:
`resolve_payables_in_doubt` settles them first, by reading Dots' answer.
"""

import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit
from core.compare import compare_listing
from core.dots_gateway import client, dots_call, is_not_found
from core.errors import DomainError, DotsCallError, DotsRejected
from core.findings import Finding, RecordCheck, Settling, status_and_amount_findings
from core.models import AuditEvent
from payables import services
from payables.models import Payable

S = Payable.Status
RECORD_TYPE = "payable"
# Local-only statuses: the reconciler settles these (resolve_payables_in_doubt), it does not report them.
_IN_DOUBT = {S.PAY_REQUESTED, S.OUTCOME_UNKNOWN}
_EXTERNAL_ID_PREFIX = "ledgerline-payable-"


def find_payable_disagreements() -> Iterator[Finding]:
    return compare_listing(
        what="the payables",
        listing=client().iter_payables,
        local_rows=lambda ids: Payable.objects.filter(dots_id__in=ids).values_list(
            "pk", "dots_id", "bill_number", "status", "total_cents"
        ),
        linked_rows=lambda: (
            Payable.objects.filter(dots_id__isnull=False)
            .values_list("pk", "dots_id", "bill_number", "status")
            .iterator(chunk_size=2000)
        ),
        only_in_dots=_only_in_dots,
        only_here=lambda row: Finding(
            record_type=RECORD_TYPE,
            kind="missing_in_dots",
            label=f"Payable {row[2]} (#{row[0]})",
            local_id=row[0],
            dots_id=row[1],
            local_value=row[3],
            dots_value="(none)",
            detail="Adopting Dots' state cancels it here (Dots has no such payable).",
        ),
        on_both=_compare_pair,
    )


def _only_in_dots(dots_payable) -> Finding:
    ours = _our_pk(dots_payable.external_id)
    detail = (
        f"Adopting links it to Payable #{ours}, whose create in Dots was interrupted."
        if ours
        else "Adopting creates it here from Dots (its vendor and bank account must be known here)."
    )
    return Finding(
        record_type=RECORD_TYPE,
        kind="missing_locally",
        label=f"Dots payable {dots_payable.number or dots_payable.id}",
        local_id=ours,
        dots_id=dots_payable.id,
        local_value="(none)",
        dots_value=dots_payable.status or "",
        detail=detail,
    )


def _compare_pair(row, dots_payable) -> Iterator[Finding]:
    pk, dots_id, number, status, total = row
    # A payment in doubt is not compared: resolve_payables_in_doubt settles it from Dots' answer.
    return status_and_amount_findings(
        record_type=RECORD_TYPE,
        label=f"Payable {number} (#{pk})",
        local_id=pk,
        dots_id=dots_id,
        local_status=status,
        local_amount=total,
        dots_obj=dots_payable,
        compare_status=status not in _IN_DOUBT,
    )


def _our_pk(external_id: str | None) -> int | None:
    if external_id and external_id.startswith(_EXTERNAL_ID_PREFIX):
        number = external_id[len(_EXTERNAL_ID_PREFIX) :]
        if number.isdigit() and Payable.objects.filter(pk=int(number), dots_id__isnull=True).exists():
            return int(number)
    return None


# --- adopting Dots' state ----------------------------------------------------------------------------------


def adopt_payable(*, discrepancy, actor: User) -> str:
    """Make the payable say what Dots says now (read again: the report may be hours old)."""
    if discrepancy.kind == "missing_locally":
        return _adopt_missing_locally(discrepancy, actor)
    payable = Payable.objects.get(pk=discrepancy.local_id)
    answer = _read(payable.dots_id)
    if answer is None:
        if discrepancy.kind != "missing_in_dots":
            raise DomainError(f"{_label(payable)}: Dots no longer has it; run reconciliation again.")
        return _apply(
            payable.pk,
            actor=actor,
            status=S.CANCELED,
            dots_status="",
            reason="Dots has no such payable (reconciliation)",
        )
    if discrepancy.kind == "missing_in_dots":
        raise DomainError(f"{_label(payable)}: Dots has it again; nothing to adopt. Run reconciliation again.")
    if discrepancy.kind == "amount":
        return _apply(payable.pk, actor=actor, total_cents=answer.amount, dots_status=answer.status or "")
    if answer.status not in {s.value for s in S} or answer.status in _IN_DOUBT:
        raise DomainError(f"{_label(payable)}: Dots shows status {answer.status!r}, which Ledgerline does not know.")
    reason = services.payment_failure_reason(answer) if answer.status == S.PAYMENT_FAILED else ""
    return _apply(
        payable.pk,
        actor=actor,
        status=answer.status,
        dots_status=answer.status,
        failure_reason=reason,
        dots_transfer_id=answer.transfer_id or payable.dots_transfer_id,
        approval_steps=answer.approval_steps or payable.approval_steps,
    )


def _read(dots_id: str):
    try:
        with dots_call("read the payable from Dots"):
            return client().retrieve_payable(payable_id=dots_id)
    except DotsRejected as exc:
        if is_not_found(exc):
            return None
        raise


def _apply(payable_id: int, *, actor: User, reason: str = "", **fields) -> str:
    with transaction.atomic():
        payable = Payable.objects.select_for_update().get(pk=payable_id)
        names = [name for name in fields if name != "dots_status"]
        before = {name: getattr(payable, name) for name in names}
        for name, value in fields.items():
            setattr(payable, name, value)
        if "status" in fields and fields["status"] != before.get("status"):
            payable.status_changed_at = timezone.now()
        if "total_cents" in fields and not payable.items.exists():
            payable.amount_cents = fields["total_cents"]
        payable.save()
        after = {name: getattr(payable, name) for name in names}
        audit.record(
            actor=actor,
            action="payable.adopted_from_dots",
            target=payable,
            source=AuditEvent.Source.RECONCILE,
            before=_short(before),
            after=_short(after),
            reason=reason or "Dots' state adopted (reconciliation report)",
        )
    changed = ", ".join(
        f"{name} {before[name]} -> {after[name]}"
        for name in names
        if before[name] != after[name] and name not in ("approval_steps", "failure_reason")
    )
    return f"{_label(payable)}: {changed or 'already as Dots says'}"


def _short(values: dict) -> dict:
    # Approval steps are long; the audit keeps how many approvals they hold, not the whole list.
    return {k: (len(v) if isinstance(v, list) else v) for k, v in values.items()}


def _adopt_missing_locally(discrepancy, actor: User) -> str:
    answer = _read(discrepancy.dots_id)
    if answer is None:
        raise DomainError(f"Dots no longer has payable {discrepancy.dots_id}; nothing to adopt.")
    ours = _our_pk(answer.external_id)
    if ours is not None:
        with transaction.atomic():
            if not Payable.objects.filter(pk=ours, dots_id__isnull=True).update(
                dots_id=answer.id, dots_status=answer.status or ""
            ):
                raise DomainError(f"Payable #{ours} is already linked to Dots.")
            payable = Payable.objects.get(pk=ours)
            audit.record(
                actor=actor,
                action="payable.adopted_from_dots",
                target=payable,
                source=AuditEvent.Source.RECONCILE,
                before={"dots_id": None},
                after={"dots_id": answer.id},
                reason="Linked to the payable Dots holds for it",
            )
        return f"{_label(payable)}: linked to Dots payable {answer.id}"
    from vendors.models import Vendor, VendorBankAccount

    vendor = Vendor.objects.filter(dots_id=answer.ap_vendor_id).first() if answer.ap_vendor_id else None
    account = (
        VendorBankAccount.objects.filter(dots_id=answer.ap_payment_method_id).first()
        if answer.ap_payment_method_id
        else None
    )
    if vendor is None or account is None:
        raise DomainError(
            f"Dots payable {answer.number or answer.id}: its vendor or bank account is not known here; "
            "sync vendors first or enter the payable by hand."
        )
    if answer.status not in {s.value for s in S}:
        raise DomainError(f"Dots payable {answer.id} has status {answer.status!r}, which Ledgerline does not know.")
    with transaction.atomic():
        payable = Payable.objects.create(
            bill_number=answer.number or f"DOTS-{answer.id[:8]}",
            vendor=vendor,
            bank_account=account,
            description=answer.description or "",
            amount_cents=answer.amount,
            total_cents=answer.amount or 0,
            funding_source=(
                answer.funding_source
                if answer.funding_source in Payable.FundingSource.values
                else Payable.FundingSource.DOTS_BALANCE
            ),
            status=answer.status,
            status_changed_at=timezone.now(),
            dots_id=answer.id,
            dots_status=answer.status,
            approval_steps=answer.approval_steps or [],
            dots_transfer_id=answer.transfer_id or "",
            created_by=audit.system_user(),
        )
        audit.record(
            actor=actor,
            action="payable.adopted_from_dots",
            target=payable,
            source=AuditEvent.Source.RECONCILE,
            after={"status": payable.status, "total_cents": payable.total_cents, "dots_id": answer.id},
            reason="Created here from Dots (it was missing here)",
        )
    return f"{_label(payable)}: created here from Dots"


def _label(payable: Payable) -> str:
    return f"Payable {payable.bill_number} (#{payable.pk})"


# --- settling payables in doubt -----------------------------------------------------------------------------


def resolve_payables_in_doubt(*, actor: User) -> Settling:
    """Settle payments whose outcome is unknown, and calls a dead worker left unanswered."""
    settling = Settling()
    stale = timezone.now() - dt.timedelta(seconds=settings.PAY_REQUEST_STALE_SECONDS)
    # A `pay_requested` this old has no caller left waiting for Dots' answer (the worker or web
    # process died mid-call): it is an outcome-unknown payment, and is read back as one.
    for payable in Payable.objects.filter(status=S.PAY_REQUESTED, pay_requested_at__lt=stale):
        with transaction.atomic():
            if Payable.objects.filter(pk=payable.pk, status=S.PAY_REQUESTED).update(
                status=S.OUTCOME_UNKNOWN, status_changed_at=timezone.now()
            ):
                audit.record(
                    actor=actor,
                    action="payable.interrupted_payment",
                    target=payable,
                    source=AuditEvent.Source.RECONCILE,
                    before={"status": S.PAY_REQUESTED},
                    after={"status": S.OUTCOME_UNKNOWN},
                    reason="No answer from Dots was recorded for this payment: reading Dots' answer",
                )
    for pk in Payable.objects.filter(status=S.OUTCOME_UNKNOWN).values_list("pk", flat=True):
        before = S.OUTCOME_UNKNOWN
        try:
            payable = services.payable_reconcile_payment(payable_id=pk, actor=actor, source=AuditEvent.Source.RECONCILE)
        except DotsCallError as exc:
            settling.still_in_doubt.append(f"Payable #{pk}: still unknown ({exc})")
            continue
        if payable.status != before:
            settling.settled.append(f"{_label(payable)}: {before} -> {payable.status}")
    settling.settled += settle_interrupted_creates(actor=actor)
    return settling


def settle_interrupted_creates(*, actor: User) -> list[str]:
    """Creates in Dots left claimed ("creating") by a call that timed out or a process that died.

    Dots' create takes no key, so the claim blocks a second create until we know: once it is
    older than PAY_REQUEST_STALE_SECONDS, look for our external id in Dots; adopt it if there,
    else release the claim so the payable can be submitted again.
    """
    stale = timezone.now() - dt.timedelta(seconds=settings.PAY_REQUEST_STALE_SECONDS)
    return [
        _settle_interrupted_create(payable, actor)
        for payable in Payable.objects.filter(
            dots_id__isnull=True, dots_status="creating", last_dots_attempt_at__lt=stale
        )
    ]


def _settle_interrupted_create(payable: Payable, actor: User) -> str:
    external_id = f"{_EXTERNAL_ID_PREFIX}{payable.pk}"
    with dots_call(f"look for {payable} in Dots"):
        found = next((p for p in client().iter_payables() if p.external_id == external_id), None)
    with transaction.atomic():
        if found is not None:
            updated = Payable.objects.filter(pk=payable.pk, dots_status="creating").update(
                dots_id=found.id, dots_status=found.status or "created"
            )
        else:
            updated = Payable.objects.filter(pk=payable.pk, dots_status="creating").update(dots_status="")
        if updated:
            audit.record(
                actor=actor,
                action="payable.create_in_dots_resolved",
                target=payable,
                source=AuditEvent.Source.RECONCILE,
                after={"dots_id": found.id if found else None},
                reason="found in Dots" if found else "not in Dots: it can be submitted again",
            )
    return f"{_label(payable)}: interrupted create {'found in Dots' if found else 'never reached Dots'}"


PAYABLE_CHECK = RecordCheck(
    label="payables",
    model="payables.payable",
    find=find_payable_disagreements,
    adopt=adopt_payable,
    resolve_in_doubt=resolve_payables_in_doubt,
)
