"""Every kind of queued Dots action runs as its user, with their permission checked again when it runs.

For each kind an app declares: the user acts during an outage (the action is queued), an
Administrator takes their role away, Dots answers again, the queue runs: the action fails
with the reason, the failure is audited, and nothing reaches Dots.
"""

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from core import action_queue, dots_gateway, registry, roles
from core.errors import ActionQueued
from core.models import AuditEvent, QueuedDotsAction
from payables import drafts
from payables import services as payable_services
from payables.models import Payable
from payouts.models import PayoutLink, PayoutRequest
from payouts.services import payout_links, payout_requests
from tests.outage_support import end_outage, start_outage
from tests.receivables.queue_cases import RECEIVABLES_KINDS, receivables_queued_by_a_clerk
from tests.support import make_user
from vendors import services as vendor_services
from vendors.models import Vendor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outage_settings")]
Q = QueuedDotsAction.Status


def _take_role_away(user, role: str) -> None:
    user.groups.remove(Group.objects.get(name=role))
    # Django caches a user's permissions on the object; the queue loads the user afresh.


def _run_and_expect_refusal(dots, user, *, doing: str) -> QueuedDotsAction:
    """End the outage, run the queue; the one action fails naming what the role no longer allows."""
    action = QueuedDotsAction.objects.get()
    assert action.actor == user and action.status == Q.WAITING
    end_outage(dots)
    before = len(dots.received("POST")) + len(dots.received("PATCH")) + len(dots.received("PUT"))

    result = action_queue.drain()

    assert (result.done, result.failed) == (0, 1)
    action.refresh_from_db()
    assert action.status == Q.FAILED
    assert action.last_error == f"Your role does not allow you to {doing}."
    failed = AuditEvent.objects.get(action="dots_action.failed", object_id=str(action.pk))
    assert failed.reason == action.last_error
    # Nothing reached Dots: no write of any kind after the outage ended.
    assert len(dots.received("POST")) + len(dots.received("PATCH")) + len(dots.received("PUT")) == before
    return action


def _submitted(people, make_payable) -> Payable:
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable.refresh_from_db()
    assert payable.status == Payable.Status.SUBMITTED
    return payable


def test_every_queued_kind_an_app_declares_names_a_permission_and_is_tested_here():
    kinds = set(registry.discover().action_kinds)
    assert kinds == {
        "vendor.send_to_dots",
        "payable.submit",
        "payable.approve",
        "payable.reject",
        "payable.cancel",
        "payable.pay",
        "payout_link.push",
        "payout_request.push",
        "payee_transfer.send",
        "payee_payout.send",
        "payout_batch.send",
        "wallet_transfer.send",
        *RECEIVABLES_KINDS,
    }, "a new queued kind needs its own role-removed test in this module"
    for spec in registry.discover().action_kinds.values():
        assert spec.permission and spec.doing


def test_vendor_send_queued_by_a_clerk_whose_role_is_removed_fails_and_sends_nothing(dots):
    clerk = make_user("clerk", role=roles.AP_CLERK)
    start_outage(dots)
    vendor = vendor_services.vendor_create(
        actor=clerk, name="Acme Supplies", address_line_1="1 Main St", city="Springfield", state="IL", postcode="62701"
    )
    assert vendor.dots_id is None
    _take_role_away(clerk, roles.AP_CLERK)

    _run_and_expect_refusal(dots, clerk, doing="send vendors to Dots")

    vendor.refresh_from_db()
    assert vendor.dots_id is None and vendor.dots_status != Vendor.DotsStatus.CREATED
    assert dots.received("POST", "/v2/accounts-payable/vendors") == []


def test_submit_queued_by_a_clerk_whose_role_is_removed_fails_and_sends_nothing(dots, people, make_payable):
    payable = make_payable()
    start_outage(dots)
    with pytest.raises(ActionQueued):
        payable_services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    _take_role_away(people.clerk, roles.AP_CLERK)

    _run_and_expect_refusal(dots, people.clerk, doing="submit payables")

    payable.refresh_from_db()
    assert payable.status == Payable.Status.CREATED
    assert dots.received("POST", "/v2/accounts-payable/payables*") == []


