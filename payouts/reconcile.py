"""Payees, payout links and payout requests compared with Dots.

- `payees_sync` (scheduled): Dots owns a user's status, compliance and wallet, so the
  sync adopts them as they are, page by page (one query per page, writes only for
  rows that changed, each audited).
- `CHECKS` (reconciliation report): for links and requests, status and amount; for all
  three, a record one side has and the other lacks. Links and requests whose create
  ended without an answer are settled first (`resolve_*_in_doubt`): a link is sent
  again with its stored key and body, so Dots answers with the one it made, if any; a
  request is looked for by the key it carries in its metadata before it is sent again.
- Money moved for payees (transfers, payouts, payout batches): payouts/reconcile_money_out.py.
"""

import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit
from core.compare import compare_listing
from core.dots_gateway import client, dots_call, is_not_found
from core.errors import DomainError, DotsCallError, DotsRejected
from core.findings import Finding, RecordCheck, Settling, in_pages, status_and_amount_findings
from core.models import AuditEvent
from core.sync_report import SyncReport
from dots.types import PayoutLink as DotsPayoutLink
from dots.types import PayoutRequest as DotsPayoutRequest
from payouts.models import Payee, PayoutLink, PayoutRequest
from payouts.services import payees, payout_links, payout_requests

_PAYEE_FIELDS = ("dots_status", "compliance", "wallet_cents", "default_payout_method")


# --- payees: status, compliance, wallet -------------------------------------------------------------------


def payees_sync(*, actor: User, source: str = AuditEvent.Source.SYNC) -> SyncReport:
    report = SyncReport("payees")
    with dots_call("list the users"):
        for page in in_pages(client().iter_users()):
            report.checked += len(page)
            report.changes.extend(_sync_payee_page(page, actor=actor, source=source))
    return report


def _sync_payee_page(page: list, *, actor: User, source: str) -> list[str]:
    by_id = {user.id: user for user in page if user.id}
    changed = []
    for payee in Payee.objects.filter(dots_user_id__in=list(by_id)).only(
        "pk", "first_name", "last_name", "phone_e164", "dots_user_id", *_PAYEE_FIELDS
    ):
        fields = payees.payee_fields_from_dots(by_id[payee.dots_user_id])
        before = {name: getattr(payee, name) for name in _PAYEE_FIELDS}
        if all(before[name] == fields[name] for name in _PAYEE_FIELDS):
            continue
        changed.append((payee.pk, before, fields))
    lines = []
    for pk, before, fields in changed:
        with transaction.atomic():
            payee = Payee.objects.select_for_update().get(pk=pk)
            for name, value in fields.items():
                setattr(payee, name, value)
            payee.last_dots_error = ""
            payee.last_dots_attempt_at = timezone.now()
            payee.save()
            audit.record(
                actor=actor, action="payee.refreshed", target=payee, before=before, after=fields, source=source
            )
        moved = [name for name in _PAYEE_FIELDS if before[name] != fields[name]]
        detail = (
            f"{before['dots_status'] or '-'} -> {fields['dots_status']}"
            if "dots_status" in moved
            else ", ".join(moved) + " changed"
        )
        lines.append(f"{payee}: {detail}")
    return lines


# --- payout links ------------------------------------------------------------------------------------------


def find_payout_link_disagreements() -> Iterator[Finding]:
    return compare_listing(
        what="the payout links",
        listing=client().iter_payout_links,
        local_rows=lambda ids: PayoutLink.objects.filter(dots_id__in=ids).values_list(
            "pk", "dots_id", "status", "amount_cents"
        ),
        linked_rows=lambda: (
            PayoutLink.objects.filter(dots_id__isnull=False)
            .values_list("pk", "dots_id", "status")
            .iterator(chunk_size=2000)
        ),
        only_in_dots=lambda link: Finding(
            record_type="payout_link",
            kind="missing_locally",
            label=f"Dots payout link {link.id}",
            local_id=None,
            dots_id=link.id,
            local_value="(none)",
            dots_value=link.status or "",
            detail="Adopting records it here, as Dots shows it.",
        ),
        only_here=lambda row: Finding(
            record_type="payout_link",
            kind="missing_in_dots",
            label=f"Payout link #{row[0]}",
            local_id=row[0],
            dots_id=row[1],
            local_value=row[2],
            dots_value="(none)",
            detail="Adopting marks it canceled here (Dots has no such link).",
        ),
        on_both=lambda row, link: _compare("payout_link", f"Payout link #{row[0]}", row, link),
    )


