"""The payable lifecycle over real HTTP against the Dots emulator."""

import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connections

from core.errors import DomainError, DotsOutcomeUnknownError, DotsRejected, DotsUnavailable
from core.models import AuditEvent
from dots.client import DotsClient
from payables import drafts, services, tasks
from payables.errors import (
    BankAccountNotVerified,
    InsufficientFunds,
    InvalidTransition,
    PermissionRefused,
    PossibleDuplicate,
    ReasonRequired,
    SegregationOfDutiesViolation,
)
from payables.models import Payable
from tests.support import make_user
from vendors import bank_accounts

pytestmark = pytest.mark.django_db
S = Payable.Status
PAY_PATH = "/v2/accounts-payable/payables/*/pay"


def _dots(emulator) -> DotsClient:
    return DotsClient(emulator.base_url, emulator.client_id, emulator.api_key)


def _payments_in_dots(emulator, payable) -> int:
    """How many payments Dots made for this payable (its transfer history)."""
    return len(_dots(emulator).retrieve_payable(payable_id=payable.dots_id).transfer_history)


def _events(payable, action):
    return AuditEvent.objects.filter(object_type="payables.payable", object_id=str(payable.pk), action=action)


# --- submit ---------------------------------------------------------------------------------------


def test_submit_creates_the_payable_in_dots_with_its_items_and_total(dots, people, make_payable):
    payable = make_payable(items=[("Widgets", 12_500, 2), ("Shipping", 1_999, 1)])
    assert payable.total_cents == 26_999
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable.refresh_from_db()
    assert payable.status == S.SUBMITTED
    remote = _dots(dots).retrieve_payable(payable_id=payable.dots_id)
    assert remote.status == "submitted_for_approval"
    assert remote.amount == 26_999
    assert [item["name"] for item in remote.items] == ["Widgets", "Shipping"]
    event = _events(payable, "payable.submitted").get()
    assert event.actor == people.clerk
    assert event.changes["status"] == {"before": "created", "after": "submitted_for_approval"}


