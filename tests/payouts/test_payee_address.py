"""A payee's postal address: sent to Dots (add-user-address), kept here to show, audited before and after."""

import pytest

from core.dots_gateway import client as dots_client
from core.errors import PermissionRefused
from core.models import AuditEvent
from payouts.errors import InvalidPayee
from payouts.models import Payee
from payouts.services import payees
from tests.support import login_verified, make_user

from .conftest import phone

pytestmark = pytest.mark.django_db
US = {
    "line_1": "1 Main St",
    "line_2": "Suite 200",
    "line_3": "",
    "city": "Newark",
    "country": "US",
    "state": "NJ",
    "region": "",
    "postcode": "07102",
}
UK = {
    "line_1": "10 Downing Street",
    "line_2": "",
    "line_3": "",
    "city": "London",
    "country": "GB",
    "state": "",
    "region": "Greater London",
    "postcode": "SW1A 2AA",
}


@pytest.fixture
def payee(dots, operator):
    return payees.payee_create(
        first_name="Ann", last_name="Lee", email="ann@example.com", phone=phone(), actor=operator
    )


def _url(payee) -> str:
    return f"/admin/payouts/payee/{payee.pk}/address/"


def test_a_us_address_reaches_dots_and_the_payee_page_shows_it(dots, operator, payee, client):
    login_verified(client, operator)
    change = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
    assert _url(payee) in change and "none sent to Dots from here" in change
    form = client.get(_url(payee)).content.decode()
    assert "Send the address to Dots" in form and '<option value="NJ">' in form  # a select of state codes

    done = client.post(_url(payee), US)

    assert done.status_code == 302
    (call,) = dots.received("PUT", f"/v2/users/{payee.dots_user_id}/addresses")
    assert call["body"] == {
        "line_1": "1 Main St",
        "line_2": "Suite 200",
        "city": "Newark",
        "state": "NJ",
        "postcode": "07102",
        "country": "US",
    }
    assert dots_client().retrieve_user(user_id=payee.dots_user_id).compliance["address_collected"] is True
    payee.refresh_from_db()
    assert (payee.address_line_1, payee.address_city, payee.address_state, payee.address_country) == (
        "1 Main St",
        "Newark",
        "NJ",
        "US",
    )
    page = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
    assert "1 Main St" in page and "Suite 200" in page and "Newark, NJ 07102" in page and "United States" in page
    event = AuditEvent.objects.get(action="payee.address_set")
    assert event.actor == operator and event.object_id == str(payee.pk)
    assert event.changes["address_city"] == {"before": "", "after": "Newark"}
    # The form opens with the address now kept, and so does the W-9.
    again = client.get(_url(payee)).content.decode()
    assert 'value="1 Main St"' in again and '<option value="NJ" selected>' in again
    w9 = client.get(f"/admin/payouts/payee/{payee.pk}/tax-form/").content.decode()
    assert 'value="1 Main St"' in w9 and '<option value="NJ" selected>' in w9


def test_dots_unreachable_is_said_on_the_form_and_nothing_is_kept(dots, operator, payee, client):
    login_verified(client, operator)
    dots.add_fault(method="PUT", path="/v2/users/*/addresses", kind="status", status=503)
    text = client.post(_url(payee), US).content.decode()
    assert "errornote" in text and "Dots could not be reached to add the payee&#x27;s address" in text
    payee.refresh_from_db()
    assert payee.address_line_1 == "" and not AuditEvent.objects.filter(action="payee.address_set").exists()


def test_an_address_outside_the_us_sends_its_region_as_the_state(dots, operator, payee, client):
    login_verified(client, operator)
    assert client.post(_url(payee), UK).status_code == 302
    (call,) = dots.received("PUT", f"/v2/users/{payee.dots_user_id}/addresses")
    assert call["body"]["state"] == "Greater London" and call["body"]["country"] == "GB"
    page = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
    assert "London, Greater London SW1A 2AA" in page and "United Kingdom" in page


def test_missing_fields_are_named_and_nothing_reaches_dots(dots, operator, payee, client):
    login_verified(client, operator)
    page = client.post(_url(payee), {**US, "city": "", "state": "", "postcode": "7102"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Choose the state: Dots requires it for an address in the United States." in text
    assert "A ZIP code has 5 digits" in text
    assert 'id="id_city"' in text and "This field is required." in text
    outside = client.post(_url(payee), {**UK, "region": ""}).content.decode()
    assert "Type the state, province or region: Dots requires one (address in United Kingdom)." in outside
    assert dots.received("PUT", f"/v2/users/{payee.dots_user_id}/addresses") == []
    payee.refresh_from_db()
    assert payee.address_line_1 == "" and not AuditEvent.objects.filter(action="payee.address_set").exists()


def test_dots_refusal_is_shown_on_the_form_and_nothing_is_kept(dots, operator, payee, client):
    login_verified(client, operator)
    dots.add_fault(method="PUT", path="/v2/users/*/addresses", kind="status", status=400, count=1)
    page = client.post(_url(payee), US)
    text = page.content.decode()
    assert page.status_code == 200
    assert "errornote" in text and "Dots refused to add the payee&#x27;s address" in text
    assert 'value="1 Main St"' in text  # an address is not secret: the form keeps what was typed
    payee.refresh_from_db()
    assert payee.address_line_1 == "" and "Dots refused" in payee.last_dots_error
    assert not AuditEvent.objects.filter(action="payee.address_set").exists()


def test_a_payee_deleted_in_dots_is_refused_clearly(dots, operator, payee, client):
    dots_client().delete_user(user_id=payee.dots_user_id)
    login_verified(client, operator)
    text = client.post(_url(payee), US).content.decode()
    assert "errornote" in text and "Dots refused to add the payee&#x27;s address" in text


def test_a_payer_or_manager_may_not_set_the_address(dots, payer, payee, client):
    from core import roles

    manager = make_user("manager", role=roles.MANAGER)
    for user in (payer, manager):
        login_verified(client, user)
        assert client.get(_url(payee)).status_code == 403
        assert client.post(_url(payee), US).status_code == 403
        page = client.get(f"/admin/payouts/payee/{payee.pk}/change/").content.decode()
        assert _url(payee) not in page  # no button leading to a refusal
    with pytest.raises(PermissionRefused):
        payees.payee_set_address(payee_id=payee.pk, address={"line_1": "1 Main St"}, actor=payer)
    assert dots.received("PUT", f"/v2/users/{payee.dots_user_id}/addresses") == []


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ({"line_1": "1 Main St", "city": "Newark", "state": "ZZ", "postcode": "07102", "country": "US"}, "ZZ"),
        ({"line_1": "1 Main St", "city": "Newark", "state": "NJ", "postcode": "07102", "country": "USA"}, "two-letter"),
        ({"line_1": "1 Main St", "state": "NJ", "postcode": "07102", "country": "US"}, "needs the city"),
    ],
)
def test_the_service_checks_the_address_as_dots_does(dots, operator, payee, address, words):
    with pytest.raises(InvalidPayee) as refused:
        payees.payee_set_address(payee_id=payee.pk, address=address, actor=operator)
    assert refused.value.code == "invalid-address" and words in str(refused.value)
    assert dots.received("PUT", f"/v2/users/{payee.dots_user_id}/addresses") == []
    assert Payee.objects.get(pk=payee.pk).address_line_1 == ""