def _compare(record_type: str, label: str, row, dots_obj) -> Iterator[Finding]:
    pk, dots_id, status, amount = row
    return status_and_amount_findings(
        record_type=record_type,
        label=label,
        local_id=pk,
        dots_id=dots_id,
        local_status=status,
        local_amount=amount,
        dots_obj=dots_obj,
    )


def adopt_payout_link(*, discrepancy, actor: User) -> str:
    if discrepancy.kind == "missing_locally":
        data = _read_link(discrepancy.dots_id)
        if data is None:
            raise DomainError(f"Dots no longer has payout link {discrepancy.dots_id}; nothing to adopt.")
        with transaction.atomic():
            if PayoutLink.objects.filter(dots_id=data.id).exists():
                raise DomainError(f"Payout link {data.id} is already recorded here.")
            payee = Payee.objects.filter(dots_user_id=data.claimed_user_id or "-").first()
            link = PayoutLink(
                payee=payee,
                amount_cents=data.amount or 0,
                created_by=audit.system_user(),
                request_body={"adopted_from_dots": data.id},
                memo=(data.memo or "")[:500],
            )
            payout_links.apply_link_state(link, data, adopting=True)
            link.save()
            audit.record(
                actor=actor,
                action="payout_link.adopted_from_dots",
                target=link,
                source=AuditEvent.Source.RECONCILE,
                after={"status": link.status, "dots_id": link.dots_id, "amount_cents": link.amount_cents},
                reason="Created here from Dots (it was missing here)",
            )
        return f"{link}: recorded here from Dots"
    link = PayoutLink.objects.get(pk=discrepancy.local_id)
    data = _read_link(link.dots_id)
    if data is None:
        if discrepancy.kind != "missing_in_dots":
            raise DomainError(f"{link}: Dots no longer has it; run reconciliation again.")
        return _apply_link_fields(
            link.pk,
            actor,
            status=PayoutLink.Status.CANCELED,
            last_dots_error="Dots has no such payout link (reconciliation)",
        )
    if discrepancy.kind == "missing_in_dots":
        raise DomainError(f"{link}: Dots has it again; nothing to adopt. Run reconciliation again.")
    if discrepancy.kind == "amount":
        return _apply_link_fields(link.pk, actor, amount_cents=data.amount)
    return _apply_link_fields(link.pk, actor, dots_data=data)


def _read_link(dots_id: str) -> DotsPayoutLink | None:
    try:
        with dots_call("read the payout link"):
            return client().retrieve_payout_link(payout_link_id=dots_id)
    except DotsRejected as exc:
        if is_not_found(exc):
            return None
        raise


def _apply_link_fields(link_id: int, actor: User, *, dots_data: DotsPayoutLink | None = None, **fields) -> str:
    with transaction.atomic():
        link = PayoutLink.objects.select_for_update().get(pk=link_id)
        before = {"status": link.status, "amount_cents": link.amount_cents}
        if dots_data is not None:
            payout_links.apply_link_state(link, dots_data, adopting=True)
        for name, value in fields.items():
            setattr(link, name, value)
        link.save()
        after = {"status": link.status, "amount_cents": link.amount_cents}
        audit.record(
            actor=actor,
            action="payout_link.adopted_from_dots",
            target=link,
            source=AuditEvent.Source.RECONCILE,
            before=before,
            after=after,
            reason=fields.get("last_dots_error") or "Dots' state adopted (reconciliation report)",
        )
    return f"{link}: " + ", ".join(f"{k} {before[k]} -> {after[k]}" for k in before if before[k] != after[k])


