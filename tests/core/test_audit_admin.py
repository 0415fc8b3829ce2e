"""The managers' audit history: list, filters, search, CSV export, per-object timeline."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import audit, roles
from core.models import AuditEvent
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db

HISTORY = "/admin/core/auditevent/"


@pytest.fixture
def manager(client):
    user = make_user("morgan", role=roles.MANAGER, first_name="Morgan", last_name="Manager")
    login_verified(client, user)
    return user


def _event(actor, *, action="record.updated", object_id="1", object_repr="thing", reason=""):
    return audit.record(
        actor=actor,
        action=action,
        object_type="auth.user",
        object_id=object_id,
        object_repr=object_repr,
        before={"x": 1},
        after={"x": 2},
        reason=reason,
    )


def _rows(response) -> list[str]:
    return [str(e.pk) for e in response.context["cl"].result_list]


def test_history_lists_events_newest_first(client, manager):
    alice = make_user("alice")
    first = _event(alice, object_repr="first")
    second = _event(alice, object_repr="second")
    response = client.get(HISTORY)
    assert response.status_code == 200
    ids = _rows(response)
    assert ids.index(str(second.pk)) < ids.index(str(first.pk))
    page = response.content.decode()
    assert "alice" in page and "X: 1 → 2" in page


def test_history_filters_by_actor(client, manager):
    alice, bob = make_user("alice"), make_user("bob")
    mine = _event(alice)
    theirs = _event(bob)
    ids = _rows(client.get(HISTORY, {"actor": alice.pk}))
    assert str(mine.pk) in ids and str(theirs.pk) not in ids


def test_history_filters_by_action_and_object_type(client, manager):
    alice = make_user("alice")
    created = _event(alice, action="record.created")
    updated = _event(alice, action="record.updated")
    ids = _rows(client.get(HISTORY, {"action": "record.created", "object_type": "auth.user"}))
    assert str(created.pk) in ids and str(updated.pk) not in ids


def test_history_filters_by_date_range(client, manager):
    alice = make_user("alice")
    event = _event(alice)
    today = event.occurred_at.date()
    assert str(event.pk) in _rows(
        client.get(HISTORY, {"occurred_from": today.isoformat(), "occurred_to": today.isoformat()})
    )
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert _rows(client.get(HISTORY, {"occurred_from": tomorrow})) == []


def test_history_date_filter_explains_a_bad_date(client, manager):
    response = client.get(HISTORY, {"occurred_from": "31/12/2026"})
    assert "is not a date (use YYYY-MM-DD)" in response.content.decode()


def test_history_search_finds_an_object_by_exact_id_or_name_prefix(client, manager):
    alice = make_user("alice")
    target = _event(alice, object_id="4242", object_repr="INV-104 Acme")
    other = _event(alice, object_id="42", object_repr="INV-200 Globex")
    assert _rows(client.get(HISTORY, {"q": "4242"})) == [str(target.pk)]
    assert _rows(client.get(HISTORY, {"q": "inv-104"})) == [str(target.pk)]
    # A substring in the middle is not a prefix: no table scan for it.
    assert str(other.pk) not in _rows(client.get(HISTORY, {"q": "Acme"}))


def test_history_page_never_counts_the_whole_table(client, manager):
    _event(make_user("alice"))
    with CaptureQueriesContext(connection) as queries:
        client.get(HISTORY)
        client.get(HISTORY, {"_facets": "1"})  # facet counts would be a COUNT per filter choice
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "expected the capped count"
    assert all("LIMIT" in sql.upper() for sql in counts), counts


def test_history_export_is_a_csv_of_the_filtered_events_with_formulas_neutralised(client, manager):
    alice = make_user("alice")
    _event(alice, object_repr='=HYPERLINK("http://evil")', reason="+1 approve", object_id="9")
    _event(make_user("bob"), object_repr="not exported")
    response = client.get(reverse("admin:core_auditevent_export"), {"actor": alice.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["object"] for r in rows] == ['\'=HYPERLINK("http://evil")']
    assert rows[0]["reason"] == "'+1 approve"
    # The export itself is on the record.
    assert AuditEvent.objects.filter(action="audit.exported", actor=manager).exists()


def test_history_is_refused_to_roles_without_audit_access(client):
    login_verified(client, make_user("clerk", role=roles.AP_CLERK))
    assert client.get(HISTORY).status_code == 403
    assert client.get(reverse("admin:core_auditevent_export")).status_code == 403


def test_events_cannot_be_edited_or_deleted_in_the_admin(client, manager):
    event = _event(make_user("alice"))
    page = client.get(reverse("admin:core_auditevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(reverse("admin:core_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_change_page_links_to_the_objects_own_timeline(client):
    admin_user = make_user("ada", role=roles.ADMINISTRATOR)
    login_verified(client, admin_user)
    alice = make_user("alice")
    page = client.get(reverse("admin:auth_user_change", args=[alice.pk])).content.decode()
    timeline = f"{HISTORY}?object_type=auth.user&amp;object_id={alice.pk}"
    assert timeline in page
    response = client.get(f"{HISTORY}?object_type=auth.user&object_id={alice.pk}")
    assert response.status_code == 200


def test_user_changes_in_the_admin_are_audited_with_role_changes(client):
    admin_user = make_user("ada", role=roles.ADMINISTRATOR)
    login_verified(client, admin_user)
    alice = make_user("alice")
    from django.contrib.auth.models import Group

    payer_group = Group.objects.get(name=roles.PAYER)
    response = client.post(
        reverse("admin:auth_user_change", args=[alice.pk]),
        {
            "username": "alice",
            "first_name": "Alice",
            "last_name": "",
            "email": "alice@example.com",
            "is_active": "on",
            "is_staff": "on",
            "groups": [payer_group.pk],
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.filter(action="user.updated", object_id=str(alice.pk)).get()
    assert event.actor == admin_user
    assert event.changes["groups"] == {"before": [], "after": ["Payer"]}
    assert event.changes["first_name"] == {"before": "", "after": "Alice"}


def test_the_object_type_filter_offers_every_app_s_records(client, manager):
    """Events about disagreements with Dots (reconciliation) can be filtered like any other."""
    page = client.get(HISTORY).content.decode()
    for label in (
        "object_type=payables.payable",
        "object_type=payouts.payoutlink",
        "object_type=reconciliation.discrepancy",
        "object_type=core.queueddotsaction",
    ):
        assert label in page, label
