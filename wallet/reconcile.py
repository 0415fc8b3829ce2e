"""Deposits and withdrawals compared with Dots (the reconciliation report), and those in doubt settled.

Wallet transfers are few (people ask for each), so each one Dots has is read by its id.
Settling a transfer in doubt resends it with its own key: Dots answers with the transfer
the first call made, if any, and makes it otherwise; never a second one.
"""

from collections.abc import Iterator

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.errors import DomainError, DotsCallError
from core.findings import Finding, RecordCheck, Settling, status_and_amount_findings
from core.models import AuditEvent
from wallet import transfers
from wallet.models import WalletTransfer

RECORD_TYPE = "wallet_transfer"


def find_transfer_disagreements() -> Iterator[Finding]:
    rows = WalletTransfer.objects.filter(dots_transfer_id__isnull=False).order_by("pk")
    for transfer in rows.iterator(chunk_size=500):
        with dots_call("read the deposit or withdrawal"):
            remote = client().retrieve_transfer(transfer_id=transfer.dots_transfer_id)
        yield from status_and_amount_findings(
            record_type=RECORD_TYPE,
            label=str(transfer),
            local_id=transfer.pk,
            dots_id=transfer.dots_transfer_id,
            local_status=transfer.status,
            local_amount=transfer.amount_cents,
            dots_obj=remote,
        )


def adopt_transfer(*, discrepancy, actor: User) -> str:
    transfer = WalletTransfer.objects.get(pk=discrepancy.local_id)
    with dots_call("read the deposit or withdrawal"):
        remote = client().retrieve_transfer(transfer_id=transfer.dots_transfer_id)
    with transaction.atomic():
        transfer = WalletTransfer.objects.select_for_update().get(pk=transfer.pk)
        before = {"status": transfer.status, "amount_cents": transfer.amount_cents}
        if remote.status is None:
            raise DomainError(f"{transfer}: Dots answered no status; nothing to adopt.")
        transfer.status = remote.status
        if remote.amount is not None:
            transfer.amount_cents = remote.amount
        if remote.status == WalletTransfer.Status.FAILED:
            transfer.failure_reason = str(remote.raw.get("failure_reason") or "")[:500]
        transfer.timeline = [*transfer.timeline, {"status": remote.status, "seen_at": timezone.now().isoformat()}]
        transfer.save()
        audit.record(
            actor=actor,
            action="wallet_transfer.status_changed",
            target=transfer,
            source=AuditEvent.Source.RECONCILE,
            before=before,
            after={"status": transfer.status, "amount_cents": transfer.amount_cents},
            reason="Dots' state adopted",
        )
    return f"{transfer}: now {transfer.get_status_display().lower()}, as in Dots"


def resolve_transfers_in_doubt(*, actor: User) -> Settling:
    settling = Settling()
    doubtful = WalletTransfer.objects.filter(
        dots_transfer_id__isnull=True, status__in=[WalletTransfer.Status.UNKNOWN, WalletTransfer.Status.TO_SEND]
    )
    for pk, before in doubtful.order_by("pk").values_list("pk", "status"):
        try:
            after = transfers.transfer_refresh(transfer_id=pk, actor=actor, source=AuditEvent.Source.RECONCILE)
        except DotsCallError as exc:
            settling.still_in_doubt.append(f"Deposit or withdrawal #{pk}: {exc}")
            continue
        if after.dots_transfer_id:
            settling.settled.append(f"{after}: {before} -> {after.status} (found in Dots by its key)")
    return settling


TRANSFER_CHECK = RecordCheck(
    label="app deposits and withdrawals",
    model="wallet.wallettransfer",
    find=find_transfer_disagreements,
    adopt=adopt_transfer,
    resolve_in_doubt=resolve_transfers_in_doubt,
)
