"""Reconciliation: disagreements with Dots reported, adopted by an Administrator, in-doubt records settled."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from core import roles
from core.audit import system_user
from core.dots_gateway import client
from core.errors import DotsOutcomeUnknownError, PermissionRefused
from core.models import AuditEvent
from payables import services as payable_services
from payables.models import Payable
from payouts.models import PayoutLink
from payouts.services import payees, payout_links, payout_requests
from reconciliation import services
from reconciliation.models import Discrepancy, ReconciliationRun
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return make_user("operator", role=roles.PAYOUTS_OPERATOR)


@pytest.fixture
def administrator(db):
    return make_user("administrator", role=roles.ADMINISTRATOR)


def _link(operator, amount=900) -> PayoutLink:
    link = payout_links.payout_link_request(amount_cents=amount, actor=operator, push=False)
    return payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)


def _open(record_type=None):
    rows = Discrepancy.objects.filter(resolution="")
    return list(rows.filter(record_type=record_type) if record_type else rows)


def test_drift_made_on_purpose_is_reported_then_adopted_and_audited(dots, operator, administrator):
    link = _link(operator)
    # Drift: our row says claimed and a different amount, Dots says created and 900.
    PayoutLink.objects.filter(pk=link.pk).update(status="claimed", amount_cents=950)

    result = services.reconcile_all(actor=system_user(), trigger="command")

    rows = {d.kind: d for d in _open("payout_link")}
    assert set(rows) == {"status", "amount"}
    assert (rows["status"].local_value, rows["status"].dots_value) == ("claimed", "created")
    assert (rows["amount"].local_value, rows["amount"].dots_value) == ("950", "900")
    assert len(result.opened) == 2
    opened = AuditEvent.objects.filter(action="discrepancy.opened")
    assert opened.count() == 2 and {e.source for e in opened} == {AuditEvent.Source.RECONCILE}
    assert {e.actor_id for e in opened} == {system_user().pk}

    # Found again: still one open row each, not a second.
    services.reconcile_all(actor=system_user())
    assert len(_open("payout_link")) == 2

    for row in rows.values():
        services.discrepancy_adopt(discrepancy_id=row.pk, actor=administrator)
    link.refresh_from_db()
    assert (link.status, link.amount_cents) == ("created", 900)
    adopted = AuditEvent.objects.filter(action="payout_link.adopted_from_dots", object_id=str(link.pk))
    assert adopted.count() == 2 and {e.actor_id for e in adopted} == {administrator.pk}
    assert {e.source for e in adopted} == {AuditEvent.Source.RECONCILE}
    assert all(not row.is_open for row in Discrepancy.objects.all())
    assert Discrepancy.objects.filter(resolution="adopted", resolved_by=administrator).count() == 2

    services.reconcile_all(actor=system_user())
    assert _open() == []


def test_a_disagreement_that_goes_away_closes_by_itself(dots, operator):
    link = _link(operator)
    PayoutLink.objects.filter(pk=link.pk).update(status="claimed")
    services.reconcile_all(actor=system_user())
    assert len(_open("payout_link")) == 1
    dots.control(f"payout-links/{link.dots_id}/advance", {"status": "claimed"})
    result = services.reconcile_all(actor=system_user())
    assert _open("payout_link") == []
    assert Discrepancy.objects.get(record_type="payout_link").resolution == "agrees_again"
    assert len(result.closed) == 1


def test_records_missing_on_either_side_are_reported_and_adopted(dots, operator, administrator):
    link = _link(operator)
    # Missing here: a link made in Dots' dashboard. Missing in Dots: a Dots id Dots does not know.
    made_in_dots = (
        client().create_payout_link(amount=700, delivery={"method": "link"}, idempotency_key=str(uuid.uuid4())).raw
    )
    PayoutLink.objects.filter(pk=link.pk).update(dots_id="00000000-0000-4000-8000-000000000000")

    services.reconcile_all(actor=system_user())

    kinds = {(d.kind, d.dots_id) for d in _open("payout_link")}
    assert ("missing_locally", made_in_dots["id"]) in kinds
    assert ("missing_in_dots", "00000000-0000-4000-8000-000000000000") in kinds
    for row in _open("payout_link"):
        if row.kind in ("missing_locally", "missing_in_dots"):
            services.discrepancy_adopt(discrepancy_id=row.pk, actor=administrator)
    adopted = PayoutLink.objects.get(dots_id=made_in_dots["id"])
    assert (adopted.amount_cents, adopted.status) == (700, made_in_dots["status"])
    link.refresh_from_db()
    assert link.status == PayoutLink.Status.CANCELED


def test_a_payable_status_drift_is_reported_and_adopting_reads_dots_again(people, approved_payable, administrator):
    Payable.objects.filter(pk=approved_payable.pk).update(status=Payable.Status.REJECTED)
    services.reconcile_all(actor=system_user(), record_types=["payable"])
    row = Discrepancy.objects.get(record_type="payable", resolution="")
    assert (row.kind, row.local_value, row.dots_value) == ("status", "rejected", "approved")
    assert row.local_id == approved_payable.pk
    services.discrepancy_adopt(discrepancy_id=row.pk, actor=administrator)
    approved_payable.refresh_from_db()
    assert approved_payable.status == Payable.Status.APPROVED


def test_only_an_administrator_may_adopt(dots, operator, people):
    link = _link(operator)
    PayoutLink.objects.filter(pk=link.pk).update(status="claimed")
    services.reconcile_all(actor=system_user())
    row = Discrepancy.objects.get()
    with pytest.raises(PermissionRefused):
        services.discrepancy_adopt(discrepancy_id=row.pk, actor=people.payer)
    link.refresh_from_db()
    assert link.status == "claimed"


def test_a_payment_whose_answer_was_lost_is_settled_by_reconciliation(people, approved_payable, dots, settings):
    dots.settings(payable_payment={"mode": "manual"})
    # Dots fails the read-back too, so the payable stays in doubt until reconciliation runs.
    dots.add_fault(method="POST", path="/v2/accounts-payable/payables/*/pay", kind="drop", count=1)
    dots.add_fault(method="GET", path="/v2/accounts-payable/payables/*", kind="status", status=503, rate=1.0)
    with pytest.raises(DotsOutcomeUnknownError):
        payable_services.payable_pay(payable_id=approved_payable.pk, actor=people.payer)
    approved_payable.refresh_from_db()
    assert approved_payable.status == Payable.Status.OUTCOME_UNKNOWN
    dots.control("faults/clear")

    result = services.reconcile_all(actor=system_user())

    approved_payable.refresh_from_db()
    assert approved_payable.status == Payable.Status.PAYMENT_INITIATED
    assert any(f"#{approved_payable.pk}" in line for line in result.settled)
    assert len(dots.received("POST", "/v2/accounts-payable/payables/*/pay")) == 1
    assert _open("payable") == []


def test_a_pay_call_left_unanswered_by_a_dead_worker_is_settled_without_paying_again(
    people, approved_payable, dots, settings
):
    """A worker died after sending `pay`: the payable sits in 'payment being sent' with nobody waiting."""
    settings.PAY_REQUEST_STALE_SECONDS = 60
    settings.PAY_OUTCOME_SETTLE_SECONDS = 0
    dots.settings(payable_payment={"mode": "manual"})
    payer_dots_id = next(u["id"] for u in people.dots_users if u["role"] == "payer")
    client().pay_payable(payable_id=approved_payable.dots_id, acting_user_id=payer_dots_id)
    Payable.objects.filter(pk=approved_payable.pk).update(
        status=Payable.Status.PAY_REQUESTED, pay_requested_at=timezone.now() - dt.timedelta(seconds=90)
    )

    services.reconcile_all(actor=system_user())

    approved_payable.refresh_from_db()
    assert approved_payable.status == Payable.Status.PAYMENT_INITIATED
    assert len(dots.received("POST", "/v2/accounts-payable/payables/*/pay")) == 1
    actions = list(
        AuditEvent.objects.filter(object_id=str(approved_payable.pk)).order_by("id").values_list("action", flat=True)
    )
    assert "payable.interrupted_payment" in actions


def test_a_fresh_pay_call_is_left_alone(people, approved_payable, dots, settings):
    settings.PAY_REQUEST_STALE_SECONDS = 600
    Payable.objects.filter(pk=approved_payable.pk).update(
        status=Payable.Status.PAY_REQUESTED, pay_requested_at=timezone.now()
    )
    services.reconcile_all(actor=system_user(), record_types=["payable"])
    approved_payable.refresh_from_db()
    assert approved_payable.status == Payable.Status.PAY_REQUESTED


def test_a_payout_link_whose_answer_was_lost_is_settled_with_one_link_in_dots(dots, operator):
    payee = payees.payee_create(
        first_name="Cy", last_name="Oh", email="cy@example.com", phone="2015550191", actor=operator
    )
    link = payout_links.payout_link_request(amount_cents=500, payee_id=payee.pk, actor=operator, push=False)
    # Every attempt (the client retries keyed writes) loses its answer; Dots made the link the first time.
    dots.add_fault(method="POST", path="/v2/payout-links", kind="drop", rate=1.0)
    with pytest.raises(DotsOutcomeUnknownError):
        payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    link.refresh_from_db()
    assert link.status == PayoutLink.Status.UNKNOWN
    dots.control("faults/clear")

    services.reconcile_all(actor=system_user())

    link.refresh_from_db()
    assert link.status == PayoutLink.Status.CREATED and link.dots_id
    assert len(client().list_payout_links().items) == 1
    assert _open() == []


def test_the_report_in_the_admin_lists_open_disagreements_and_adopts_them(client, dots, operator, administrator):
    link = _link(operator)
    PayoutLink.objects.filter(pk=link.pk).update(status="claimed")
    services.reconcile_all(actor=system_user())
    row = Discrepancy.objects.get()
    login_verified(client, administrator)
    page = client.get("/admin/reconciliation/discrepancy/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"Payout link #{link.pk}" in text and "claimed" in text and "Status differs" in text
    assert "Last reconciliation:" in text and "Reconcile with Dots now" in text
    response = client.post(
        "/admin/reconciliation/discrepancy/", {"action": "adopt_dots_state", "_selected_action": [row.pk]}, follow=True
    )
    assert "1 adopted from Dots." in response.content.decode()
    link.refresh_from_db()
    assert link.status == "created"
    # Settled rows leave the default (open) view but stay in the history.
    assert f"Payout link #{link.pk}" not in client.get("/admin/reconciliation/discrepancy/").content.decode()
    assert f"Payout link #{link.pk}" in client.get("/admin/reconciliation/discrepancy/?state=all").content.decode()


def test_reconcile_now_runs_a_reconciliation_from_the_admin(client, dots, administrator):
    login_verified(client, administrator)
    response = client.post("/admin/reconciliation/discrepancy/run/", follow=True)
    assert response.status_code == 200
    assert ReconciliationRun.objects.filter(trigger="schedule").exclude(finished_at=None).exists()


def test_a_manager_sees_the_report_but_cannot_adopt_or_run(client, dots):
    manager = make_user("manager", role=roles.MANAGER)
    login_verified(client, manager)
    page = client.get("/admin/reconciliation/discrepancy/")
    assert page.status_code == 200
    assert "Reconcile with Dots now" not in page.content.decode()
    assert client.post("/admin/reconciliation/discrepancy/run/").status_code == 403


def test_dots_unreachable_keeps_open_disagreements_open(dots, operator):
    link = _link(operator)
    PayoutLink.objects.filter(pk=link.pk).update(status="claimed")
    services.reconcile_all(actor=system_user())
    PayoutLink.objects.filter(pk=link.pk).update(status="created")
    dots.add_fault(method="GET", path="/v2/payout-links*", kind="status", status=503, rate=1.0)
    result = services.reconcile_all(actor=system_user())
    assert result.errors and len(_open("payout_link")) == 1


def _as_if_created_minutes_ago(model, pk, minutes=10):
    model.objects.filter(pk=pk).update(created_at=timezone.now() - dt.timedelta(minutes=minutes))


def test_a_link_whose_worker_died_mid_call_is_sent_again_with_its_key_and_dots_keeps_one(dots, operator):
    link = payout_links.payout_link_request(amount_cents=800, actor=operator, push=False)
    # The worker sent the create, Dots made the link, and the worker died before recording it.
    client().create_payout_link(**link.request_body)
    _as_if_created_minutes_ago(PayoutLink, link.pk)

    result = services.reconcile_all(actor=system_user())

    link.refresh_from_db()
    assert link.status == PayoutLink.Status.CREATED and link.dots_id
    assert [each.id for each in client().list_payout_links().items] == [link.dots_id]
    assert any("sent again with its key" in line for line in result.settled)
    assert _open("payout_link") == []


def test_a_fresh_pending_link_is_left_to_its_own_task(dots, operator):
    link = payout_links.payout_link_request(amount_cents=800, actor=operator, push=False)
    services.reconcile_all(actor=system_user(), record_types=["payout_link"])
    link.refresh_from_db()
    assert link.status == PayoutLink.Status.PENDING
    assert dots.received("POST", "/v2/payout-links") == []


def test_a_request_whose_worker_died_mid_call_is_found_by_its_key_not_sent_twice(dots, operator):
    from payouts.models import PayoutRequest

    request = payout_requests.payout_request_request(amount_cents=1200, phone="2015550193", actor=operator, push=False)
    client().create_payout_request(**request.request_body)
    _as_if_created_minutes_ago(PayoutRequest, request.pk)

    services.reconcile_all(actor=system_user())

    request.refresh_from_db()
    assert request.status == PayoutRequest.Status.CREATED and request.dots_id
    assert len(dots.received("POST", "/v2/payout-requests")) == 1
    assert _open("payout_request") == []


def test_a_failure_seen_by_one_push_never_undoes_the_link_another_push_recorded(dots, operator):
    """Two pushes of the same link (same key): the second's lost answer arrives after the first recorded the link."""
    link = _link(operator)
    payout_links._link_failed(
        link, PayoutLink.Status.UNKNOWN, "answer lost", "payout_link.outcome_unknown", operator, timezone.now()
    )
    link.refresh_from_db()
    assert link.status == PayoutLink.Status.CREATED and not link.last_dots_error
