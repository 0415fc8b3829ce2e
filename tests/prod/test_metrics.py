"""/metrics: Prometheus' text for whoever holds METRICS_TOKEN: requests by view, queries, Dots calls, seam gauges."""

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core import registry, roles
from core.dots_gateway import client as dots_client
from core.dots_gateway import dots_call
from core.errors import DotsRejected
from core.models import QueuedDotsAction
from payables.models import Payable
from reconciliation.models import Discrepancy
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def _scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_do_not_exist_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_metrics_refuse_a_missing_or_wrong_token_and_an_admin_session(client, token):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    admin = make_user("metrics-admin", role=roles.ADMINISTRATOR, is_superuser=True)
    login_verified(client, admin)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_requests_are_measured_by_view_name_with_their_query_count(client, token):
    user = make_user("metrics-manager", role=roles.MANAGER)
    login_verified(client, user)
    before = _scrape(client)
    view = "admin:payables_payable_changelist"
    assert client.get("/admin/payables/payable/?q=INV").status_code == 200
    after = _scrape(client)
    count = "ledgerline_http_request_duration_seconds_count"
    assert _value(after, count, view=view, method="GET", status="2xx") == (
        _value(before, count, view=view, method="GET", status="2xx") + 1
    )
    queries = "ledgerline_http_request_db_queries_sum"
    assert _value(after, queries, view=view) > _value(before, queries, view=view)
    assert not any("/admin/payables" in str(labels) for _, labels in after)


def test_dots_calls_are_counted_by_operation_with_ids_replaced_and_outcome(client, token, dots):
    before = _scrape(client)
    with dots_call("list apps"):
        dots_client().list_apps(limit=1)
    with pytest.raises(DotsRejected), dots_call("read a payable"):
        dots_client().retrieve_payable(payable_id="7d4e2a90-0000-4000-8000-000000000123")
    after = _scrape(client)
    total = "ledgerline_dots_calls_total"
    listed = {"operation": "GET /v2/apps", "outcome": "answered"}
    missing = {"operation": "GET /v2/accounts-payable/payables/{id}", "outcome": "refused"}
    assert _value(after, total, **listed) == _value(before, total, **listed) + 1
    assert _value(after, total, **missing) == _value(before, total, **missing) + 1
    assert _value(after, "ledgerline_dots_call_duration_seconds_count", **listed) >= 1


def test_gauges_declared_in_the_seam_are_read_from_the_database_at_scrape_time(client, token, make_payable):
    names = {spec.name for spec in registry.metrics()}
    assert {
        "ledgerline_dots_actions_queued",
        "ledgerline_payments_outcome_unknown",
        "ledgerline_disagreements_open",
        "ledgerline_task_queue_depth",
        "ledgerline_task_failures_last_hour",
    } <= names
    before = _scrape(client)
    payable = make_payable()
    Payable.objects.filter(pk=payable.pk).update(status=Payable.Status.OUTCOME_UNKNOWN)
    Discrepancy.objects.create(
        record_type="payable", label="Payable INV-1", kind=Discrepancy.Kind.STATUS, last_seen_at=timezone.now()
    )
    after = _scrape(client)
    unknown = "ledgerline_payments_outcome_unknown"
    assert _value(after, unknown) == _value(before, unknown) + 1
    assert _value(after, "ledgerline_disagreements_open") == _value(before, "ledgerline_disagreements_open") + 1
    assert (
        _value(after, "ledgerline_dots_actions_queued")
        == QueuedDotsAction.objects.filter(status__in=QueuedDotsAction.ACTIVE).count()
    )
