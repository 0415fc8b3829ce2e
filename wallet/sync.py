"""The wallet app's steps of the sync with Dots (declared in wallet/seam.py): apps and their transfers."""

from django.contrib.auth.models import User

from core.models import AuditEvent
from core.sync_report import SyncReport
from core.sync_runner import Followed, follow
from wallet import apps_service, transfers
from wallet.models import WalletTransfer

SYNC = AuditEvent.Source.SYNC


def apps_step(*, actor: User, full: bool = False) -> SyncReport:
    return apps_service.apps_read_from_dots(actor=actor, source=SYNC)


def transfers_step(*, actor: User, full: bool = False) -> SyncReport:
    """Open deposits and withdrawals followed to completed or failed; one left half-sent is sent again
    with its own key (which finds the transfer the first call made)."""
    open_rows = WalletTransfer.objects.filter(status__in=WalletTransfer.OPEN)
    return follow(
        Followed(
            name="app deposits and withdrawals",
            label="Deposit or withdrawal",
            rows=open_rows,
            refresh=lambda pk: transfers.transfer_refresh(transfer_id=pk, actor=actor, source=SYNC),
        )
    )
