"""Apps: read from Dots (the sync step), created in Dots once, their metrics read as the page opens."""

import pytest

from core.audit import system_user
from core.errors import PermissionRefused
from core.models import AuditEvent
from dots.client import DotsClient
from tests.wallet.conftest import COMPLIANCE
from wallet import apps_service, sync
from wallet.models import App

pytestmark = pytest.mark.django_db


def test_the_sync_lists_the_apps_dots_has_and_follows_their_kyb_state(dots, team):
    seeded = dots.control("seed/apps", {"name": "Marketplace", "status": "created"})["data"][0]
    report = sync.apps_step(actor=system_user())
    assert report.checked == 2
    assert set(App.objects.values_list("name", "status")) == {("Ledgerline", "approved"), ("Marketplace", "created")}

    DotsClient(dots.base_url, dots.client_id, dots.api_key).update_app_compliance(app_id=seeded["id"], **COMPLIANCE)
    report = sync.apps_step(actor=system_user())
    assert App.objects.get(dots_app_id=seeded["id"]).status == App.Status.IN_REVIEW
    assert report.changes == ["App Marketplace: created -> in_review"]
    assert AuditEvent.objects.get(action="app.read_from_dots").source == "sync"


def test_only_dots_app_id_is_read_when_it_is_set(dots, team, settings):
    dots.control("seed/apps", {"name": "Other"})
    settings.DOTS_APP_ID = dots.app_id
    sync.apps_step(actor=system_user())
    assert list(App.objects.values_list("dots_app_id", flat=True)) == [dots.app_id]


def test_an_administrator_creates_an_app_in_dots_once_even_when_the_answer_is_lost(dots, team):
    dots.add_fault(method="POST", path="/v2/apps", kind="drop", count=1)
    app = apps_service.app_create(actor=team.admin, name="Second storefront")
    names = [a.name for a in DotsClient(dots.base_url, dots.client_id, dots.api_key).list_apps()]
    assert names.count("Second storefront") == 1
    assert (app.name, app.status, app.created_by) == ("Second storefront", App.Status.CREATED, team.admin)
    assert AuditEvent.objects.filter(action="app.created", object_id=str(app.pk)).exists()


def test_a_payer_may_not_create_an_app(dots, team):
    with pytest.raises(PermissionRefused):
        apps_service.app_create(actor=team.payer, name="Nope app")


def test_the_metrics_say_unknown_in_words_when_dots_does_not_answer(dots, wallet_app):
    dots.add_fault(method="GET", path="/v2/apps/*", kind="status", status=503, count=10)
    metrics = apps_service.app_metrics(wallet_app)
    assert metrics.balance_cents is None and "Dots could not be reached" in metrics.error