def _stale_pending(model, stale):
    """Pending rows old enough that the task meant to send them is gone (a worker killed mid-call,
    or a broker that lost the task): nobody else will send them."""
    return model.objects.filter(status="pending", dots_id__isnull=True, created_at__lt=stale).filter(
        Q(last_dots_attempt_at__isnull=True) | Q(last_dots_attempt_at__lt=stale)
    )


def resolve_payout_links_in_doubt(*, actor: User) -> Settling:
    settling = Settling()
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.PAY_REQUEST_STALE_SECONDS)
    # Resending with the stored key and body is safe while Dots keeps the key (24 h; we stop at 23).
    key_alive = now - dt.timedelta(hours=23)
    in_doubt = Q(status=PayoutLink.Status.UNKNOWN) | Q(
        pk__in=_stale_pending(PayoutLink, stale).filter(created_at__gt=key_alive).values("pk")
    )
    for link_id in PayoutLink.objects.filter(in_doubt).values_list("pk", flat=True):
        pending = PayoutLink.objects.get(pk=link_id).status == PayoutLink.Status.PENDING
        try:
            if pending:
                link = payout_links.payout_link_push(payout_link_id=link_id, actor=actor, queue_when_unreachable=False)
            else:
                link = payout_links.payout_link_refresh(
                    payout_link_id=link_id, actor=actor, source=AuditEvent.Source.RECONCILE
                )
        except DotsCallError as exc:
            settling.still_in_doubt.append(f"Payout link #{link_id}: still unknown ({exc})")
            continue
        if pending:
            settling.settled.append(f"{link}: pending -> {link.status} (sent again with its key)")
        elif link.status != PayoutLink.Status.UNKNOWN:
            settling.settled.append(f"{link}: unknown -> {link.status}")
    return settling


# --- payout requests --------------------------------------------------------------------------------------


def find_payout_request_disagreements() -> Iterator[Finding]:
    return compare_listing(
        what="the payout requests",
        listing=client().iter_payout_requests,
        local_rows=lambda ids: PayoutRequest.objects.filter(dots_id__in=ids).values_list(
            "pk", "dots_id", "status", "amount_cents"
        ),
        linked_rows=lambda: (
            PayoutRequest.objects.filter(dots_id__isnull=False)
            .values_list("pk", "dots_id", "status")
            .iterator(chunk_size=2000)
        ),
        only_in_dots=_request_only_in_dots,
        only_here=lambda row: Finding(
            record_type="payout_request",
            kind="missing_in_dots",
            label=f"Payout request #{row[0]}",
            local_id=row[0],
            dots_id=row[1],
            local_value=row[2],
            dots_value="(none)",
            detail="Adopting marks it rejected here (Dots has no such request).",
        ),
        on_both=lambda row, request: _compare("payout_request", f"Payout request #{row[0]}", row, request),
    )


def _request_only_in_dots(request) -> Finding | None:
    # Ours whose create answer was lost carries our key: the in-doubt step links it.
    metadata = request.metadata if isinstance(request.metadata, dict) else {}
    if (
        metadata.get("ledgerline_key")
        and PayoutRequest.objects.filter(
            idempotency_key=metadata["ledgerline_key"], status=PayoutRequest.Status.UNKNOWN
        ).exists()
    ):
        return None
    return Finding(
        record_type="payout_request",
        kind="missing_locally",
        label=f"Dots payout request {request.id}",
        local_id=None,
        dots_id=request.id,
        local_value="(none)",
        dots_value=request.status or "",
        detail="Adopting records it here, as Dots shows it.",
    )


