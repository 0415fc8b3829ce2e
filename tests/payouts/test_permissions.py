"""Every state-changing payouts service checks its permission first: a refused user changes nothing
here and sends nothing to Dots. Pushes run as the person who asked, so their queued retries do too."""

import pytest
from django.utils import timezone

from core import action_queue, roles
from core.errors import DotsUnavailable, PermissionRefused
from core.models import AuditEvent, QueuedDotsAction
from payouts import seam as payouts_seam
from payouts import tasks as payout_tasks
from payouts.models import Payee, PayeeImport, PayoutLink, PayoutRequest, PayoutRun
from payouts.services import payee_import_check, payee_imports, payees, payout_links, payout_requests, payout_runs
from tests.support import make_user

from .conftest import csv_bytes, good_rows, phone, upload

pytestmark = pytest.mark.django_db

MODELS = (Payee, PayeeImport, PayoutLink, PayoutRequest, PayoutRun, QueuedDotsAction)


@pytest.fixture
def manager(db):
    """Reads everything, changes nothing."""
    return make_user("manager", role=roles.MANAGER)


@pytest.fixture
def world(dots, operator):
    """One of each record, made by an operator, in the state each refused service would act on."""
    payee = payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )
    pending_link = payout_links.payout_link_request(amount_cents=500, payee_id=payee.pk, actor=operator, push=False)
    link = payout_links.payout_link_request(amount_cents=600, payee_id=payee.pk, actor=operator, push=False)
    link = payout_links.payout_link_push(payout_link_id=link.pk, actor=operator)
    pending_request = payout_requests.payout_request_request(
        amount_cents=700, payee_id=payee.pk, actor=operator, push=False
    )
    request = payout_requests.payout_request_request(amount_cents=800, payee_id=payee.pk, actor=operator, push=False)
    request = payout_requests.payout_request_push(payout_request_id=request.pk, actor=operator)
    preview = payee_import_check.payee_import_preview(
        fileobj=upload(csv_bytes(good_rows(1))), file_name="p.csv", actor=operator
    )
    queued = payee_import_check.payee_import_preview(
        fileobj=upload(csv_bytes(good_rows(1))), file_name="q.csv", actor=operator
    )
    PayeeImport.objects.filter(pk=queued.pk).update(status=PayeeImport.Status.QUEUED)
    with_amounts = payee_import_check.payee_import_preview(
        fileobj=upload(
            csv_bytes([f"{row},5.00" for row in good_rows(1)], header="first_name,last_name,email,phone,amount")
        ),
        file_name="run.csv",
        actor=operator,
    )
    payee_imports.payee_import_confirm(import_id=with_amounts.pk, actor=operator)
    payee_imports.payee_import_process(import_id=with_amounts.pk, actor=operator)
    run = PayoutRun.objects.get(payee_import=with_amounts)
    sent_run = PayoutRun.objects.create(payee_import=queued, created_by=operator, status=PayoutRun.Status.SENT)
    return {
        "payee": payee,
        "pending_link": pending_link,
        "link": link,
        "pending_request": pending_request,
        "request": request,
        "preview": preview,
        "queued": queued,
        "run": run,
        "sent_run": sent_run,
    }


CALLS = {
    "payee_create": lambda w, u: payees.payee_create(
        first_name="Bo", last_name="Kim", email="bo@example.com", phone=phone(), actor=u
    ),
    "payee_update": lambda w, u: payees.payee_update(
        payee_id=w["payee"].pk, metadata={"team": "x"}, external_id="E1", actor=u
    ),
    "payee_refresh": lambda w, u: payees.payee_refresh(payee_id=w["payee"].pk, actor=u),
    "payee_send_verification": lambda w, u: payees.payee_send_verification(payee_id=w["payee"].pk, actor=u),
    "payee_verify": lambda w, u: payees.payee_verify(payee_id=w["payee"].pk, token="123456", actor=u),
    "payee_import_preview": lambda w, u: payee_import_check.payee_import_preview(
        fileobj=upload(csv_bytes(good_rows(1))), file_name="x.csv", actor=u
    ),
    "payee_import_confirm": lambda w, u: payee_imports.payee_import_confirm(import_id=w["preview"].pk, actor=u),
    "payee_import_discard": lambda w, u: payee_imports.payee_import_discard(import_id=w["preview"].pk, actor=u),
    "payee_import_cancel": lambda w, u: payee_imports.payee_import_cancel(import_id=w["queued"].pk, actor=u),
    "payee_import_process": lambda w, u: payee_imports.payee_import_process(import_id=w["queued"].pk, actor=u),
    "payout_link_request": lambda w, u: payout_links.payout_link_request(amount_cents=100, actor=u),
    "payout_link_push": lambda w, u: payout_links.payout_link_push(payout_link_id=w["pending_link"].pk, actor=u),
    "payout_link_refresh": lambda w, u: payout_links.payout_link_refresh(payout_link_id=w["link"].pk, actor=u),
    "payout_link_cancel": lambda w, u: payout_links.payout_link_cancel(payout_link_id=w["link"].pk, actor=u),
    "payout_link_redeliver": lambda w, u: payout_links.payout_link_redeliver(payout_link_id=w["link"].pk, actor=u),
    "payout_request_request": lambda w, u: payout_requests.payout_request_request(
        amount_cents=100, phone=phone(), actor=u
    ),
    "payout_request_push": lambda w, u: payout_requests.payout_request_push(
        payout_request_id=w["pending_request"].pk, actor=u
    ),
    "payout_request_refresh": lambda w, u: payout_requests.payout_request_refresh(
        payout_request_id=w["request"].pk, actor=u
    ),
    "payout_run_approve": lambda w, u: payout_runs.payout_run_approve(run_id=w["run"].pk, actor=u),
    "payout_run_cancel": lambda w, u: payout_runs.payout_run_cancel(run_id=w["run"].pk, actor=u),
    "payout_run_send": lambda w, u: payout_runs.payout_run_send(run_id=w["run"].pk, actor=u),
    "payout_run_retry_failed": lambda w, u: payout_runs.payout_run_retry_failed(run_id=w["sent_run"].pk, actor=u),
}