@pytest.mark.parametrize(
    ("act", "doing", "path"),
    [
        ("approve", "approve payables", "/v2/accounts-payable/payables/*/approve"),
        ("reject", "reject payables", "/v2/accounts-payable/payables/*/reject"),
    ],
)
def test_a_decision_queued_by_an_approver_whose_role_is_removed_fails_and_sends_nothing(
    dots, people, make_payable, act, doing, path
):
    payable = _submitted(people, make_payable)
    start_outage(dots)
    with pytest.raises(ActionQueued):
        if act == "approve":
            payable_services.payable_approve(payable_id=payable.pk, actor=people.approver, comment="ok")
        else:
            payable_services.payable_reject(payable_id=payable.pk, actor=people.approver, reason="wrong amount")
    _take_role_away(people.approver, roles.APPROVER)

    _run_and_expect_refusal(dots, people.approver, doing=doing)

    payable.refresh_from_db()
    assert payable.status == Payable.Status.SUBMITTED
    assert dots.received("POST", path) == []


def test_cancel_queued_by_a_clerk_whose_role_is_removed_fails_and_sends_nothing(dots, people, vendor_account):
    vendor, account = vendor_account
    pdf = b"%PDF-1.4\nBT (Invoice INV-778) Tj (Total: $12.50) Tj ET\n%%EOF\n"
    upload = SimpleUploadedFile("inv-778.pdf", pdf, content_type="application/pdf")
    payable = drafts.payable_create_from_file(actor=people.clerk, upload=upload, vendor=vendor, bank_account=account)
    assert payable.dots_id  # in Dots, so cancelling calls Dots
    start_outage(dots)
    with pytest.raises(ActionQueued):
        payable_services.payable_cancel(payable_id=payable.pk, actor=people.clerk, reason="entered twice")
    _take_role_away(people.clerk, roles.AP_CLERK)

    _run_and_expect_refusal(dots, people.clerk, doing="cancel payables")

    payable.refresh_from_db()
    assert payable.status == Payable.Status.CREATED
    assert dots.received("POST", "/v2/accounts-payable/payables/*/cancel") == []


def test_pay_queued_by_a_payer_whose_role_is_removed_fails_and_sends_nothing(dots, people, approved_payable):
    start_outage(dots)
    with pytest.raises(ActionQueued):
        payable_services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    _take_role_away(people.payer, roles.PAYER)

    _run_and_expect_refusal(dots, people.payer, doing="pay payables")

    approved_payable.refresh_from_db()
    assert approved_payable.status == Payable.Status.APPROVED
    assert dots.received("POST", "/v2/accounts-payable/payables/*/pay") == []


def test_payout_link_queued_by_an_operator_whose_role_is_removed_fails_and_sends_nothing(
    dots, django_capture_on_commit_callbacks
):
    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    start_outage(dots)
    with django_capture_on_commit_callbacks(execute=True):  # the push task runs after commit, as the operator
        link = payout_links.payout_link_request(amount_cents=2_500, actor=operator)
    _take_role_away(operator, roles.PAYOUTS_OPERATOR)

    _run_and_expect_refusal(dots, operator, doing="create payout links in Dots")

    link.refresh_from_db()
    assert link.dots_id is None and link.status == PayoutLink.Status.PENDING
    assert dots.received("POST", "/v2/payout-links") == []


def test_payout_request_queued_by_an_operator_whose_role_is_removed_fails_and_sends_nothing(
    dots, django_capture_on_commit_callbacks
):
    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    start_outage(dots)
    with django_capture_on_commit_callbacks(execute=True):
        request = payout_requests.payout_request_request(amount_cents=2_500, actor=operator, phone="+14155550123")
    _take_role_away(operator, roles.PAYOUTS_OPERATOR)

    _run_and_expect_refusal(dots, operator, doing="create payout requests in Dots")

    request.refresh_from_db()
    assert request.dots_id is None and request.status == PayoutRequest.Status.PENDING
    assert dots.received("POST", "/v2/payout-requests") == []


def test_a_transfer_to_a_payee_queued_by_the_approving_payer_whose_role_is_removed_fails_and_sends_nothing(dots):
    from payouts.models import PayeeTransfer
    from payouts.services import payee_transfers, payees

    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    payer = make_user("payer", role=roles.PAYER)
    payee = payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone="+12015550188", actor=operator
    )
    transfer = payee_transfers.transfer_request(actor=operator, payee_id=payee.pk, amount_cents=2_500, reason="Bonus")
    start_outage(dots)
    with pytest.raises(ActionQueued):
        payee_transfers.transfer_approve(actor=payer, transfer_id=transfer.pk, note="ok")
    _take_role_away(payer, roles.PAYER)

    _run_and_expect_refusal(dots, payer, doing="send transfers to payees")

    transfer.refresh_from_db()
    assert transfer.dots_transfer_id is None and transfer.status == PayeeTransfer.Status.TO_SEND
    assert dots.received("POST", "/v2/transfers") == []


