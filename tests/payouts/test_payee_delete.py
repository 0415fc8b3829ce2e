"""Deleting a payee: in Dots first, then here; refused clearly when Dots refuses; audited; a second look at access."""

import pytest

from core import roles
from core.errors import DotsRejected, PermissionRefused
from core.models import AuditEvent
from payouts.errors import InvalidPayee, PayeeInUse
from payouts.models import Payee, PayoutLink
from payouts.services import payees
from tests.support import login_verified, make_user

from .conftest import phone

pytestmark = pytest.mark.django_db


def _payee(operator) -> Payee:
    return payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )


def test_delete_removes_the_user_in_dots_and_the_payee_here_and_is_audited(dots, operator):
    payee = _payee(operator)
    user_id, pk = payee.dots_user_id, payee.pk
    payees.payee_delete(payee_id=pk, reason="Left the programme", actor=operator)
    assert not Payee.objects.filter(pk=pk).exists()
    assert len(dots.received("DELETE", f"/v2/users/{user_id}")) == 1
    event = AuditEvent.objects.get(action="payee.deleted", object_id=str(pk))
    assert event.reason == "Left the programme" and event.actor == operator


def test_when_dots_refuses_the_payee_is_kept_and_the_refusal_is_said_and_audited(dots, operator):
    payee = _payee(operator)
    dots.add_fault(method="DELETE", path=f"/v2/users/{payee.dots_user_id}", kind="status", status=400, count=1)
    with pytest.raises(DotsRejected, match="Dots refused to delete"):
        payees.payee_delete(payee_id=payee.pk, reason="Duplicate", actor=operator)
    payee.refresh_from_db()
    assert payee.last_dots_error
    assert AuditEvent.objects.filter(action="payee.delete_refused", object_id=str(payee.pk)).exists()
    assert not AuditEvent.objects.filter(action="payee.deleted").exists()


def test_a_reason_is_required_and_a_payee_with_payout_links_is_kept(dots, operator):
    payee = _payee(operator)
    with pytest.raises(InvalidPayee):
        payees.payee_delete(payee_id=payee.pk, reason="  ", actor=operator)
    PayoutLink.objects.create(payee=payee, amount_cents=500, created_by=operator)
    with pytest.raises(PayeeInUse):
        payees.payee_delete(payee_id=payee.pk, reason="Gone", actor=operator)
    assert dots.received("DELETE", f"/v2/users/{payee.dots_user_id}") == []


def test_a_payer_or_manager_may_not_delete_a_payee(dots, operator, payer):
    payee = _payee(operator)
    for who in (payer, make_user("mgr", role=roles.MANAGER)):
        with pytest.raises(PermissionRefused):
            payees.payee_delete(payee_id=payee.pk, reason="No", actor=who)
    assert Payee.objects.filter(pk=payee.pk).exists()


def test_the_delete_page_asks_for_a_reason_and_shows_dots_refusal(dots, operator, client):
    payee = _payee(operator)
    login_verified(client, operator)
    page = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
    assert f"/admin/payouts/payee/{payee.pk}/remove/" in page
    dots.add_fault(method="DELETE", path=f"/v2/users/{payee.dots_user_id}", kind="status", status=400, count=1)
    refused = client.post(f"/admin/payouts/payee/{payee.pk}/remove/", {"reason": "Duplicate"})
    assert refused.status_code == 200 and "Dots refused to delete" in refused.content.decode()
    done = client.post(f"/admin/payouts/payee/{payee.pk}/remove/", {"reason": "Duplicate"})
    assert done.status_code == 302 and not Payee.objects.filter(pk=payee.pk).exists()
