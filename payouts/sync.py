"""The payouts app's steps of the sync with Dots (declared in payouts/seam.py).

Each reads one kind of record from Dots and adopts what Dots changed on its own (audited
as the system user, source "sync").
"""

from django.contrib.auth.models import User
from django.db.models import Q

from core.dots_gateway import client
from core.models import AuditEvent
from core.sync_report import SyncReport
from core.sync_runner import Followed, follow
from payouts.models import PayeePayout, PayeeTransfer, PayoutBatch, PayoutBatchItem, PayoutLink, PayoutRequest
from payouts.services import payee_payouts, payee_transfers, payout_batches, payout_links, payout_requests

SYNC = AuditEvent.Source.SYNC


def payout_requests_step(*, actor: User, full: bool = False) -> SyncReport:
    return follow(
        Followed(
            name="payout requests",
            label="Payout request",
            rows=PayoutRequest.objects.filter(status=PayoutRequest.Status.CREATED),
            refresh=lambda pk: payout_requests.payout_request_refresh(payout_request_id=pk, actor=actor, source=SYNC),
            read=lambda row: client().retrieve_payout_request(payout_request_id=row.dots_id) if row.dots_id else None,
            apply=lambda row, answer: payout_requests.payout_request_adopt(
                payout_request_id=row.pk, answer=answer, actor=actor, source=SYNC, seen=row
            ),
            what="read the payout request",
        )
    )


def payout_links_step(*, actor: User, full: bool = False) -> SyncReport:
    S = PayoutLink.Status
    # Not yet claimed: Dots may still deliver, claim, expire or cancel them (a claimed link's money
    # is followed through its transfer).
    waiting = [S.CREATED, S.DELIVERY_PENDING, S.DELIVERY_FAILED, S.SENT, S.DELIVERED]
    return follow(
        Followed(
            name="payout links",
            label="Payout link",
            rows=PayoutLink.objects.filter(status__in=waiting, dots_id__isnull=False),
            refresh=lambda pk: payout_links.payout_link_refresh(payout_link_id=pk, actor=actor, source=SYNC),
            read=lambda row: client().retrieve_payout_link(payout_link_id=row.dots_id),
            apply=lambda row, answer: payout_links.payout_link_adopt(
                payout_link_id=row.pk, answer=answer, actor=actor, source=SYNC, seen=row
            ),
            what="read the payout link",
        )
    )


def transfers_step(*, actor: User, full: bool = False) -> SyncReport:
    """New transfers (every transfer with `full`), then open ones re-read."""
    from payouts.transfers import transfers_sync

    result = transfers_sync(actor=actor, full=full)
    return SyncReport("transfers", checked=result.seen, changes=list(result.lines), errors=list(result.errors))


def payees_step(*, actor: User, full: bool = False) -> SyncReport:
    from payouts.reconcile import payees_sync

    return payees_sync(actor=actor, source=SYNC)


def payee_transfers_step(*, actor: User, full: bool = False) -> SyncReport:
    """Transfers to payees still moving, and those unsent or unanswered (sent again with their key)."""
    S = PayeeTransfer.Status
    return follow(
        Followed(
            name="transfers to payees",
            label="Transfer to a payee",
            rows=PayeeTransfer.objects.filter(status__in=[S.TO_SEND, S.UNKNOWN, S.CREATED, S.PENDING]),
            refresh=lambda pk: payee_transfers.transfer_refresh(transfer_id=pk, actor=actor, source=SYNC),
            read=payee_transfers.transfer_read,
            apply=lambda row, answer: payee_transfers.transfer_adopt(
                transfer_id=row.pk, answer=answer, actor=actor, source=SYNC
            ),
            what="read the transfer to the payee",
        )
    )


def payee_payouts_step(*, actor: User, full: bool = False) -> SyncReport:
    """Payouts from payees' wallets still moving (to paid or failed, with Dots' reason), and those unsent
    or unanswered (sent again with their key, which finds the payout the first call made)."""
    return follow(
        Followed(
            name="payouts from payees' wallets",
            label="Payout from a payee's wallet",
            rows=PayeePayout.objects.filter(status__in=PayeePayout.OPEN),
            refresh=lambda pk: payee_payouts.payout_refresh(payout_id=pk, actor=actor, source=SYNC),
            what="read the payout from the payee's wallet",
        )
    )


def payout_batches_step(*, actor: User, full: bool = False) -> SyncReport:
    """Batches unsent or unanswered (sent again with their keys), and those whose batch or items still move."""
    S = PayoutBatch.Status
    moving_items = PayoutBatchItem.objects.filter(status__in=PayoutBatchItem.MOVING).values("batch_id")
    open_ones = PayoutBatch.objects.filter(
        Q(status__in=[S.TO_SEND, S.UNKNOWN, S.CREATED, S.PROCESSING, S.PAYING_OUT])
        | Q(pk__in=moving_items)
        | Q(dots_batch_id__isnull=False, results_read_at__isnull=True)
    )
    return follow(
        Followed(
            name="payout batches",
            label="Payout batch",
            rows=open_ones,
            refresh=lambda pk: payout_batches.batch_refresh(batch_id=pk, actor=actor, source=SYNC),
            what="read the payout batch",
        )
    )