def test_submit_without_a_policy_says_one_approval_by_any_approver(dots, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable.refresh_from_db()
    assert payable.approval_policy is None
    assert "no policy" in payable.approval_policy_reason.lower()


def test_submit_twice_is_refused_and_creates_one_payable_in_dots(dots, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    with pytest.raises(InvalidTransition):
        services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    assert len(dots.received("POST", "/v2/accounts-payable/payables")) == 1


def test_submit_of_a_possible_duplicate_bill_number_needs_a_reason(dots, people, make_payable):
    first = make_payable(bill_number="INV-000104")
    services.payable_submit(payable_id=first.pk, actor=people.clerk)
    second = make_payable(bill_number="inv 104", items=[("Other", 100, 1)])
    with pytest.raises(PossibleDuplicate) as exc:
        services.payable_submit(payable_id=second.pk, actor=people.clerk)
    assert exc.value.matches[0].other == first
    assert "same vendor and bill number" in exc.value.matches[0].reason
    second.refresh_from_db()
    assert second.status == S.CREATED
    services.payable_submit(payable_id=second.pk, actor=people.clerk, duplicate_reason="credit note, not a repeat")
    second.refresh_from_db()
    assert second.status == S.SUBMITTED
    assert _events(second, "payable.duplicate_overridden").get().reason == "credit note, not a repeat"


def test_same_vendor_and_amount_within_a_week_is_a_possible_duplicate(dots, people, make_payable):
    make_payable(bill_number="A-1", items=[("Rent", 250_000, 1)])
    second = make_payable(bill_number="B-2", items=[("Rent", 250_000, 1)])
    with pytest.raises(PossibleDuplicate, match="same vendor and amount within 7 days"):
        services.payable_submit(payable_id=second.pk, actor=people.clerk)


def test_the_same_pdf_twice_is_a_possible_duplicate(dots, people, make_payable):
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    first = make_payable(bill_number="X-1", items=[("A", 100, 1)])
    second = make_payable(bill_number="Y-2", items=[("B", 200, 1)])
    for payable in (first, second):
        payable.file.save("bill.pdf", ContentFile(pdf))
        drafts.payable_recalculate(payable=payable)
    with pytest.raises(PossibleDuplicate, match="the same PDF file"):
        services.payable_submit(payable_id=second.pk, actor=people.clerk)


# --- approve and reject ------------------------------------------------------------------------------


def test_approver_approves_and_dots_agrees(dots, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    services.payable_approve(payable_id=payable.pk, actor=people.approver, comment="checked against the PO")
    payable.refresh_from_db()
    assert payable.status == S.APPROVED
    assert _dots(dots).retrieve_payable(payable_id=payable.dots_id).status == "approved"
    event = _events(payable, "payable.approved").get()
    assert (event.actor, event.reason) == (people.approver, "checked against the PO")


@pytest.mark.parametrize("superuser", [False, True])
def test_the_creator_cannot_approve_even_as_superuser(dots, people, make_payable, superuser):
    from core import roles

    creator = make_user("clerk-approver", role=roles.APPROVER, is_superuser=superuser)
    from payables.models import Approver

    Approver.objects.filter(user=people.approver3).update(user=creator)
    payable = make_payable(creator=creator)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    with pytest.raises(SegregationOfDutiesViolation) as exc:
        services.payable_approve(payable_id=payable.pk, actor=creator)
    assert exc.value.code == "segregation-of-duties"
    payable.refresh_from_db()
    assert payable.status == S.SUBMITTED
    assert dots.received("POST", "/v2/accounts-payable/payables/*/approve") == []


def test_a_clerk_cannot_approve(dots, people, make_payable):
    payable = make_payable(creator=people.clerk)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    with pytest.raises(PermissionRefused):
        services.payable_approve(payable_id=payable.pk, actor=people.clerk2)


def test_reject_needs_a_reason_and_records_it(dots, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    with pytest.raises(ReasonRequired):
        services.payable_reject(payable_id=payable.pk, actor=people.approver, reason="  ")
    services.payable_reject(payable_id=payable.pk, actor=people.approver, reason="not our order")
    payable.refresh_from_db()
    assert payable.status == S.REJECTED
    assert _dots(dots).retrieve_payable(payable_id=payable.dots_id).status == "rejected"
    assert _events(payable, "payable.rejected").get().reason == "not our order"


# --- cancel ----------------------------------------------------------------------------------------------


def test_a_draft_is_canceled_with_a_reason(dots, people, make_payable):
    payable = make_payable()
    services.payable_cancel(payable_id=payable.pk, actor=people.clerk, reason="entered twice")
    payable.refresh_from_db()
    assert payable.status == S.CANCELED
    assert _events(payable, "payable.canceled").get().reason == "entered twice"


def test_a_submitted_payable_cannot_be_canceled(dots, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    with pytest.raises(InvalidTransition):
        services.payable_cancel(payable_id=payable.pk, actor=people.clerk, reason="changed my mind")


# --- pay -------------------------------------------------------------------------------------------------


def test_pay_sends_one_payment_and_the_task_follows_it_to_paid(dots, people, approved_payable):
    payable = services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert payable.status == S.PAYMENT_INITIATED
    assert _events(payable, "payable.pay_requested").get().actor == people.payer
    dots.control(f"payables/{payable.dots_id}/payment", {"status": "payment_completed"})
    assert tasks.follow_payment(payable.pk) == S.PAYMENT_COMPLETED
    payable.refresh_from_db()
    assert payable.status == S.PAYMENT_COMPLETED
    assert _payments_in_dots(dots, payable) == 1
    assert _events(payable, "payable.payment_completed").get().actor_label == "system"


def test_a_payment_still_in_flight_is_looked_at_again_later(dots, people, approved_payable):
    from django_q.models import Schedule

    services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert tasks.follow_payment(approved_payable.pk) == S.PAYMENT_INITIATED
    assert Schedule.objects.filter(name=f"follow-payment-{approved_payable.pk}-1").exists()
    tasks.follow_payment(approved_payable.pk)  # a second delivery of the same task schedules once
    assert Schedule.objects.filter(name__startswith=f"follow-payment-{approved_payable.pk}-").count() == 1


def test_a_failed_payment_shows_dots_reason_and_can_be_paid_again(dots, people, approved_payable):
    services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    dots.control(
        f"payables/{approved_payable.dots_id}/payment", {"status": "payment_failed", "reason": "R03 no account"}
    )
    tasks.follow_payment(approved_payable.pk)
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.status == S.PAYMENT_FAILED
    assert "R03 no account" in payable.failure_reason
    services.payable_pay(payable_id=payable.pk, actor=people.payer)
    dots.control(f"payables/{payable.dots_id}/payment", {"status": "payment_completed"})
    tasks.follow_payment(payable.pk)
    payable.refresh_from_db()
    assert payable.status == S.PAYMENT_COMPLETED
    assert payable.pay_attempts == 2


def test_the_creator_cannot_pay(dots, people, make_payable):
    from core import roles

    payer_creator = people.payer
    payer_creator.groups.add(
        __import__("django.contrib.auth.models", fromlist=["Group"]).Group.objects.get(name=roles.AP_CLERK)
    )
    payable = make_payable(creator=payer_creator)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    with pytest.raises(SegregationOfDutiesViolation):
        services.payable_pay(payable_id=payable.pk, actor=payer_creator)
    assert dots.received("POST", PAY_PATH) == []


def test_only_payers_pay(dots, people, approved_payable):
    with pytest.raises(PermissionRefused):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.approver2)


def test_an_unverified_bank_account_cannot_be_paid(dots, people, make_payable, vendor_account):
    vendor, _ = vendor_account
    fresh = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="New account",
        routing_number="011000015",
        account_number="99887766",
        account_type="savings",
    )
    payable = make_payable(bank_account=fresh)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    with pytest.raises(BankAccountNotVerified, match="waits for verification"):
        services.payable_pay(payable_id=payable.pk, actor=people.payer)
    assert dots.received("POST", PAY_PATH) == []


def test_pay_is_refused_when_the_wallet_is_short(dots, people, approved_payable):
    app_id = _dots(dots).list_apps()[0].id
    dots.control(f"apps/{app_id}/balance", {"balance": 100})
    with pytest.raises(InsufficientFunds, match=r"holds \$1.00"):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED
    assert dots.received("POST", PAY_PATH) == []


def test_dots_refusing_the_payment_leaves_it_approved_with_the_reason(dots, people, approved_payable):
    dots.add_fault(method="POST", path=PAY_PATH, kind="insufficient_funds", count=1)
    with pytest.raises(DotsRejected):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED
    assert "transaction-insufficient-funds" in approved_payable.last_dots_error


def test_a_503_on_pay_is_read_back_and_paid_once(dots, people, approved_payable, settings):
    settings.PAY_OUTCOME_SETTLE_SECONDS = 0
    dots.add_fault(method="POST", path=PAY_PATH, kind="status", status=503, count=1)
    with pytest.raises(DotsUnavailable, match="can be paid again"):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    # Dots did not do it, and says so when read back: safe to pay again.
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.status == S.APPROVED
    assert _events(payable, "payable.payment_outcome_unknown").exists()
    payable = services.payable_pay(payable_id=payable.pk, actor=people.payer)
    assert payable.status == S.PAYMENT_INITIATED
    assert _payments_in_dots(dots, payable) == 1


def test_a_dropped_answer_to_pay_is_found_paid_and_never_sent_again(dots, people, approved_payable):
    dots.add_fault(method="POST", path=PAY_PATH, kind="drop", count=1)
    payable = services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert payable.status == S.PAYMENT_INITIATED
    with pytest.raises(InvalidTransition, match="already under way"):
        services.payable_pay(payable_id=payable.pk, actor=people.payer)
    assert len(dots.received("POST", PAY_PATH)) == 1
    assert _payments_in_dots(dots, payable) == 1


def test_a_timed_out_pay_stays_unknown_until_dots_shows_the_payment(dots, people, approved_payable, settings):
    import time

    settings.DOTS_TIMEOUT_SECONDS = 0.5
    dots.add_fault(method="POST", path=PAY_PATH, kind="timeout", ms=1500, count=1)
    with pytest.raises(DotsOutcomeUnknownError):
        services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    payable = Payable.objects.get(pk=approved_payable.pk)
    # Dots may still be working on the call: not "approved" again, not paid either.
    assert payable.status == S.OUTCOME_UNKNOWN
    with pytest.raises(InvalidTransition):
        services.payable_pay(payable_id=payable.pk, actor=people.payer)
    time.sleep(1.5)
    payable = services.payable_reconcile_payment(payable_id=payable.pk, actor=people.payer)
    assert payable.status in (S.PAYMENT_INITIATED, S.PAYMENT_COMPLETED)
    assert len(dots.received("POST", PAY_PATH)) == 1
    assert _payments_in_dots(dots, payable) == 1


@pytest.mark.django_db(transaction=True)
def test_two_payers_at_once_send_one_pay(dots, people, approved_payable):
    from payables.models import Approver

    second_payer = make_user("payer2", role="Payer")
    admin_dots_user = next(u for u in people.dots_users if u["role"] == "admin")
    Approver.objects.create(dots_user_id=admin_dots_user["id"], email=admin_dots_user["email"], user=second_payer)
    results, barrier = [], threading.Barrier(2)

    def pay(actor):
        try:
            barrier.wait()
            services.payable_pay(payable_id=approved_payable.pk, actor=actor)
            results.append("paid")
        except DomainError as exc:
            results.append("refused" if isinstance(exc, InvalidTransition) else f"{exc.code}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pay, args=(u,)) for u in (people.payer, second_payer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["paid", "refused"]
    assert len(dots.received("POST", PAY_PATH)) == 1


# --- create from a PDF ---------------------------------------------------------------------------------


def test_create_from_pdf_opens_a_draft_prefilled_by_dots(dots, people, vendor_account):
    from django.core.files.uploadedfile import SimpleUploadedFile

    vendor, account = vendor_account
    pdf = b"%PDF-1.4\nBT (Invoice INV-777) Tj (Total: $1,234.56) Tj ET\n%%EOF\n"
    upload = SimpleUploadedFile("inv-777.pdf", pdf, content_type="application/pdf")
    payable = drafts.payable_create_from_file(actor=people.clerk, upload=upload, vendor=vendor, bank_account=account)
    assert payable.status == S.CREATED
    assert payable.dots_id
    assert payable.file_sha256
    assert _events(payable, "payable.created_from_file").get().actor == people.clerk


def test_cancel_by_someone_nobody_acts_for_in_dots_is_refused_clearly_and_sends_nothing(
    people, make_payable, dots, settings
):
    from payables.errors import NotReadyForDots
    from payables.selectors import acting_dots_user_id

    settings.DOTS_DEFAULT_ACTING_USER_ID = None
    payable = make_payable()
    services._ensure_in_dots(payable, acting_user_id=acting_dots_user_id(people.clerk), actor=people.clerk)
    payable.refresh_from_db()
    assert payable.dots_id and payable.status == Payable.Status.CREATED
    with pytest.raises(NotReadyForDots, match="not linked to a Dots dashboard user"):
        services.payable_cancel(payable_id=payable.pk, actor=people.clerk2, reason="entered twice")
    assert dots.received("POST", "/v2/accounts-payable/payables/*/cancel") == []
    payable.refresh_from_db()
    assert payable.status == Payable.Status.CREATED


# --- one transition table: our moves and Dots' own ---------------------------------------------------------


def test_dots_may_start_a_payment_from_approved_but_we_only_request_one():
    table = Payable.TRANSITIONS
    assert table.dots_may_move(S.APPROVED, S.PAYMENT_INITIATED)
    assert not table.allows(S.APPROVED, S.PAYMENT_INITIATED)
    assert table.allows(S.APPROVED, S.PAY_REQUESTED)
    # The sync follows what Dots can still move; a pay call on its way is not among them.
    assert S.PAY_REQUESTED not in table.followed() and S.PAYMENT_COMPLETED not in table.followed()


def test_approving_a_draft_is_refused_naming_where_it_is_and_nothing_reaches_dots(dots, people, make_payable):
    payable = make_payable()
    with pytest.raises(InvalidTransition) as refused:
        services.payable_approve(payable_id=payable.pk, actor=people.approver)
    assert refused.value.code == "invalid-transition"
    assert str(refused.value) == f"{payable.bill_number} is draft: it cannot become approved."
    assert dots.received("POST", "/v2/accounts-payable/payables/*") == []
    payable.refresh_from_db()
    assert payable.status == S.CREATED


def test_paying_a_payable_waiting_for_approval_is_refused_by_the_same_table(dots, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    with pytest.raises(InvalidTransition, match="is waiting for approval: it cannot become payment being sent"):
        services.payable_pay(payable_id=payable.pk, actor=people.payer)
    assert dots.received("POST", PAY_PATH) == []