def _state():
    return (
        tuple(model.objects.count() for model in MODELS),
        tuple(PayoutLink.objects.order_by("pk").values_list("status", "dots_id")),
        tuple(PayoutRequest.objects.order_by("pk").values_list("status", "dots_id")),
        tuple(PayeeImport.objects.order_by("pk").values_list("status", "cancel_requested")),
        tuple(PayoutRun.objects.order_by("pk").values_list("status", flat=True)),
        tuple(Payee.objects.order_by("pk").values_list("external_id", "dots_status")),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("service", sorted(CALLS))
def test_a_manager_is_refused_every_payouts_change_and_nothing_reaches_dots(dots, world, manager, service):
    before, sent_before = _state(), len(dots.received())

    with pytest.raises(PermissionRefused) as refused:
        CALLS[service](world, manager)

    assert refused.value.code == "permission-refused"
    assert "Your role does not allow you to" in str(refused.value)
    assert _state() == before
    assert len(dots.received()) == sent_before


def test_an_operator_is_refused_approving_a_run_they_did_not_prepare(dots, world, operator):
    other = make_user("operator2", role=roles.PAYOUTS_OPERATOR)
    before, sent_before = _state(), len(dots.received())

    with pytest.raises(PermissionRefused) as refused:
        payout_runs.payout_run_approve(run_id=world["run"].pk, actor=other)

    assert refused.value.code == "permission-refused"
    assert _state() == before and len(dots.received()) == sent_before


def test_a_payer_sends_an_approved_run_without_being_allowed_to_create_payout_links_one_by_one(
    dots, operator, payer, django_capture_on_commit_callbacks
):
    imp = payee_import_check.payee_import_preview(
        fileobj=upload(
            csv_bytes([f"{row},5.00" for row in good_rows(2)], header="first_name,last_name,email,phone,amount")
        ),
        file_name="run.csv",
        actor=operator,
    )
    payee_imports.payee_import_confirm(import_id=imp.pk, actor=operator)
    payee_imports.payee_import_process(import_id=imp.pk, actor=operator)
    run = PayoutRun.objects.get(payee_import=imp)
    assert not payer.has_perm("payouts.add_payoutlink")

    with django_capture_on_commit_callbacks(execute=True):
        payout_runs.payout_run_approve(run_id=run.pk, actor=payer)

    assert PayoutLink.objects.filter(created_by=payer, dots_id__isnull=False).count() == 2


def test_a_push_started_by_a_person_runs_as_that_person(dots, operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        link = payout_links.payout_link_request(amount_cents=900, actor=operator)

    link.refresh_from_db()
    assert link.dots_id
    assert AuditEvent.objects.get(action="payout_link.created", object_id=str(link.pk)).actor == operator


def test_a_request_push_started_by_a_person_runs_as_that_person(dots, operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = payout_requests.payout_request_request(amount_cents=900, phone=phone(), actor=operator)

    request.refresh_from_db()
    assert request.dots_id
    assert AuditEvent.objects.get(action="payout_request.created", object_id=str(request.pk)).actor == operator


def test_a_push_task_queued_before_tasks_carried_a_person_runs_as_the_system_user(dots, operator):
    from core.audit import system_user

    link = payout_links.payout_link_request(amount_cents=900, actor=operator, push=False)

    payout_tasks.payout_link_push(link.pk)

    assert AuditEvent.objects.get(action="payout_link.created", object_id=str(link.pk)).actor == system_user()


def test_a_retry_queued_by_a_persons_push_is_refused_once_their_role_is_removed(dots, operator):
    link = payout_links.payout_link_request(amount_cents=900, actor=operator, push=False)
    dots.add_fault(method="POST", path="/v2/payout-links*", kind="status", status=503, rate=1)
    with pytest.raises(DotsUnavailable):
        payout_tasks.payout_link_push(link.pk, operator.pk)
    action = QueuedDotsAction.objects.get(kind=payouts_seam.PAYOUT_LINK_PUSH)
    assert action.actor == operator
    dots.control("faults/clear")
    operator.groups.clear()
    QueuedDotsAction.objects.filter(pk=action.pk).update(next_attempt_at=timezone.now())
    sent_before = len(dots.received("POST", "/v2/payout-links"))

    action_queue.drain()

    action.refresh_from_db()
    assert action.status == QueuedDotsAction.Status.FAILED
    assert "Your role does not allow you to create payout links" in action.last_error
    assert len(dots.received("POST", "/v2/payout-links")) == sent_before
    assert PayoutLink.objects.get(pk=link.pk).dots_id is None
