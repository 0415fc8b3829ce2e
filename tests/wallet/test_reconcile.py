"""Deposits and withdrawals in the reconciliation report; those in doubt settled by their key."""

import pytest

from core.audit import system_user
from core.errors import DotsOutcomeUnknownError
from reconciliation import services
from reconciliation.models import Discrepancy
from wallet import transfers
from wallet.models import WalletTransfer

pytestmark = pytest.mark.django_db
S = WalletTransfer.Status


def test_a_status_drift_is_reported_and_an_administrator_adopts_dots_state(dots, verified_account, team):
    transfer = transfers.transfer_request(
        actor=team.payer, app_id=verified_account.app.pk, kind="deposit", amount_cents=9_000
    )
    transfers.transfer_send(transfer_id=transfer.pk, actor=team.payer, queue=False)
    WalletTransfer.objects.filter(pk=transfer.pk).update(status=S.FAILED)

    services.reconcile_all(actor=system_user(), record_types=["wallet_transfer"])

    row = Discrepancy.objects.get(record_type="wallet_transfer", resolution="")
    assert (row.kind, row.local_value, row.dots_value, row.local_id) == ("status", "failed", "created", transfer.pk)
    services.discrepancy_adopt(discrepancy_id=row.pk, actor=team.admin)
    transfer.refresh_from_db()
    assert transfer.status == S.CREATED


def test_reconciliation_settles_a_transfer_whose_answer_was_lost_with_one_transfer_in_dots(
    dots, verified_account, team
):
    transfer = transfers.transfer_request(
        actor=team.payer, app_id=verified_account.app.pk, kind="deposit", amount_cents=9_000
    )
    dots.add_fault(method="POST", path="/v2/apps/*/deposit", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        transfers.transfer_send(transfer_id=transfer.pk, actor=team.payer, queue=False)
    dots.control("faults/clear")

    result = services.reconcile_all(actor=system_user(), record_types=["wallet_transfer"])

    transfer.refresh_from_db()
    assert transfer.status == S.CREATED and transfer.dots_transfer_id
    assert any("found in Dots by its key" in line for line in result.settled)
    keys = {r["body"]["idempotency_key"] for r in dots.received("POST", "/v2/apps/*/deposit")}
    assert keys == {str(transfer.idempotency_key)}
