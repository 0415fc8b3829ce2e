"""Money moved for payees compared with Dots (the reconciliation report), and what is in doubt settled.

- Transfers to payees and payouts from their wallets (core.keyed_send): status and amount against
  Dots' transfer; one whose answer was lost is sent again with its stored key (Dots answers with
  the first, never a second).
- Payout batches: Dots' list of batches against ours (status; a batch either side lacks); one whose
  answer was lost is sent again with its keys, and Dots pays no item twice.
"""

from collections.abc import Iterator

from django.contrib.auth.models import User

from core.compare import compare_listing
from core.dots_gateway import client
from core.errors import DomainError, DotsCallError
from core.findings import Finding, RecordCheck, Settling
from core.models import AuditEvent
from payouts.models import PayoutBatch
from payouts.services import payee_payouts, payee_transfers, payout_batches

# --- transfers to payees: status and amount against Dots' transfer; those in doubt resent with their key ---

PAYEE_TRANSFER_CHECK = payee_transfers.KEYED.record_check(
    record_type="payee_transfer",
    label="transfers to payees",
    noun="Transfer to a payee",
    doing="read the transfer to the payee",
    refresh=lambda pk, actor, source: payee_transfers.transfer_refresh(transfer_id=pk, actor=actor, source=source),
)

PAYEE_PAYOUT_CHECK = payee_payouts.KEYED.record_check(
    record_type="payee_payout",
    label="payouts from payees' wallets",
    noun="Payout from a payee's wallet",
    doing="read the payout from the payee's wallet",
    refresh=lambda pk, actor, source: payee_payouts.payout_refresh(payout_id=pk, actor=actor, source=source),
)


# --- payout batches: Dots' list of batches against ours; those in doubt resent with their keys ----------------


def _batch_finding(kind: str, *, label: str, local_id: int | None, dots_id: str, here: str, there: str, detail: str):
    return Finding(
        record_type="payout_batch",
        kind=kind,
        label=label,
        local_id=local_id,
        dots_id=dots_id,
        local_value=here,
        dots_value=there,
        detail=detail,
    )


def find_payout_batch_disagreements() -> Iterator[Finding]:
    def local_rows(ids: list[str]):
        return PayoutBatch.objects.filter(dots_batch_id__in=ids).values_list("pk", "dots_batch_id", "status")

    def on_both(row, remote):
        status = remote.status
        if status and status != row[2]:
            yield _batch_finding(
                "status",
                label=f"Payout batch #{row[0]}",
                local_id=row[0],
                dots_id=row[1],
                here=row[2],
                there=status,
                detail="Adopting reads the batch and each payee's outcome from Dots again.",
            )

    return compare_listing(
        what="the payout batches",
        listing=lambda: (payout_batches.BatchAnswer.of(b.raw) for b in client().iter_payout_batches()),
        local_rows=local_rows,
        linked_rows=lambda: (
            PayoutBatch.objects.filter(dots_batch_id__isnull=False)
            .values_list("pk", "dots_batch_id", "status")
            .iterator(chunk_size=500)
        ),
        only_in_dots=lambda remote: _batch_finding(
            "missing_locally",
            label=f"Payout batch {remote.id} in Dots",
            local_id=None,
            dots_id=str(remote.id),
            here="",
            there=str(remote.status or ""),
            detail="Dots has a payout batch Ledgerline did not send: look at it in Dots' dashboard.",
        ),
        only_here=lambda row: _batch_finding(
            "missing_in_dots",
            label=f"Payout batch #{row[0]}",
            local_id=row[0],
            dots_id=row[1],
            here=row[2],
            there="",
            detail="Dots does not list this batch.",
        ),
        on_both=on_both,
    )


def adopt_payout_batch(*, discrepancy, actor: User) -> str:
    if discrepancy.kind != "status" or discrepancy.local_id is None:
        raise DomainError("Nothing here can take Dots' state for this batch: look at it in Dots' dashboard.")
    batch = payout_batches.batch_read_results(
        batch_id=discrepancy.local_id, actor=actor, source=AuditEvent.Source.RECONCILE
    )
    return f"{batch}: now {batch.get_status_display().lower()}, as in Dots ({payout_batches.outcome_summary(batch)})"


def resolve_payout_batches_in_doubt(*, actor: User) -> Settling:
    settling = Settling()
    doubtful = PayoutBatch.objects.filter(
        dots_batch_id__isnull=True, status__in=[PayoutBatch.Status.UNKNOWN, PayoutBatch.Status.TO_SEND]
    )
    for pk, before in doubtful.order_by("pk").values_list("pk", "status"):
        try:
            after = payout_batches.batch_refresh(batch_id=pk, actor=actor, source=AuditEvent.Source.RECONCILE)
        except DotsCallError as exc:
            settling.still_in_doubt.append(f"Payout batch #{pk}: {exc}")
            continue
        if after.dots_batch_id:
            settling.settled.append(f"{after}: {before} -> {after.status} (sent again with its keys)")
    return settling


PAYOUT_BATCH_CHECK = RecordCheck(
    label="payout batches",
    model="payouts.payoutbatch",
    find=find_payout_batch_disagreements,
    adopt=adopt_payout_batch,
    resolve_in_doubt=resolve_payout_batches_in_doubt,
)
