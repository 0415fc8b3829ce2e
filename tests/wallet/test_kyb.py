"""KYB information, the KYB flow link and the wallet settings: checked as Dots checks, secrets never kept."""

import copy
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from core.errors import PermissionRefused
from core.models import AuditEvent
from dots.client import DotsClient
from tests.support import login_verified
from tests.wallet.conftest import COMPLIANCE
from wallet import app_settings, kyb
from wallet.errors import InvalidCompliance, InvalidSettings
from wallet.models import App

pytestmark = pytest.mark.django_db
EIN, SSN = COMPLIANCE["company_info"]["ein"], COMPLIANCE["directors"][0]["ssn"]


@pytest.fixture
def new_app(dots):
    seeded = dots.control("seed/apps", {"name": "Acme Marketplace", "status": "created"})["data"][0]
    return App.objects.create(dots_app_id=seeded["id"], name=seeded["name"], status=App.Status.CREATED)


def _remote(dots):
    return DotsClient(dots.base_url, dots.client_id, dots.api_key)


def test_kyb_information_goes_to_dots_in_full_and_only_its_last_four_stay_here(dots, new_app, team):
    body = copy.deepcopy(COMPLIANCE)
    body["company_info"]["ubo_count"] = 99  # counted from the directors, whatever was given
    app = kyb.compliance_send(actor=team.admin, app_id=new_app.pk, body=body)

    held = _remote(dots).retrieve_app_compliance(app_id=app.dots_app_id)
    assert held["company_info"]["ein"] == EIN and held["directors"][0]["ssn"] == SSN
    assert held["company_info"]["ubo_count"] == 1
    assert (app.status, app.kyb_ein_last4, app.kyb_company_name) == (App.Status.IN_REVIEW, "6789", "Ledgerline Inc")
    event = AuditEvent.objects.get(action="app.compliance_sent")
    assert EIN not in str(event.changes) and SSN not in str(event.changes)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda b: b["company_info"].update(ein="12345678"), "company_info.ein"),
        (lambda b: b["company_info"].update(incorporation_state="XX"), "company_info.incorporation_state"),
        (lambda b: b["company_info"].update(incorporation_date="2999-01-01"), "company_info.incorporation_date"),
        (lambda b: b["directors"][0].update(ownership_percentage=60.5), None),
        (lambda b: b["directors"][0].update(ssn="123"), "directors.0.ssn"),
        (lambda b: b["directors"][0].update(dob="1980-02-30"), "directors.0.dob"),
        (lambda b: b["flow_of_funds"].update(usage="x"), "flow_of_funds.usage"),
    ],
)
def test_kyb_dots_would_refuse_is_refused_here_naming_the_field_and_nothing_is_sent(dots, new_app, team, change, key):
    body = copy.deepcopy(COMPLIANCE)
    change(body)
    if key is None:  # two owners adding up to 121 %
        body["directors"].append({**copy.deepcopy(body["directors"][0]), "first_name": "Bo", "ssn": "111223333"})
        key = "directors"
    with pytest.raises(InvalidCompliance) as refused:
        kyb.compliance_send(actor=team.admin, app_id=new_app.pk, body=body)
    assert key in refused.value.errors
    assert dots.received("PUT", "/v2/apps/*/compliance") == []


def test_an_empty_ein_and_ssn_keep_the_ones_dots_holds(dots, new_app, team):
    kyb.compliance_send(actor=team.admin, app_id=new_app.pk, body=COMPLIANCE)
    body = copy.deepcopy(COMPLIANCE)
    del body["company_info"]["ein"]
    del body["directors"][0]["ssn"]
    body["company_info"]["website"] = "https://new.example"
    kyb.compliance_send(actor=team.admin, app_id=new_app.pk, body=body)
    held = _remote(dots).retrieve_app_compliance(app_id=new_app.dots_app_id)
    assert held["company_info"]["ein"] == EIN and held["directors"][0]["ssn"] == SSN
    assert held["company_info"]["website"] == "https://new.example"


def test_a_payer_may_not_send_kyb_information(dots, new_app, team):
    with pytest.raises(PermissionRefused):
        kyb.compliance_send(actor=team.payer, app_id=new_app.pk, body=COMPLIANCE)