def adopt_payout_request(*, discrepancy, actor: User) -> str:
    if discrepancy.kind == "missing_locally":
        data = _read_request(discrepancy.dots_id)
        if data is None:
            raise DomainError(f"Dots no longer has payout request {discrepancy.dots_id}; nothing to adopt.")
        with transaction.atomic():
            if PayoutRequest.objects.filter(dots_id=data.id).exists():
                raise DomainError(f"Payout request {data.id} is already recorded here.")
            request = PayoutRequest.objects.create(
                amount_cents=data.amount or 0,
                status=PayoutRequest.Status.CREATED,
                dots_id=data.id,
                created_by=audit.system_user(),
                request_body={"adopted_from_dots": data.id},
                memo=(data.memo or "")[:500],
            )
            audit.record(
                actor=actor,
                action="payout_request.adopted_from_dots",
                target=request,
                source=AuditEvent.Source.RECONCILE,
                after={"dots_id": data.id},
                reason="Created here from Dots (it was missing here)",
            )
        request = payout_requests.store_request_state(
            request.pk, data, actor, source=AuditEvent.Source.RECONCILE, adopting=True
        )
        return f"{request}: recorded here from Dots ({request.status})"
    request = PayoutRequest.objects.get(pk=discrepancy.local_id)
    data = _read_request(request.dots_id)
    if data is None:
        if discrepancy.kind != "missing_in_dots":
            raise DomainError(f"{request}: Dots no longer has it; run reconciliation again.")
        with transaction.atomic():
            before = request.status
            PayoutRequest.objects.filter(pk=request.pk).update(
                status=PayoutRequest.Status.REJECTED, last_dots_error="Dots has no such payout request (reconciliation)"
            )
            audit.record(
                actor=actor,
                action="payout_request.adopted_from_dots",
                target=request,
                source=AuditEvent.Source.RECONCILE,
                before={"status": before},
                after={"status": PayoutRequest.Status.REJECTED},
                reason="Dots has no such payout request",
            )
        return f"{request}: {before} -> rejected"
    if discrepancy.kind == "missing_in_dots":
        raise DomainError(f"{request}: Dots has it again; nothing to adopt. Run reconciliation again.")
    with transaction.atomic():
        before = {"status": request.status, "amount_cents": request.amount_cents}
        if discrepancy.kind == "amount":
            PayoutRequest.objects.filter(pk=request.pk).update(amount_cents=data.amount)
        request.refresh_from_db()
        after_amount = {"status": request.status, "amount_cents": request.amount_cents}
        if discrepancy.kind == "amount":
            audit.record(
                actor=actor,
                action="payout_request.adopted_from_dots",
                target=request,
                source=AuditEvent.Source.RECONCILE,
                before=before,
                after=after_amount,
                reason="Dots' amount adopted (reconciliation report)",
            )
    if discrepancy.kind == "status":
        request = payout_requests.store_request_state(
            request.pk,
            data,
            actor,
            action="payout_request.adopted_from_dots",
            source=AuditEvent.Source.RECONCILE,
            adopting=True,
        )
    return (
        f"{request}: status {before['status']} -> {request.status}, amount {before['amount_cents']} -> "
        f"{request.amount_cents}"
    )


def _read_request(dots_id: str) -> DotsPayoutRequest | None:
    try:
        with dots_call("read the payout request"):
            return client().retrieve_payout_request(payout_request_id=dots_id)
    except DotsRejected as exc:
        if is_not_found(exc):
            return None
        raise


def resolve_payout_requests_in_doubt(*, actor: User) -> Settling:
    settling = Settling()
    stale = timezone.now() - dt.timedelta(seconds=settings.PAY_REQUEST_STALE_SECONDS)
    # A stale pending request may have reached Dots before its worker died: Dots takes no key for
    # requests, so treat it as unknown, which looks for our key in Dots before sending again.
    for request in _stale_pending(PayoutRequest, stale):
        with transaction.atomic():
            if PayoutRequest.objects.filter(pk=request.pk, status=PayoutRequest.Status.PENDING).update(
                status=PayoutRequest.Status.UNKNOWN
            ):
                audit.record(
                    actor=actor,
                    action="payout_request.outcome_unknown",
                    target=request,
                    source=AuditEvent.Source.RECONCILE,
                    before={"status": "pending"},
                    after={"status": "unknown"},
                    reason="Its send was interrupted: looking for it in Dots",
                )
    for request_id in PayoutRequest.objects.filter(status=PayoutRequest.Status.UNKNOWN).values_list("pk", flat=True):
        try:
            request = payout_requests.payout_request_refresh(
                payout_request_id=request_id, actor=actor, source=AuditEvent.Source.RECONCILE
            )
        except DotsCallError as exc:
            settling.still_in_doubt.append(f"Payout request #{request_id}: still unknown ({exc})")
            continue
        if request.status != PayoutRequest.Status.UNKNOWN:
            settling.settled.append(f"{request}: unknown -> {request.status}")
    return settling


