"""Background import of payees into Dots (the emulator, over real HTTP)."""

import csv
import io

import pytest

from core.models import AuditEvent
from payouts.models import Payee, PayeeImport, PayeeImportRow
from payouts.services import payee_import_check, payee_imports, payees

from .conftest import csv_bytes, good_rows, phone, upload

pytestmark = pytest.mark.django_db

Row = PayeeImportRow.Status


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(payees, "RETRY_BASE_SECONDS", 0.01)


def preview(data: bytes, actor):
    return payee_import_check.payee_import_preview(fileobj=upload(data), file_name="payees.csv", actor=actor)


def run(imp, actor):
    payee_imports.payee_import_confirm(import_id=imp.pk, actor=actor)
    return payee_imports.payee_import_process(import_id=imp.pk, actor=actor)


def dots_users(dots):
    import requests

    response = requests.get(dots.base_url + "/v2/users", params={"limit": 100}, auth=dots.auth)
    return response.json()["data"]


def dots_users_all(dots):
    import requests

    users, after = [], None
    while True:
        params = {"limit": 100, **({"starting_after": after} if after else {})}
        page = requests.get(dots.base_url + "/v2/users", params=params, auth=dots.auth).json()
        users += page["data"]
        if not page.get("has_more"):
            return users
        after = page["data"][-1]["id"]


def test_import_creates_each_valid_row_as_one_dots_user(dots, operator):
    imp = run(preview(csv_bytes(good_rows(5) + ["Bad,Row,nope," + phone()]), operator), operator)
    assert imp.status == PayeeImport.Status.COMPLETED
    assert (imp.created_count, imp.failed_count, imp.invalid_rows) == (5, 0, 1)
    assert len(dots_users(dots)) == 5
    assert Payee.objects.filter(dots_user_id__isnull=False).count() == 5
    assert AuditEvent.objects.filter(action="payee.created").count() == 5


def test_counts_at_the_end_add_up_to_the_files_rows(dots, operator):
    number = phone()
    rows = good_rows(3) + [f"Dup,Row,dup@example.com,{number}", f"Dup,Again,dup2@example.com,{number}", "X,,x@e.com,1"]
    imp = run(preview(csv_bytes(rows), operator), operator)
    total = (
        imp.created_count
        + imp.linked_count
        + imp.failed_count
        + imp.cancelled_count
        + imp.invalid_rows
        + imp.duplicate_rows
    )
    assert total == imp.total_rows == 6


def test_a_phone_dots_already_has_is_linked_not_duplicated(dots, operator):
    number = phone()
    dots.control("reset")
    import requests

    existing = requests.post(
        dots.base_url + "/v2/users",
        auth=dots.auth,
        json={
            "first_name": "Pre",
            "last_name": "Existing",
            "email": "pre@example.com",
            "country_code": "1",
            "phone_number": number,
        },
    ).json()
    imp = run(preview(csv_bytes([f"Ann,Lee,ann@example.com,{number}"]), operator), operator)
    assert imp.linked_count == 1
    payee = Payee.objects.get()
    assert payee.dots_user_id == existing["id"] and payee.linked_existing
    assert len(dots_users(dots)) == 1


def test_injected_503s_are_retried_and_every_row_is_created_once(dots, operator):
    # Ten of the first creates answer 503, whatever the order the import's threads send them in (a
    # seeded rate fired on whichever row's request came at that moment, so a row could meet four in a
    # row under load and fail, as it should): each is retried and every row is created once.
    dots.add_fault(method="POST", path="/v2/users", kind="status", status=503, count=10)
    imp = run(preview(csv_bytes(good_rows(20)), operator), operator)
    dots.control("faults/clear")
    assert imp.created_count == 20
    assert len(dots.received("POST", "/v2/users")) == 30  # the ten refused, each sent again once
    phones = [u["phone_number"]["phone_number"] for u in dots_users(dots)]
    assert len(phones) == 20 == len(set(phones))


def test_dropped_responses_never_make_a_second_dots_user(dots, operator):
    dots.add_fault(method="POST", path="/v2/users", kind="drop", count=5)
    imp = run(preview(csv_bytes(good_rows(10)), operator), operator)
    assert imp.created_count + imp.linked_count == 10
    assert imp.created_count == 10  # a retried drop is our own user, confirmed
    phones = [u["phone_number"]["phone_number"] for u in dots_users(dots)]
    assert len(phones) == 10 == len(set(phones))


def test_a_row_left_creating_by_a_dead_worker_is_resolved_without_a_second_user(dots, operator):
    imp = preview(csv_bytes(good_rows(3)), operator)
    payee_imports.payee_import_confirm(import_id=imp.pk, actor=operator)
    first = imp.rows.order_by("line_number").first()
    # The worker created the user in Dots, then died before recording it.
    country, national = "1", first.phone_e164[2:]
    import requests

    requests.post(
        dots.base_url + "/v2/users",
        auth=dots.auth,
        json={
            "first_name": first.first_name,
            "last_name": first.last_name,
            "email": first.email,
            "country_code": country,
            "phone_number": national,
        },
    )
    PayeeImportRow.objects.filter(pk=first.pk).update(status=Row.CREATING, attempts=1)
    PayeeImport.objects.filter(pk=imp.pk).update(status=PayeeImport.Status.RUNNING)
    imp = payee_imports.payee_import_process(import_id=imp.pk, actor=operator)
    assert imp.created_count == 3
    assert len(dots_users(dots)) == 3