def test_the_kyb_page_shows_what_dots_holds_but_never_the_full_ein_or_ssn(client, dots, new_app, team):
    kyb.compliance_send(actor=team.admin, app_id=new_app.pk, body=COMPLIANCE)
    login_verified(client, team.admin)
    page = client.get(reverse("admin:wallet_app_kyb", args=[new_app.pk])).content.decode()
    assert "Ledgerline Inc" in page and "ending 6789" in page and "ending 4321" in page
    assert EIN not in page and SSN not in page
    change_page = client.get(reverse("admin:wallet_app_change", args=[new_app.pk])).content.decode()
    assert EIN not in change_page and "6789" in change_page and "KYB in review" in change_page


def test_the_kyb_page_sends_the_form_and_an_error_asks_for_the_secrets_again(client, dots, new_app, team):
    login_verified(client, team.admin)
    url = reverse("admin:wallet_app_kyb", args=[new_app.pk])
    c, contact, d = COMPLIANCE["company_info"], COMPLIANCE["contact_info"], COMPLIANCE["directors"][0]
    data = {
        **{k: c[k] for k in ("name", "website", "ein", "incorporation_type", "incorporation_state")},
        "incorporation_date": c["incorporation_date"],
        **contact,
        **COMPLIANCE["flow_of_funds"],
        "director-TOTAL_FORMS": "1",
        "director-INITIAL_FORMS": "0",
        **{f"director-0-{k}": d[k] for k in ("first_name", "last_name", "title", "phone", "email", "dob", "ssn")},
        "director-0-ownership_percentage": "160",
        **{f"director-0-{k}": v for k, v in d["address"].items()},
    }
    refused = client.post(url, data).content.decode()
    assert "For your security, type it again." in refused
    assert EIN not in refused and SSN not in refused
    assert dots.received("PUT", "/v2/apps/*/compliance") == []

    data["director-0-ownership_percentage"] = "100"
    response = client.post(url, data)
    assert response.status_code == 302
    assert _remote(dots).retrieve_app_compliance(app_id=new_app.dots_app_id)["directors"][0]["ssn"] == SSN


def test_a_new_kyb_flow_link_lasts_72_hours_and_stops_the_previous_one(dots, new_app, team):
    first = kyb.kyb_flow_create(actor=team.admin, app_id=new_app.pk).kyb_flow_url
    app = kyb.kyb_flow_create(actor=team.admin, app_id=new_app.pk)
    assert app.kyb_flow_url != first
    assert timedelta(hours=71) < app.kyb_flow_expires_at - timezone.now() <= timedelta(hours=72)
    assert requests.get(app.kyb_flow_url).status_code == 200
    assert requests.get(first).status_code == 404
    events = AuditEvent.objects.filter(action="app.kyb_flow_created", object_id=str(app.pk))
    assert events.count() == 2


def test_settings_change_is_sent_and_audited_with_before_and_after(dots, new_app, team):
    app = app_settings.settings_change(
        actor=team.admin,
        app_id=new_app.pk,
        auto_refill_active=True,
        refill_amount_cents=500_000,
        refill_threshold_cents=100_000,
        payout_options_excluded=["venmo", "paypal"],
    )
    assert (app.auto_refill_active, app.refill_amount_cents, app.payout_options_excluded) == (
        True,
        500_000,
        ["paypal", "venmo"],
    )
    event = AuditEvent.objects.get(action="app.settings_changed")
    assert "auto_refill_active" in event.changes and "refill_amount_cents" in event.changes


@pytest.mark.parametrize("cents", [999, 1_000_001])
def test_a_refill_outside_dots_limits_is_refused_and_nothing_is_sent(dots, new_app, team, cents):
    with pytest.raises(InvalidSettings):
        app_settings.settings_change(
            actor=team.admin,
            app_id=new_app.pk,
            auto_refill_active=True,
            refill_amount_cents=cents,
            refill_threshold_cents=5_000,
            payout_options_excluded=[],
        )
    assert dots.received("POST", "/v2/apps/*/change_settings") == []
