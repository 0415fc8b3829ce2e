"""Deposits and withdrawals: a second Payer above the threshold, sent once, followed to their end."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import roles
from core.audit import system_user
from core.errors import DotsOutcomeUnknownError, DotsRejected, InvalidTransition, SegregationOfDutiesViolation
from core.models import AuditEvent
from dots.client import DotsClient
from tests.support import make_user
from wallet import ach_accounts, sync, transfers
from wallet.errors import NoVerifiedAccount
from wallet.models import WalletTransfer

pytestmark = pytest.mark.django_db
S = WalletTransfer.Status
DEPOSIT, WITHDRAWAL = WalletTransfer.Kind.DEPOSIT, WalletTransfer.Kind.WITHDRAWAL


def _dots_transfers(dots) -> list[dict]:
    remote = DotsClient(dots.base_url, dots.client_id, dots.api_key)
    return [t.raw for t in remote.iter_transfers() if t.type in ("refill", "settlement")]


def _ask(app, actor, cents, kind=DEPOSIT, capture=None):
    if capture is None:
        return transfers.transfer_request(actor=actor, app_id=app.pk, kind=kind, amount_cents=cents)
    with capture(execute=True):
        return transfers.transfer_request(actor=actor, app_id=app.pk, kind=kind, amount_cents=cents)


def _balance(dots, app):
    return DotsClient(dots.base_url, dots.client_id, dots.api_key).retrieve_app(app_id=app.dots_app_id)


def test_a_small_deposit_is_sent_at_once_and_followed_to_completed(
    dots, verified_account, team, django_capture_on_commit_callbacks
):
    app = verified_account.app
    before = _balance(dots, app).wallet_balance_cents
    transfer = _ask(app, team.payer, 50_000, capture=django_capture_on_commit_callbacks)
    transfer.refresh_from_db()
    assert transfer.status == S.CREATED and transfer.dots_transfer_id
    sent = dots.received("POST", f"/v2/apps/{app.dots_app_id}/deposit")
    assert len(sent) == 1 and sent[0]["body"]["idempotency_key"] == str(transfer.idempotency_key)

    dots.control(f"transfers/{transfer.dots_transfer_id}/advance", {"status": "completed"})
    report = sync.transfers_step(actor=system_user())

    transfer.refresh_from_db()
    assert transfer.status == S.COMPLETED, report
    assert _balance(dots, app).wallet_balance_cents == before + 50_000
    assert AuditEvent.objects.filter(action="wallet_transfer.status_changed", object_id=str(transfer.pk)).exists()


def test_above_the_threshold_a_second_payer_approves_before_anything_is_sent(
    dots, verified_account, team, django_capture_on_commit_callbacks
):
    app = verified_account.app
    transfer = _ask(app, team.payer, 2_500_000, capture=django_capture_on_commit_callbacks)
    assert transfer.status == S.AWAITING_APPROVAL and transfer.needs_second_approval
    assert dots.received("POST", "/v2/apps/*/deposit") == []

    with pytest.raises(SegregationOfDutiesViolation):
        transfers.transfer_approve(actor=team.payer, transfer_id=transfer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        transfers.transfer_approve(actor=team.payer2, transfer_id=transfer.pk, note="checked the invoice")

    transfer.refresh_from_db()
    assert transfer.status == S.CREATED and transfer.decided_by == team.payer2
    assert len(dots.received("POST", "/v2/apps/*/deposit")) == 1
    approved = AuditEvent.objects.get(action="wallet_transfer.approved")
    assert approved.actor_id == team.payer2.pk and approved.reason == "checked the invoice"


def test_the_threshold_comes_from_the_setting(dots, verified_account, team, settings):
    settings.WALLET_SECOND_APPROVAL_CENTS = 100
    assert _ask(verified_account.app, team.payer, 101).status == S.AWAITING_APPROVAL
    assert _ask(verified_account.app, team.payer, 100).status == S.TO_SEND


def test_a_superuser_payer_never_approves_their_own_request(dots, verified_account):
    root = make_user("root-payer", is_superuser=True, role=roles.PAYER)
    transfer = _ask(verified_account.app, root, 2_000_000)
    with pytest.raises(SegregationOfDutiesViolation):
        transfers.transfer_approve(actor=root, transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == S.AWAITING_APPROVAL and transfer.decided_by is None


def test_only_a_person_with_the_payer_role_approves_superusers_included(dots, verified_account, team):
    transfer = _ask(verified_account.app, team.payer, 2_000_000)
    root = make_user("root", is_superuser=True)
    with pytest.raises(SegregationOfDutiesViolation):
        transfers.transfer_approve(actor=root, transfer_id=transfer.pk)


def test_a_rejected_request_is_never_sent_and_cannot_be_approved_after(dots, verified_account, team):
    transfer = _ask(verified_account.app, team.payer, 2_000_000)
    transfers.transfer_reject(actor=team.payer2, transfer_id=transfer.pk, reason="not budgeted")
    with pytest.raises(InvalidTransition):
        transfers.transfer_approve(actor=make_user("p3", role=roles.PAYER), transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == S.REJECTED
    assert dots.received("POST", "/v2/apps/*/deposit") == []


def test_no_money_moves_before_the_bank_account_is_verified(dots, wallet_app, team):
    ach_accounts.ach_account_add(
        actor=team.admin,
        app_id=wallet_app.pk,
        holder_name="Ledgerline Inc",
        routing_number="021000021",
        account_number="000111222333",
        account_type="checking",
    )
    with pytest.raises(NoVerifiedAccount):
        _ask(wallet_app, team.payer, 1_000)
    assert not WalletTransfer.objects.exists()


def test_a_lost_answer_is_sent_again_with_the_same_key_and_dots_makes_one_transfer(dots, verified_account, team):
    app = verified_account.app
    transfer = _ask(app, team.payer, 70_000)
    dots.add_fault(method="POST", path=f"/v2/apps/{app.dots_app_id}/deposit", kind="drop", count=1)
    transfers.transfer_send(transfer_id=transfer.pk, actor=team.payer, queue=False)
    transfer.refresh_from_db()
    assert [t["id"] for t in _dots_transfers(dots)] == [transfer.dots_transfer_id]
    sent = dots.received("POST", f"/v2/apps/{app.dots_app_id}/deposit")
    assert len(sent) == 2 and {s["body"]["idempotency_key"] for s in sent} == {str(transfer.idempotency_key)}


def test_answers_lost_every_time_leave_it_unknown_and_the_sync_finds_the_one_transfer_by_its_key(
    dots, verified_account, team
):
    app = verified_account.app
    transfer = _ask(app, team.payer, 70_000)
    dots.add_fault(method="POST", path=f"/v2/apps/{app.dots_app_id}/deposit", kind="drop", count=10)
    with pytest.raises(DotsOutcomeUnknownError):
        transfers.transfer_send(transfer_id=transfer.pk, actor=team.payer, queue=False)
    transfer.refresh_from_db()
    assert transfer.status == S.UNKNOWN and transfer.dots_transfer_id is None
    dots.control("faults/clear")

    sync.transfers_step(actor=system_user())

    transfer.refresh_from_db()
    in_dots = _dots_transfers(dots)
    assert [t["id"] for t in in_dots] == [transfer.dots_transfer_id]
    assert transfer.status == S.CREATED
    sent = dots.received("POST", f"/v2/apps/{app.dots_app_id}/deposit")
    assert {s["body"]["idempotency_key"] for s in sent} == {str(transfer.idempotency_key)}


def test_a_failed_deposit_shows_dots_reason(dots, verified_account, team):
    transfer = _ask(verified_account.app, team.payer, 10_000)
    transfers.transfer_send(transfer_id=transfer.pk, actor=team.payer, queue=False)
    transfer.refresh_from_db()
    dots.control(f"transfers/{transfer.dots_transfer_id}/advance", {"status": "failed", "reason": "R01"})
    sync.transfers_step(actor=system_user())
    transfer.refresh_from_db()
    assert (transfer.status, transfer.failure_reason) == (S.FAILED, "R01")
    events = AuditEvent.objects.filter(action="wallet_transfer.status_changed", object_id=str(transfer.pk))
    assert events.order_by("-id").first().reason == "R01"


def test_a_withdrawal_dots_refuses_for_short_funds_is_refused_with_the_reason(dots, verified_account, team):
    app = verified_account.app
    dots.control(f"apps/{app.dots_app_id}/balance", {"balance": 100})
    transfer = _ask(app, team.payer, 5_000, kind=WITHDRAWAL)
    with pytest.raises(DotsRejected):
        transfers.transfer_send(transfer_id=transfer.pk, actor=team.payer, queue=False)
    transfer.refresh_from_db()
    assert transfer.status == S.REFUSED and "insufficient" in transfer.last_dots_error.lower()


def test_a_transfer_first_sent_over_23_hours_ago_is_never_sent_again(dots, verified_account, team):
    transfer = _ask(verified_account.app, team.payer, 70_000)
    WalletTransfer.objects.filter(pk=transfer.pk).update(
        status=S.UNKNOWN, sent_at=timezone.now() - timedelta(hours=23, minutes=1)
    )
    sync.transfers_step(actor=system_user())
    transfer.refresh_from_db()
    assert transfer.status == S.UNKNOWN and "forgotten the key" in transfer.last_dots_error
    assert dots.received("POST", "/v2/apps/*/deposit") == []