def test_running_the_task_twice_creates_nothing_more(dots, operator):
    imp = run(preview(csv_bytes(good_rows(3)), operator), operator)
    payee_imports.payee_import_process(import_id=imp.pk, actor=operator)
    assert len(dots_users(dots)) == 3
    assert len(dots.received("POST", "/v2/users")) == 3


def test_cancel_stops_the_import_and_the_rest_is_counted_cancelled(dots, operator):
    imp = preview(csv_bytes(good_rows(100)), operator)
    payee_imports.payee_import_confirm(import_id=imp.pk, actor=operator)
    payee_imports.payee_import_cancel(import_id=imp.pk, actor=operator)
    imp = payee_imports.payee_import_process(import_id=imp.pk, actor=operator)
    assert imp.status == PayeeImport.Status.CANCELLED
    assert imp.cancelled_count == 100 and dots_users(dots) == []


def test_cancel_mid_run_leaves_created_rows_and_cancels_the_rest(dots, operator, monkeypatch):
    imp = preview(csv_bytes(good_rows(100)), operator)
    payee_imports.payee_import_confirm(import_id=imp.pk, actor=operator)
    original = payee_imports._record_outcomes

    def record_then_cancel(outcomes, actor):
        original(outcomes, actor)
        PayeeImport.objects.filter(pk=imp.pk).update(cancel_requested=True)

    monkeypatch.setattr(payee_imports, "_record_outcomes", record_then_cancel)
    imp = payee_imports.payee_import_process(import_id=imp.pk, actor=operator, workers=4)
    assert imp.status == PayeeImport.Status.CANCELLED
    assert 16 <= imp.created_count < 100 and imp.created_count + imp.cancelled_count == 100
    assert len(dots.received("POST", "/v2/users")) == imp.created_count == len(dots_users_all(dots))


def test_progress_is_written_at_most_once_per_fifty_rows(dots, operator, monkeypatch):
    writes = []
    original = payee_imports._write_progress
    monkeypatch.setattr(payee_imports, "_write_progress", lambda import_id: (writes.append(1), original(import_id)))
    run(preview(csv_bytes(good_rows(200)), operator), operator)
    assert len(writes) <= 200 // 50 + 1


def test_failed_rows_download_reimports_after_fixing(dots, operator, client):
    from tests.support import login_verified

    dots.add_fault(method="POST", path="/v2/users", kind="status", status=400, count=1)
    rows = good_rows(2) + ["=cmd,Lee,bad-email," + phone()]
    imp = run(preview(csv_bytes(rows), operator), operator)
    assert imp.failed_count == 1 and imp.invalid_rows == 1
    login_verified(client, operator)
    response = client.get(f"/admin/payouts/payeeimport/{imp.pk}/failed-rows.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    records = list(csv.reader(io.StringIO(text)))
    assert records[0] == ["first_name", "last_name", "email", "phone", "error"]
    assert len(records) == 3
    assert any(r[0] == "'=cmd" for r in records)  # neutralised
    fixed = [r[:4] for r in records[1:]]
    fixed = [["Cmd" if c == "'=cmd" else c for c in r] for r in fixed]
    fixed = [[c if c != "bad-email" else "fixed@example.com" for c in r] for r in fixed]
    again = run(preview(csv_bytes([",".join(r) for r in fixed]), operator), operator)
    assert again.created_count == 2


def test_each_imported_payee_has_its_creation_on_its_own_timeline_and_the_chain_holds(dots, operator, client):
    from core import audit, roles
    from core.admin_audit import timeline_url
    from tests.support import login_verified, make_user

    imp = run(preview(csv_bytes(good_rows(40)), operator), operator)
    assert imp.created_count == 40
    login_verified(client, make_user("morgan", role=roles.MANAGER))
    for row in imp.rows.order_by("line_number")[:40:13]:  # lines 2, 15, 28, 41
        page = client.get(timeline_url("payouts.payee", row.payee_id))
        assert page.status_code == 200
        events = list(page.context["cl"].result_list)
        assert [(e.action, e.object_id) for e in events] == [("payee.created", str(row.payee_id))]
        assert events[0].actor == operator and events[0].source == "task"
        assert f"import #{imp.pk}, line {row.line_number}" in page.content.decode()
    # Written a batch at a time, still one event per payee, linked into one verifiable chain.
    assert AuditEvent.objects.filter(action="payee.created").count() == 40
    report = audit.verify_chain()
    assert report.ok, report.problem
