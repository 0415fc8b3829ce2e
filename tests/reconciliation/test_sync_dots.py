"""Scheduled sync and `sync_dots`: what Dots changed on its own shows here, audited as the system's doing."""

import io

import pytest
from django.core.management import call_command

from core import roles
from core.audit import system_user
from core.dots_gateway import client
from core.models import AuditEvent
from payables.models import Payable
from payouts.models import PayoutRequest
from payouts.services import payees, payout_requests
from reconciliation import sync
from reconciliation.models import AppWallet
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return make_user("operator", role=roles.PAYOUTS_OPERATOR)


def _sync_dots(*args) -> str:
    out = io.StringIO()
    call_command("sync_dots", *args, stdout=out, stderr=out)
    return out.getvalue()


def _created_request(operator, phone="2015550142") -> PayoutRequest:
    request = payout_requests.payout_request_request(
        amount_cents=1500, phone=phone, memo="refund", actor=operator, push=False
    )
    request = payout_requests.payout_request_push(payout_request_id=request.pk, actor=operator)
    assert request.status == PayoutRequest.Status.CREATED
    return request


def test_a_payout_request_approved_in_dots_shows_approved_after_sync_dots_which_says_so(dots, operator):
    request = _created_request(operator)
    dots.control(f"payout-requests/{request.dots_id}/approve")

    output = _sync_dots()

    request.refresh_from_db()
    assert request.status == PayoutRequest.Status.APPROVED and request.payout_link.dots_id
    assert f"Payout request #{request.pk}: created -> approved" in output
    event = AuditEvent.objects.filter(action="payout_request.status_changed", object_id=str(request.pk)).get()
    assert (event.actor_id, event.source) == (system_user().pk, AuditEvent.Source.SYNC)


def test_the_scheduled_sync_task_does_the_same(dots, operator):
    from reconciliation.tasks import sync_dots

    request = _created_request(operator)
    dots.control(f"payout-requests/{request.dots_id}/approve")
    summary = sync_dots()
    request.refresh_from_db()
    assert request.status == PayoutRequest.Status.APPROVED
    assert "payout requests: 1 checked, 1 changed" in summary


def test_a_payable_approved_in_dots_dashboard_is_approved_here_after_sync(people, make_payable):
    from payables import services

    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable.refresh_from_db()
    approver_dots_id = next(u["id"] for u in people.dots_users if u["role"] == "ap_approver")
    client().approve_payable(payable_id=payable.dots_id, acting_user_id=approver_dots_id)

    output = _sync_dots("--only", "payables in flight")

    payable.refresh_from_db()
    assert payable.status == Payable.Status.APPROVED
    assert f"Payable {payable.bill_number} (#{payable.pk}): submitted_for_approval -> approved" in output
    event = AuditEvent.objects.filter(action="payable.synced", object_id=str(payable.pk)).get()
    assert event.source == AuditEvent.Source.SYNC and event.actor_id == system_user().pk
    # Nothing more to adopt: a second sync changes nothing and writes no audit event.
    assert "0 changed" in _sync_dots("--only", "payables in flight")
    assert AuditEvent.objects.filter(action="payable.synced").count() == 1


def test_a_payment_completed_in_dots_is_paid_here_after_sync(people, approved_payable, dots, settings):
    from payables import services

    dots.settings(payable_payment={"mode": "manual"})
    payable = services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    assert payable.status == Payable.Status.PAYMENT_INITIATED
    dots.control(f"payables/{payable.dots_id}/payment", {"status": "payment_completed"})

    sync.sync_all(actor=system_user(), steps=["payables in flight"])

    payable.refresh_from_db()
    assert payable.status == Payable.Status.PAYMENT_COMPLETED


def test_payees_status_and_compliance_follow_dots(dots, operator):
    payee = payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone="2015550177", actor=operator
    )
    assert payee.dots_status != "verified"
    dots.control(f"users/{payee.dots_user_id}/status", {"status": "verified"})

    output = _sync_dots("--only", "payees")

    payee.refresh_from_db()
    assert payee.dots_status == "verified"
    assert f"{payee}:" in output and "-> verified" in output
    event = AuditEvent.objects.filter(action="payee.refreshed", object_id=str(payee.pk)).latest("id")
    assert event.source == AuditEvent.Source.SYNC


def test_the_app_wallet_balance_is_kept_and_its_changes_audited(dots):
    dots.control(f"apps/{dots.app_id}/balance", {"balance": 123456})
    output = _sync_dots("--only", "app wallet")
    wallet = AppWallet.objects.get()
    assert wallet.balance_cents == 123456
    assert "-> $1,234.56" in output
    dots.control(f"apps/{dots.app_id}/balance", {"balance": 100})
    sync.sync_all(actor=system_user(), steps=["app wallet"])
    sync.sync_all(actor=system_user(), steps=["app wallet"])
    wallet.refresh_from_db()
    assert wallet.balance_cents == 100
    assert AuditEvent.objects.filter(action="app_wallet.synced").count() == 2


def test_dots_unreachable_for_one_step_is_reported_and_the_others_still_run(dots, operator):
    request = _created_request(operator)
    dots.control(f"payout-requests/{request.dots_id}/approve")
    dots.add_fault(method="GET", path="/v2/users*", kind="status", status=503, rate=1.0)

    output = _sync_dots("--only", "payees", "--only", "payout requests")

    assert "failed:" in output and "could not be read" in output
    request.refresh_from_db()
    assert request.status == PayoutRequest.Status.APPROVED


def test_setup_schedules_shows_the_sync_schedules_in_the_admin(client, db):
    call_command("setup_schedules", stdout=io.StringIO())
    login_verified(client, make_user("admin", role=roles.ADMINISTRATOR))
    response = client.get("/admin/django_q/schedule/")
    assert response.status_code == 200
    assert b"Sync with Dots" in response.content and b"Reconcile with Dots" in response.content


def _claimed_minutes_ago(payable, minutes=10):
    import datetime as dt

    from django.utils import timezone

    Payable.objects.filter(pk=payable.pk).update(
        dots_status="creating", last_dots_attempt_at=timezone.now() - dt.timedelta(minutes=minutes)
    )


def test_a_create_whose_answer_was_lost_is_found_in_dots_by_the_sync(people, make_payable):
    from payables import services
    from payables.selectors import acting_dots_user_id

    payable = make_payable()
    # The create reached Dots; its answer never came back.
    made = client().create_payable(
        acting_user_id=acting_dots_user_id(people.clerk),
        external_id=f"ledgerline-payable-{payable.pk}",
        funding_source=payable.funding_source,
        **services._dots_payable_fields(payable),
    )
    _claimed_minutes_ago(payable)

    output = _sync_dots("--only", "payables in flight")

    payable.refresh_from_db()
    assert payable.dots_id == made.id
    assert "interrupted create found in Dots" in output
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    assert len(client().list_payables().items) == 1


def test_a_create_that_never_reached_dots_is_released_by_the_sync(people, make_payable):
    from payables import services

    payable = make_payable()
    _claimed_minutes_ago(payable)
    sync.sync_all(actor=system_user(), steps=["payables in flight"])
    payable.refresh_from_db()
    assert (payable.dots_id, payable.dots_status) == (None, "")
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable.refresh_from_db()
    assert payable.status == Payable.Status.SUBMITTED and payable.dots_id
