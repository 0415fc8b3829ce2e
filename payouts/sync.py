"""The payouts app's steps of the sync with Dots (declared in payouts/seam.py).

Each reads one kind of record from Dots and adopts what Dots changed on its own (audited
as the system user, source "sync").
"""

from django.contrib.auth.models import User
from django.db.models import Q

from core.models import AuditEvent
from core.sync_report import SyncReport, refresh_each
from payouts.models import PayeePayout, PayeeTransfer, PayoutBatch, PayoutBatchItem, PayoutLink, PayoutRequest
from payouts.services import payee_payouts, payee_transfers, payout_batches, payout_links, payout_requests

SYNC = AuditEvent.Source.SYNC


def payout_requests_step(*, actor: User, full: bool = False) -> SyncReport:
    open_requests = PayoutRequest.objects.filter(status=PayoutRequest.Status.CREATED)
    return refresh_each(
        "payout requests",
        list(open_requests.order_by("pk").values_list("pk", "status")),
        lambda pk: payout_requests.payout_request_refresh(payout_request_id=pk, actor=actor, source=SYNC),
        label="Payout request",
    )


def payout_links_step(*, actor: User, full: bool = False) -> SyncReport:
    S = PayoutLink.Status
    # Not yet claimed: Dots may still deliver, claim, expire or cancel them (a claimed link's money
    # is followed through its transfer).
    waiting = [S.CREATED, S.DELIVERY_PENDING, S.DELIVERY_FAILED, S.SENT, S.DELIVERED]
    open_links = PayoutLink.objects.filter(status__in=waiting, dots_id__isnull=False)
    return refresh_each(
        "payout links",
        list(open_links.order_by("pk").values_list("pk", "status")),
        lambda pk: payout_links.payout_link_refresh(payout_link_id=pk, actor=actor, source=SYNC),
        label="Payout link",
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
    open_ones = PayeeTransfer.objects.filter(status__in=[S.TO_SEND, S.UNKNOWN, S.CREATED, S.PENDING])
    return refresh_each(
        "transfers to payees",
        list(open_ones.order_by("pk").values_list("pk", "status")),
        lambda pk: payee_transfers.transfer_refresh(transfer_id=pk, actor=actor, source=SYNC),
        label="Transfer to a payee",
    )


def payee_payouts_step(*, actor: User, full: bool = False) -> SyncReport:
    """Payouts from payees' wallets still moving (to paid or failed, with Dots' reason), and those unsent
    or unanswered (sent again with their key, which finds the payout the first call made)."""
    open_ones = PayeePayout.objects.filter(status__in=PayeePayout.OPEN)
    return refresh_each(
        "payouts from payees' wallets",
        list(open_ones.order_by("pk").values_list("pk", "status")),
        lambda pk: payee_payouts.payout_refresh(payout_id=pk, actor=actor, source=SYNC),
        label="Payout from a payee's wallet",
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
    return refresh_each(
        "payout batches",
        list(open_ones.order_by("pk").values_list("pk", "status")),
        lambda pk: payout_batches.batch_refresh(batch_id=pk, actor=actor, source=SYNC),
        label="Payout batch",
    )
