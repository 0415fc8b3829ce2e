"""Stronger controls over real HTTP against the Dots emulator: approver is not payer, approvals bound to
what was approved, holds, send back for changes and emergency overrides."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.files.base import ContentFile
from django.utils import timezone

from core import action_queue, roles
from core.audit import system_user
from core.errors import ActionQueued
from core.models import AuditEvent, QueuedDotsAction
from payables import controls, drafts, holds, overrides, send_back, services, tasks
from payables.errors import (
    ApprovalOutdated,
    ApproverMayNotPay,
    BankAccountNotVerified,
    InvalidTransition,
    OverrideRefused,
    PayableOnHold,
    PermissionRefused,
    ReasonRequired,
    SegregationOfDutiesViolation,
)
from payables.models import ControlOverride, Payable, PayableApproval, PayableHold
from tests.outage_support import end_outage, start_outage
from tests.support import make_user
from vendors import bank_accounts

pytestmark = pytest.mark.django_db
S = Payable.Status
C = ControlOverride.Control
PAY_PATH = "/v2/accounts-payable/payables/*/pay"
APPROVE_PATH = "/v2/accounts-payable/payables/*/approve"
REJECT_PATH = "/v2/accounts-payable/payables/*/reject"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _events(payable, action):
    return list(AuditEvent.objects.filter(action=action, object_id=str(payable.pk)).order_by("id"))


def _also_payer(user):
    user.groups.add(Group.objects.get(name=roles.PAYER))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def paying(dots):
    dots.settings(payable_payment={"mode": "immediate", "outcome": "payment_completed"})


@pytest.fixture
def admins(db):
    return make_user("admin-one", role=roles.ADMINISTRATOR), make_user("admin-two", role=roles.ADMINISTRATOR)


# --- approver is not payer ----------------------------------------------------------------------------


@pytest.mark.parametrize("superuser", [False, True])
def test_the_approver_cannot_pay_what_they_approved_even_as_superuser(dots, people, approved_payable, superuser):
    approver = _also_payer(people.approver)
    if superuser:
        type(approver).objects.filter(pk=approver.pk).update(is_superuser=True)
        approver = type(approver).objects.get(pk=approver.pk)

    with pytest.raises(ApproverMayNotPay) as refused:
        services.payable_pay(payable_id=approved_payable.pk, actor=approver)

    assert refused.value.code == "approver-may-not-pay"
    assert "you approved it, so someone else must pay it" in str(refused.value)
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED
    assert dots.received("POST", PAY_PATH) == []
    assert _events(approved_payable, "payable.pay_requested") == []


def test_an_approver_of_one_step_cannot_pay_it_but_another_payer_can(dots, people, approved_payable, paying):
    with pytest.raises(ApproverMayNotPay):
        services.payable_pay(payable_id=approved_payable.pk, actor=_also_payer(people.approver))

    paid = services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)

    assert paid.status == S.PAYMENT_COMPLETED
    assert len(dots.received("POST", PAY_PATH)) == 1


def test_a_queued_payment_by_the_approver_is_refused_before_it_is_queued(
    dots, people, approved_payable, outage_settings
):
    start_outage(dots)
    with pytest.raises(ApproverMayNotPay):
        services.payable_pay(payable_id=approved_payable.pk, actor=_also_payer(people.approver))
    assert QueuedDotsAction.objects.count() == 0


def test_an_approval_given_in_dots_dashboard_by_the_payer_counts_too(dots, people, approved_payable):
    # As if the approval had been given in Dots' dashboard: only Dots' approval record names the approver.
    PayableApproval.objects.filter(payable=approved_payable).delete()
    with pytest.raises(ApproverMayNotPay):
        services.payable_pay(payable_id=approved_payable.pk, actor=_also_payer(people.approver))
    assert dots.received("POST", PAY_PATH) == []


# --- approvals bound to what was approved ---------------------------------------------------------------


def test_each_approval_records_what_was_approved(dots, people, approved_payable):
    approval = PayableApproval.objects.get(payable=approved_payable)
    parts = approval.fingerprint_parts
    assert parts["total"] == 25_000
    assert parts["bank_account"]["last4"] == "6789"
    assert parts["bank_account"]["id"] == approved_payable.bank_account.dots_id
    assert parts["items"] == [["Widgets", 25_000, 2]]
    assert approval.fingerprint == controls.fingerprint_of(parts) and len(approval.fingerprint) == 64


def test_a_payable_unchanged_since_approval_is_paid(dots, people, approved_payable, paying):
    assert controls.binding(approved_payable).changed is False
    paid = services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert paid.status == S.PAYMENT_COMPLETED


def _other_account(vendor, people, last4_number="000987654321"):
    account = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="Acme new account",
        routing_number="021000021",
        account_number=last4_number,
        account_type="checking",
    )
    bank_accounts.bank_account_verify(actor=people.clerk2, bank_account_id=account.pk, how_confirmed="called them")
    account.refresh_from_db()
    return account


def test_a_changed_bank_account_refuses_pay_and_names_the_change(dots, people, approved_payable, vendor_account):
    vendor, _ = vendor_account
    replacement = _other_account(vendor, people, "000555554321")
    # However the payable comes to point at another account after approval, it is not what was approved.
    Payable.objects.filter(pk=approved_payable.pk).update(bank_account=replacement)

    with pytest.raises(ApprovalOutdated) as refused:
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)

    assert refused.value.code == "approval-outdated"
    assert "bank account ••••6789 → ••••4321" in str(refused.value)
    assert "approvers of step 1 must approve it again" in str(refused.value)
    assert dots.received("POST", PAY_PATH) == []
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED


def test_the_vendors_account_deleted_and_replaced_after_approval_refuses_pay(
    dots, people, approved_payable, vendor_account
):
    vendor, account = vendor_account
    # The vendor says the account is gone: deleted here (kept, retired, since the payable uses it) and replaced.
    bank_accounts.bank_account_delete(actor=people.clerk2, bank_account_id=account.pk, reason="vendor closed it")
    _other_account(vendor, people)

    with pytest.raises(ApprovalOutdated, match=r"bank account ••••6789 → ••••6789 \(deleted\)"):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert dots.received("POST", PAY_PATH) == []


def test_an_amount_adopted_from_dots_by_reconciliation_refuses_pay(dots, people, make_payable):
    from reconciliation import services as reconciliation_services
    from reconciliation.models import Discrepancy

    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    # Our row drifted from Dots' (Dots holds $250.00) before it was approved here at $260.00.
    Payable.objects.filter(pk=payable.pk).update(total_cents=26_000)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    reconciliation_services.reconcile_all(actor=system_user())
    row = Discrepancy.objects.get(record_type="payable", kind="amount", resolution="")
    reconciliation_services.discrepancy_adopt(
        discrepancy_id=row.pk, actor=make_user("recon-admin", role=roles.ADMINISTRATOR)
    )

    with pytest.raises(ApprovalOutdated, match=r"total \$260\.00 → \$250\.00"):
        services.payable_pay(payable_id=payable.pk, actor=people.payer)
    assert dots.received("POST", PAY_PATH) == []


def test_approving_again_by_an_approver_of_the_step_lets_it_be_paid_once(
    dots, people, approved_payable, vendor_account, paying
):
    vendor, _ = vendor_account
    Payable.objects.filter(pk=approved_payable.pk).update(bank_account=_other_account(vendor, people, "000555554321"))

    # Its creator may not (even holding the Approver role), nor someone who is not an approver.
    people.clerk.groups.add(Group.objects.get(name=roles.APPROVER))
    clerk = type(people.clerk).objects.get(pk=people.clerk.pk)
    with pytest.raises(SegregationOfDutiesViolation):
        controls.payable_approve_again(payable_id=approved_payable.pk, actor=clerk)
    with pytest.raises(PermissionRefused):
        controls.payable_approve_again(payable_id=approved_payable.pk, actor=people.payer)

    controls.payable_approve_again(
        payable_id=approved_payable.pk, actor=people.approver2, comment="new account checked"
    )
    with pytest.raises(InvalidTransition, match="nothing to approve again"):
        controls.payable_approve_again(payable_id=approved_payable.pk, actor=people.approver3)

    event = _events(approved_payable, "payable.approved_again")[0]
    assert event.actor_id == people.approver2.pk and event.reason == "new account checked"
    assert "bank account ••••6789 → ••••4321" in str(event.changes)
    # Re-approvers are approvers: they do not pay it either.
    with pytest.raises(ApproverMayNotPay):
        services.payable_pay(payable_id=approved_payable.pk, actor=_also_payer(people.approver2))

    paid = services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert paid.status == S.PAYMENT_COMPLETED
    assert len(dots.received("POST", PAY_PATH)) == 1
    # Dots was not asked to approve again: its approval stands.
    assert len(dots.received("POST", APPROVE_PATH)) == 1


def test_a_change_after_approving_again_needs_approving_again_once_more(dots, people, approved_payable, vendor_account):
    vendor, _ = vendor_account
    Payable.objects.filter(pk=approved_payable.pk).update(bank_account=_other_account(vendor, people, "000555554321"))
    controls.payable_approve_again(payable_id=approved_payable.pk, actor=people.approver2)
    Payable.objects.filter(pk=approved_payable.pk).update(total_cents=99_999)

    with pytest.raises(ApprovalOutdated, match=r"total \$250\.00 → \$999\.99"):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)


def test_a_queued_payment_of_a_payable_changed_meanwhile_is_not_sent_when_dots_answers(
    dots, people, approved_payable, paying, outage_settings
):
    start_outage(dots)
    with pytest.raises(ActionQueued):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    Payable.objects.filter(pk=approved_payable.pk).update(total_cents=30_000)

    end_outage(dots)
    result = action_queue.drain()

    assert result.failed == 1
    assert dots.received("POST", PAY_PATH) == []
    assert "total $250.00 → $300.00" in QueuedDotsAction.objects.get().last_error


# --- hold ---------------------------------------------------------------------------------------------------


def test_a_hold_blocks_approval_until_released(dots, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    holds.payable_hold(payable_id=payable.pk, actor=people.approver2, reason="vendor disputes the invoice")

    with pytest.raises(PayableOnHold, match="vendor disputes the invoice"):
        services.payable_approve(payable_id=payable.pk, actor=people.approver)
    assert dots.received("POST", APPROVE_PATH) == []

    holds.payable_release(payable_id=payable.pk, actor=people.approver2, reason="vendor confirmed")
    assert services.payable_approve(payable_id=payable.pk, actor=people.approver).status == S.APPROVED
    held, released = _events(payable, "payable.held"), _events(payable, "payable.hold_released")
    assert held[0].actor_id == people.approver2.pk and held[0].reason == "vendor disputes the invoice"
    assert released[0].reason == "vendor confirmed"


def test_a_hold_blocks_payment_direct_and_from_the_list(dots, people, approved_payable, paying):
    holds.payable_hold(payable_id=approved_payable.pk, actor=people.payer, reason="waiting for a credit note")

    with pytest.raises(PayableOnHold) as refused:
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)

    assert refused.value.code == "payable-on-hold"
    assert dots.received("POST", PAY_PATH) == []


def test_a_queued_payment_held_meanwhile_is_not_sent_when_dots_answers(
    dots, people, approved_payable, paying, outage_settings
):
    start_outage(dots)
    with pytest.raises(ActionQueued):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    holds.payable_hold(payable_id=approved_payable.pk, actor=people.approver, reason="hold it")

    end_outage(dots)
    result = action_queue.drain()

    assert result.done == 0 and result.failed == 1
    assert dots.received("POST", PAY_PATH) == []
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED


def test_hold_needs_a_reason_and_the_permission(dots, people, approved_payable):
    with pytest.raises(ReasonRequired):
        holds.payable_hold(payable_id=approved_payable.pk, actor=people.payer, reason="  ")
    with pytest.raises(PermissionRefused):
        holds.payable_hold(payable_id=approved_payable.pk, actor=people.clerk, reason="no")
    with pytest.raises(PermissionRefused):
        holds.payable_hold(
            payable_id=approved_payable.pk, actor=make_user("mgr", role=roles.MANAGER), reason="read only"
        )
    assert PayableHold.objects.count() == 0


def test_a_hold_with_a_release_date_lifts_itself_on_that_date_once_even_if_run_twice(dots, people, approved_payable):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    holds.payable_hold(
        payable_id=approved_payable.pk, actor=people.payer, reason="until the credit note", release_on=tomorrow
    )

    assert holds.release_due_holds(actor=system_user()) == 0  # not yet
    assert holds.release_due_holds(actor=system_user(), today=tomorrow) == 1
    assert holds.release_due_holds(actor=system_user(), today=tomorrow) == 0

    assert controls.active_hold(approved_payable) is None
    released = _events(approved_payable, "payable.hold_released")
    assert len(released) == 1 and released[0].source == AuditEvent.Source.TASK
    assert tasks.release_due_holds() == "0 holds released"


def test_a_release_date_in_the_past_is_refused(dots, people, approved_payable):
    with pytest.raises(InvalidTransition, match="release date must be after today"):
        holds.payable_hold(
            payable_id=approved_payable.pk, actor=people.payer, reason="x", release_on=timezone.localdate()
        )


# --- send back for changes ----------------------------------------------------------------------------------


def test_send_back_rejects_in_dots_and_makes_a_linked_draft_for_the_clerk(dots, people, make_payable):
    payable = make_payable(description="March supplies", due_date=dt.date(2026, 12, 31))
    payable.file.save("bill.pdf", ContentFile(PDF), save=True)
    drafts.payable_recalculate(payable=payable)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)

    draft = send_back.payable_send_back(payable_id=payable.pk, actor=people.approver, reason="wrong quantity")

    payable.refresh_from_db()
    assert payable.status == S.REJECTED and payable.closed_reason == "wrong quantity"
    rejected = dots.received("POST", REJECT_PATH)
    assert len(rejected) == 1 and rejected[0]["body"]["comment"] == "wrong quantity"
    assert draft.status == S.CREATED and draft.dots_id is None
    assert draft.sent_back_from_id == payable.pk and draft.created_by_id == people.clerk.pk
    assert (draft.vendor_id, draft.bank_account_id) == (payable.vendor_id, payable.bank_account_id)
    assert (draft.description, draft.due_date, draft.total_cents) == ("March supplies", dt.date(2026, 12, 31), 25_000)
    assert [(i.name, i.unit_price_cents, i.quantity) for i in draft.items.all()] == [("Widgets", 12_500, 2)]
    # The PDF is copied into storage (its own file, same bytes).
    assert draft.file.name != payable.file.name and draft.file_sha256 == payable.file_sha256
    with draft.file.open("rb") as handle:
        assert handle.read() == PDF
    # The audit links both.
    sent = _events(payable, "payable.sent_back")[0]
    made = _events(draft, "payable.created_from_sent_back")[0]
    assert f"#{draft.pk}" in str(sent.changes) and f"#{payable.pk}" in str(made.changes)
    assert sent.actor_id == made.actor_id == people.approver.pk and sent.reason == "wrong quantity"


def test_send_back_tells_the_clerk_what_to_change_once_and_not_that_it_was_rejected(
    dots, people, make_payable, django_capture_on_commit_callbacks
):
    people.clerk.email = "clerk@example.com"
    people.clerk.save(update_fields=["email"])
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        draft = send_back.payable_send_back(payable_id=payable.pk, actor=people.approver, reason="wrong quantity")

    to_clerk = [m for m in mail.outbox if m.to == ["clerk@example.com"]]
    assert [m.subject for m in to_clerk] == [
        f"{payable.bill_number} from {payable.vendor.name} ($250.00) was sent back for changes by "
        f"{people.approver.get_full_name() or people.approver.get_username()}"
    ]
    assert "What to change: wrong quantity" in to_clerk[0].body
    assert f"/admin/payables/payable/{draft.pk}/change/" in to_clerk[0].body


def test_send_back_by_the_creator_or_without_a_reason_is_refused(dots, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    with pytest.raises(ReasonRequired):
        send_back.payable_send_back(payable_id=payable.pk, actor=people.approver, reason="")
    with pytest.raises(PermissionRefused):
        send_back.payable_send_back(payable_id=payable.pk, actor=people.clerk, reason="mine")
    assert dots.received("POST", REJECT_PATH) == []
    assert Payable.objects.count() == 1


def test_send_back_of_an_approved_payable_is_refused(dots, people, approved_payable):
    with pytest.raises(InvalidTransition, match="only a payable waiting for approval is sent back"):
        send_back.payable_send_back(payable_id=approved_payable.pk, actor=people.approver2, reason="x")


# --- emergency override ----------------------------------------------------------------------------------------


def test_one_administrator_cannot_confirm_their_own_override(dots, people, approved_payable, admins):
    first, _ = admins
    override = overrides.override_request(
        payable_id=approved_payable.pk, actor=first, control=C.APPROVER_IS_NOT_PAYER, reason="only payer is away"
    )
    with pytest.raises(SegregationOfDutiesViolation, match="a second Administrator must confirm it"):
        overrides.override_confirm(override_id=override.pk, actor=first)
    override.refresh_from_db()
    assert override.confirmed_at is None


def test_a_manager_cannot_ask_for_an_override(dots, people, approved_payable):
    with pytest.raises(PermissionRefused):
        overrides.override_request(
            payable_id=approved_payable.pk,
            actor=make_user("manager", role=roles.MANAGER),
            control=C.APPROVER_IS_NOT_PAYER,
            reason="please",
        )
    assert ControlOverride.objects.count() == 0


def test_an_unconfirmed_override_does_nothing(dots, people, approved_payable, admins):
    overrides.override_request(
        payable_id=approved_payable.pk, actor=admins[0], control=C.APPROVER_IS_NOT_PAYER, reason="urgent"
    )
    with pytest.raises(ApproverMayNotPay):
        services.payable_pay(payable_id=approved_payable.pk, actor=_also_payer(people.approver))
    assert dots.received("POST", PAY_PATH) == []


def test_a_confirmed_override_lets_the_approver_pay_once_and_is_audited(dots, people, approved_payable, admins, paying):
    first, second = admins
    override = overrides.override_request(
        payable_id=approved_payable.pk, actor=first, control=C.APPROVER_IS_NOT_PAYER, reason="the only payer is ill"
    )
    overrides.override_confirm(override_id=override.pk, actor=second)
    approver = _also_payer(people.approver)

    paid = services.payable_pay(payable_id=approved_payable.pk, actor=approver)

    assert paid.status == S.PAYMENT_COMPLETED
    override.refresh_from_db()
    assert override.used_at is not None and override.confirmed_by_id == second.pk
    assert [e.actor_id for e in _events(approved_payable, "payable.override_requested")] == [first.pk]
    assert [e.actor_id for e in _events(approved_payable, "payable.override_confirmed")] == [second.pk]
    assert [e.actor_id for e in _events(approved_payable, "payable.override_used")] == [approver.pk]
    assert controls.usable_override(approved_payable, C.APPROVER_IS_NOT_PAYER) is None


def test_an_override_lets_an_unverified_bank_account_through_once(dots, people, make_payable, vendor_account, admins):
    vendor, _ = vendor_account
    unverified = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="Acme unverified",
        routing_number="021000021",
        account_number="000111112222",
        account_type="checking",
    )
    payable = make_payable(bank_account=unverified)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    with pytest.raises(BankAccountNotVerified):
        services.payable_pay(payable_id=payable.pk, actor=people.payer)

    override = overrides.override_request(
        payable_id=payable.pk, actor=admins[0], control=C.BANK_ACCOUNT_VERIFIED, reason="vendor confirmed in person"
    )
    overrides.override_confirm(override_id=override.pk, actor=admins[1])
    services.payable_pay(payable_id=payable.pk, actor=people.payer)

    assert len(dots.received("POST", PAY_PATH)) == 1
    override.refresh_from_db()
    assert override.used_at is not None


def test_a_hold_is_not_overridable(dots, people, approved_payable, admins):
    holds.payable_hold(payable_id=approved_payable.pk, actor=people.payer, reason="dispute")
    with pytest.raises(OverrideRefused, match="a hold cannot be overridden"):
        overrides.override_request(payable_id=approved_payable.pk, actor=admins[0], control="hold", reason="x")
    with pytest.raises(PayableOnHold):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)


def test_the_overrides_panel_lists_the_last_30_days(dots, people, approved_payable, admins):
    override = overrides.override_request(
        payable_id=approved_payable.pk, actor=admins[0], control=C.APPROVER_IS_NOT_PAYER, reason="urgent"
    )
    panel = overrides.dashboard_panel(None)
    assert [(r["payable"], r["state"]) for r in panel["rows"]] == [
        (approved_payable.bill_number, "waiting for a second Administrator")
    ]
    ControlOverride.objects.filter(pk=override.pk).update(requested_at=timezone.now() - dt.timedelta(days=31))
    assert overrides.dashboard_panel(None)["rows"] == []


def test_a_payable_changed_since_approval_cannot_be_scheduled_and_says_why(
    dots, people, approved_payable, vendor_account
):
    """Said when the payer schedules it, not on the morning it was to be paid."""
    from payables import scheduled

    vendor, _ = vendor_account
    Payable.objects.filter(pk=approved_payable.pk).update(bank_account=_other_account(vendor, people, "000555554321"))
    with pytest.raises(ApprovalOutdated) as refused:
        scheduled.payable_schedule_pay(
            payable_id=approved_payable.pk, actor=people.payer, pay_on=scheduled.company_today()
        )
    assert "bank account ••••6789 → ••••4321" in str(refused.value)
    assert "approvers of step 1 must approve it again before it is scheduled" in str(refused.value)
    approved_payable.refresh_from_db()
    assert approved_payable.pay_on is None