def test_a_payout_from_a_payee_wallet_queued_by_the_approving_payer_whose_role_is_removed_fails_and_sends_nothing(
    dots,
):
    from payouts.models import PayeePayout
    from payouts.services import payee_payouts, payees

    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    payer = make_user("payer", role=roles.PAYER)
    payee = payees.payee_create(
        first_name="Bo", last_name="Ng", email="bo@example.com", phone="+12015550189", actor=operator
    )
    payees.payee_add_payout_method(
        payee_id=payee.pk, fields={"platform": "paypal", "email": "bo@example.com"}, actor=operator
    )
    (method,) = payee_payouts.payout_method_options(payee_id=payee.pk, actor=operator)
    payout = payee_payouts.payout_request(
        actor=operator, payee_id=payee.pk, amount_cents=2_500, payout_method=method, reason="Earnings"
    )
    start_outage(dots)
    with pytest.raises(ActionQueued):
        payee_payouts.payout_approve(actor=payer, payout_id=payout.pk, note="ok")
    _take_role_away(payer, roles.PAYER)

    _run_and_expect_refusal(dots, payer, doing="send payouts from payees' wallets")

    payout.refresh_from_db()
    assert payout.dots_transfer_id is None and payout.status == PayeePayout.Status.TO_SEND
    assert dots.received("POST", "/v2/payouts") == []


def test_a_payout_batch_queued_by_the_approving_payer_whose_role_is_removed_fails_and_sends_nothing(dots):
    from payouts.models import PayoutBatch
    from payouts.services import payees, payout_batches

    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    payer = make_user("payer", role=roles.PAYER)
    payee = payees.payee_create(
        first_name="Cy", last_name="Ng", email="cy@example.com", phone="+12015550187", actor=operator
    )
    batch = payout_batches.batch_request(actor=operator, rows=[(payee.pk, 2_500)], reason="Earnings")
    start_outage(dots)
    with pytest.raises(ActionQueued):
        payout_batches.batch_approve(actor=payer, batch_id=batch.pk, note="ok")
    _take_role_away(payer, roles.PAYER)

    _run_and_expect_refusal(dots, payer, doing="send payout batches")

    batch.refresh_from_db()
    assert batch.dots_batch_id is None and batch.status == PayoutBatch.Status.TO_SEND
    assert dots.received("POST", "/v2/payout-batches") == []


def test_a_deposit_queued_by_a_payer_whose_role_is_removed_fails_and_sends_nothing(
    dots, django_capture_on_commit_callbacks
):
    from tests.wallet.conftest import ACCOUNT_NUMBER, COMPLIANCE
    from wallet import ach_accounts, transfers
    from wallet.models import App, WalletTransfer

    payer = make_user("payer", role=roles.PAYER)
    admin = make_user("admin", role=roles.ADMINISTRATOR)
    dots_gateway.client().update_app_compliance(app_id=dots.app_id, **COMPLIANCE)
    app = App.objects.create(dots_app_id=dots.app_id, name="Ledgerline", status=App.Status.APPROVED)
    account = ach_accounts.ach_account_add(
        actor=admin,
        app_id=app.pk,
        holder_name="Ledgerline Inc",
        routing_number="021000021",
        account_number=ACCOUNT_NUMBER,
        account_type="checking",
    )
    ach_accounts.ach_account_verify(
        actor=make_user("payer2", role=roles.PAYER), ach_account_id=account.pk, how_confirmed="bank letter"
    )
    start_outage(dots)
    with django_capture_on_commit_callbacks(execute=True):  # the send task runs after commit, as the payer
        transfer = transfers.transfer_request(actor=payer, app_id=app.pk, kind="deposit", amount_cents=5_000)
    _take_role_away(payer, roles.PAYER)

    _run_and_expect_refusal(dots, payer, doing="move app wallet money")

    transfer.refresh_from_db()
    assert transfer.dots_transfer_id is None and transfer.status == WalletTransfer.Status.TO_SEND
    assert dots.received("POST", "/v2/apps/*/deposit") == []


@pytest.mark.parametrize("kind", sorted(RECEIVABLES_KINDS))
def test_money_in_action_queued_by_a_receivables_clerk_whose_role_is_removed_fails_and_sends_nothing(dots, kind):
    clerk, doing, sent_to = receivables_queued_by_a_clerk(dots, kind, start_outage=start_outage)
    _take_role_away(clerk, roles.RECEIVABLES_CLERK)

    _run_and_expect_refusal(dots, clerk, doing=doing)

    assert dots.received("POST", sent_to) == []