# --- payees: a user one side has and the other lacks ------------------------------------------------------


def find_payee_disagreements() -> Iterator[Finding]:
    return compare_listing(
        what="the users",
        listing=client().iter_users,
        local_rows=lambda ids: Payee.objects.filter(dots_user_id__in=ids).values_list("pk", "dots_user_id"),
        linked_rows=lambda: (
            Payee.objects.filter(dots_user_id__isnull=False)
            .values_list("pk", "dots_user_id", "first_name", "last_name")
            .iterator(chunk_size=2000)
        ),
        only_in_dots=lambda user: Finding(
            record_type="payee",
            kind="missing_locally",
            label=f"Dots user {' '.join(filter(None, [user.first_name, user.last_name])) or user.id}",
            local_id=None,
            dots_id=user.id,
            local_value="(none)",
            dots_value=user.status or "",
            detail="Adopting adds the user as a payee here.",
        ),
        only_here=lambda row: Finding(
            record_type="payee",
            kind="missing_in_dots",
            label=f"Payee {row[2]} {row[3]} (#{row[0]})",
            local_id=row[0],
            dots_id=row[1],
            local_value="in Dots",
            dots_value="(none)",
            detail="Adopting marks the payee as no longer in Dots (it keeps its history here).",
        ),
    )


def adopt_payee(*, discrepancy, actor: User) -> str:
    if discrepancy.kind == "missing_in_dots":
        payee = Payee.objects.get(pk=discrepancy.local_id)
        with transaction.atomic():
            before = {"dots_status": payee.dots_status}
            Payee.objects.filter(pk=payee.pk).update(
                dots_status="deleted", last_dots_error="Dots has no such user (reconciliation)"
            )
            audit.record(
                actor=actor,
                action="payee.adopted_from_dots",
                target=payee,
                source=AuditEvent.Source.RECONCILE,
                before=before,
                after={"dots_status": "deleted"},
                reason="Dots has no such user",
            )
        return f"{payee}: marked as no longer in Dots"
    with dots_call("read the user"):
        user = client().retrieve_user(user_id=discrepancy.dots_id)
    phone = user.phone_number or {}
    e164 = f"+{phone.get('country_code', '')}{phone.get('phone_number', '')}" if phone else ""
    if not e164 or Payee.objects.filter(phone_e164=e164).exists():
        raise DomainError(
            f"Dots user {discrepancy.dots_id}: no phone number, or a payee here already has {e164}; link them by hand."
        )
    with transaction.atomic():
        payee = Payee.objects.create(
            first_name=user.first_name or "",
            last_name=user.last_name or "",
            email=user.email or "",
            phone_e164=e164,
            dots_user_id=user.id,
            linked_existing=True,
            created_by=audit.system_user(),
            **payees.payee_fields_from_dots(user),
        )
        audit.record(
            actor=actor,
            action="payee.adopted_from_dots",
            target=payee,
            source=AuditEvent.Source.RECONCILE,
            after={"dots_user_id": user.id, "dots_status": payee.dots_status},
            reason="Created here from Dots (it was missing here)",
        )
    return f"{payee}: added from Dots"


PAYOUT_LINK_CHECK = RecordCheck(
    label="payout links",
    model="payouts.payoutlink",
    find=find_payout_link_disagreements,
    adopt=adopt_payout_link,
    resolve_in_doubt=resolve_payout_links_in_doubt,
)
PAYOUT_REQUEST_CHECK = RecordCheck(
    label="payout requests",
    model="payouts.payoutrequest",
    find=find_payout_request_disagreements,
    adopt=adopt_payout_request,
    resolve_in_doubt=resolve_payout_requests_in_doubt,
)
PAYEE_CHECK = RecordCheck(label="payees", model="payouts.payee", find=find_payee_disagreements, adopt=adopt_payee)
