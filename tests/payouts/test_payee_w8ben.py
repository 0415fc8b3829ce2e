"""A payee's W-8BEN: sent to Dots with the foreign tax id, which is never kept, echoed back or audited in full."""

import logging

import pytest

from core import roles
from core.errors import PermissionRefused
from core.models import AuditEvent
from payouts.errors import InvalidPayee
from payouts.services import payees
from tests.support import login_verified, make_user

from .conftest import phone

pytestmark = pytest.mark.django_db
FTIN = "65929970489"  # a German tax id (Steuer-IdNr), 11 digits
FORM = {
    "name": "Anna Schmidt",
    "citizenship_country": "DE",
    "date_of_birth": "1985-06-01",
    "foreign_tax_id": FTIN,
    "tax_treaty_country": "DE",
    "tax_treaty_citation": "Article 12(1)",
    "tax_treaty_rate": "15",
    "tax_treaty_income_type": "copyright12",
    "tax_treaty_explanation": "Royalties for translated books",
    "line_1": "Unter den Linden 1",
    "line_2": "",
    "city": "Berlin",
    "state": "",
    "postcode": "10117",
    "country": "DE",
    "consent": "on",
    "signer_name": "Anna Schmidt",
    "signer_email": "anna@example.com",
}
TREATY = ("tax_treaty_country", "tax_treaty_citation", "tax_treaty_rate", "tax_treaty_income_type",
          "tax_treaty_explanation")  # fmt: skip
NO_TREATY = dict.fromkeys(TREATY, "")


@pytest.fixture
def payee(dots, operator):
    return payees.payee_create(
        first_name="Anna", last_name="Schmidt", email="anna@example.com", phone=phone(), actor=operator
    )


def _url(payee) -> str:
    return f"/admin/payouts/payee/{payee.pk}/w-8ben/"


def _compliance_calls(dots, payee):
    return dots.received("PUT", f"/v2/users/{payee.dots_user_id}/compliance")


def test_the_w8ben_reaches_dots_with_the_rate_as_a_fraction_and_the_tax_id_is_kept_nowhere(
    dots, operator, payee, client, caplog
):
    caplog.set_level(logging.DEBUG)
    login_verified(client, operator)
    form = client.get(_url(payee)).content.decode()
    assert 'value="Anna Schmidt"' in form and "Copyright royalties" in form and "Send the W-8BEN" in form

    done = client.post(_url(payee), FORM)

    assert done.status_code == 302
    (call,) = _compliance_calls(dots, payee)
    sent = call["body"]["w8ben"]  # the emulator's log masks the tax id, the birth date and the signature
    assert sent["tax_treaty_rate"] == 0.15 and sent["tax_treaty_income_type"] == "copyright12"
    assert sent["citizenship_country"] == "DE" and sent["address"]["country"] == "DE"
    assert sent["tax_treaty_citation"] == "Article 12(1)" and "foreign_tax_id" in sent and "signature" in sent
    payee.refresh_from_db()
    assert payee.compliance.get("w8_ben_collected") is True  # Dots accepted it and the payee was read back
    event = AuditEvent.objects.get(action="payee.w8ben_sent")
    assert event.actor == operator and event.object_id == str(payee.pk)
    assert event.changes["foreign_tax_id_last4"]["after"] == "0489"
    assert event.changes["tax_treaty_rate"]["after"] == "15 %"
    assert event.changes["tax_treaty_income"]["after"] == "Copyright royalties"
    page = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
    assert "tax form collected" in page
    for text in (page, caplog.text, str(payee.__dict__), str(event.changes)):
        assert FTIN not in text


def test_a_citizen_of_a_country_without_tax_ids_needs_none(dots, operator, payee, client):
    login_verified(client, operator)
    body = {**FORM, **NO_TREATY, "citizenship_country": "JP", "foreign_tax_id": "", "country": "JP"}
    assert client.post(_url(payee), body).status_code == 302
    (call,) = _compliance_calls(dots, payee)
    assert "foreign_tax_id" not in call["body"]["w8ben"] and "tax_treaty_rate" not in call["body"]["w8ben"]
    event = AuditEvent.objects.get(action="payee.w8ben_sent")
    assert event.changes["foreign_tax_id_last4"]["after"] == "none given"


