"""A payee's W-9: sent to Dots with the TIN, which is never kept, shown, logged or audited in full."""

import logging

import pytest

from core.models import AuditEvent
from payouts.models import Payee
from payouts.services import payees
from tests.support import login_verified

from .conftest import phone

pytestmark = pytest.mark.django_db
TIN = "123456789"
FORM = {
    "entity_type": "individual",
    "business_name": "",
    "date_of_birth": "1980-04-02",
    "tin": "123-45-6789",
    "line_1": "1 Main St",
    "line_2": "",
    "city": "Newark",
    "state": "NJ",
    "postcode": "07102",
}


@pytest.fixture
def payee(dots, operator):
    return payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )


def test_the_w9_reaches_dots_and_the_tin_is_nowhere_here(dots, operator, payee, client, caplog):
    caplog.set_level(logging.DEBUG)
    login_verified(client, operator)
    assert client.get(f"/admin/payouts/payee/{payee.pk}/tax-form/").status_code == 200
    done = client.post(f"/admin/payouts/payee/{payee.pk}/tax-form/", FORM)
    assert done.status_code == 302
    (call,) = dots.received("PUT", f"/v2/users/{payee.dots_user_id}/compliance")
    assert call["body"]["w9"]["address"]["country"] == "US"  # the emulator logs the TIN redacted
    payee.refresh_from_db()
    assert payee.compliance.get("tax_id_collected") is True and payee.compliance.get("tax_id_verification") == "matched"
    page = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
    rows = [str(p.__dict__) for p in Payee.objects.all()]
    audits = [str((e.changes, e.reason, e.object_repr)) for e in AuditEvent.objects.all()]
    for text in (page, caplog.text, *rows, *audits):
        assert TIN not in text and "123-45-6789" not in text
    event = AuditEvent.objects.get(action="payee.compliance_set")
    assert "6789" in str(event.changes)


def test_after_an_error_the_tin_comes_back_empty_with_a_note(dots, operator, payee, client):
    login_verified(client, operator)
    page = client.post(f"/admin/payouts/payee/{payee.pk}/tax-form/", {**FORM, "entity_type": "business"})
    text = page.content.decode()
    assert page.status_code == 200 and "legal business name" in text
    assert "For your security, type it again." in text and "6789" not in text
    assert dots.received("PUT", f"/v2/users/{payee.dots_user_id}/compliance") == []


def test_a_payer_may_not_set_tax_information(dots, payer, payee, client):
    login_verified(client, payer)
    assert client.post(f"/admin/payouts/payee/{payee.pk}/tax-form/", FORM).status_code == 403
    assert dots.received("PUT", f"/v2/users/{payee.dots_user_id}/compliance") == []