def test_missing_fields_are_named_and_the_tax_id_is_not_sent_back(dots, operator, payee, client):
    login_verified(client, operator)
    page = client.post(_url(payee), {**FORM, "consent": "", "signer_email": "", "tax_treaty_rate": ""})
    text = page.content.decode()
    assert page.status_code == 200
    assert "A treaty claim needs the rate." in text
    assert "Tick this once the payee has signed" in text  # the signature's consent
    assert text.count("This field is required.") == 1  # the signer's email
    assert "For your security, type it again." in text and FTIN not in text
    no_id = client.post(_url(payee), {**FORM, "foreign_tax_id": ""}).content.decode()
    assert "Dots requires the foreign tax id of a citizen of Germany." in no_id
    treaty = client.post(_url(payee), {**FORM, "tax_treaty_country": "", "tax_treaty_income_type": ""})
    assert "A treaty claim needs the treaty country." in treaty.content.decode()
    assert "A treaty claim needs the kind of income." in treaty.content.decode()
    too_high = client.post(_url(payee), {**FORM, "tax_treaty_rate": "35"}).content.decode()
    assert "less than or equal to 30" in too_high and FTIN not in too_high
    assert _compliance_calls(dots, payee) == []
    assert not AuditEvent.objects.filter(action="payee.w8ben_sent").exists()


def test_dots_refusal_is_shown_on_the_form_without_the_tax_id(dots, operator, payee, client):
    login_verified(client, operator)
    dots.add_fault(method="PUT", path="/v2/users/*/compliance", kind="status", status=400, count=1)
    page = client.post(_url(payee), FORM)
    text = page.content.decode()
    assert page.status_code == 200 and "errornote" in text and "Dots refused to send the payee&#x27;s W-8BEN" in text
    assert "For your security, type it again." in text and FTIN not in text
    assert 'value="Unter den Linden 1"' in text  # the rest of the form is kept
    payee.refresh_from_db()
    assert "Dots refused" in payee.last_dots_error and FTIN not in payee.last_dots_error
    assert not AuditEvent.objects.filter(action="payee.w8ben_sent").exists()


def test_the_w9_and_the_w8ben_pages_lead_to_each_other(dots, operator, payee, client):
    login_verified(client, operator)
    w9 = client.get(f"/admin/payouts/payee/{payee.pk}/tax-form/").content.decode()
    assert "Payee outside the United States?" in w9 and _url(payee) in w9
    w8 = client.get(_url(payee)).content.decode()
    assert f"/admin/payouts/payee/{payee.pk}/tax-form/" in w8
    change = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
    assert _url(payee) in change


def test_a_payer_or_manager_may_not_send_a_w8ben(dots, payer, payee, client):
    manager = make_user("manager", role=roles.MANAGER)
    for user in (payer, manager):
        login_verified(client, user)
        assert client.get(_url(payee)).status_code == 403
        assert client.post(_url(payee), FORM).status_code == 403
    with pytest.raises(PermissionRefused):
        payees.payee_set_w8ben(payee_id=payee.pk, w8ben={"name": "Anna"}, actor=payer)
    assert _compliance_calls(dots, payee) == []


def test_the_service_refuses_an_incomplete_w8ben_before_calling_dots(dots, operator, payee):
    w8ben = {
        "name": "Anna Schmidt",
        "citizenship_country": "DE",
        "date_of_birth": "1985-06-01",
        "address": {"line_1": "Unter den Linden 1", "city": "Berlin", "postcode": "10117", "country": "DE"},
        "signature": {"consent": False, "name": "Anna Schmidt", "email": "anna@example.com"},
        "tax_treaty_country": "DE",
        "tax_treaty_rate": 15,
    }
    with pytest.raises(InvalidPayee) as refused:
        payees.payee_set_w8ben(payee_id=payee.pk, w8ben=w8ben, actor=operator)
    message = str(refused.value)
    assert refused.value.code == "invalid-w8ben"
    for words in ("foreign tax id", "signature (consent)", "treaty rate from 0 to 30 %", "kind of income"):
        assert words in message
    assert _compliance_calls(dots, payee) == []
