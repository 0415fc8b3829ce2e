"""A large payee file is checked by the worker, not in the upload request: progress, refusal, discard, re-runs."""

import io
from pathlib import Path

import pytest
from django.conf import settings

from core.models import AuditEvent
from payouts.models import PayeeImport
from payouts.services import payee_import_check
from tests.support import login_verified

from .conftest import csv_bytes, good_rows, phone

pytestmark = pytest.mark.django_db

Status = PayeeImport.Status


@pytest.fixture(autouse=True)
def small_limit(settings, tmp_path):
    """Anything over 400 bytes is "large" here, so a few rows exercise the worker's path; files go to tmp_path."""
    settings.PAYEE_IMPORT_CHECK_IN_REQUEST_BYTES = 400
    settings.MEDIA_ROOT = str(tmp_path)


def upload_file(client, data: bytes, name="payees.csv"):
    f = io.BytesIO(data)
    f.name = name
    return client.post("/admin/payouts/payeeimport/add/", {"file": f})


def stored_files() -> list[Path]:
    return list(Path(settings.MEDIA_ROOT).glob("payee-imports/**/*.csv"))


def test_a_small_file_is_still_previewed_in_the_request(dots, operator, client):
    login_verified(client, operator)
    upload_file(client, csv_bytes(good_rows(2)))
    imp = PayeeImport.objects.get()
    assert imp.status == Status.PREVIEW and imp.total_rows == 2 and not imp.source


def test_a_large_file_is_checked_by_the_worker_and_the_page_shows_progress_then_the_preview(
    dots, operator, client, django_capture_on_commit_callbacks, monkeypatch
):
    login_verified(client, operator)
    monkeypatch.setattr(payee_import_check, "BATCH", 100)
    seen = []
    original = payee_import_check._insert_rows

    def insert_then_look(batch):
        original(batch)
        imp = PayeeImport.objects.get()
        seen.append(client.get(f"/admin/payouts/payeeimport/{imp.pk}/progress.json").json())

    data = csv_bytes(good_rows(240) + ["Ann,Lee,not-an-email," + phone()] + good_rows(359))
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload_file(client, data)
    imp = PayeeImport.objects.get()
    # The request stored the file and answered at once: no row read yet.
    assert response.status_code == 302 and imp.status == Status.CHECKING and imp.rows.count() == 0
    page = client.get(response["Location"]).content.decode()
    assert "Checking the file" in page and "being checked in the background" in page
    assert 'id="confirm-import"' not in page and len(stored_files()) >= 1

    monkeypatch.setattr(payee_import_check, "_insert_rows", insert_then_look)
    for callback in callbacks:  # the worker's turn (the test settings run tasks inline)
        callback()
    # Progress was visible batch by batch while checking (each look comes before its own batch is counted).
    assert [p["checked_rows"] for p in seen] == [0, 100, 200, 300, 400, 500] and all(p["checking"] for p in seen)
    percents = [p["percent"] for p in seen]
    assert percents == sorted(percents) and percents[0] == 0 < percents[1] < percents[-1] <= 99
    imp.refresh_from_db()
    assert (imp.status, imp.total_rows, imp.valid_rows, imp.invalid_rows) == (Status.PREVIEW, 600, 599, 1)
    assert not imp.source and not stored_files(), "the file is not kept once its rows are stored"
    page = client.get(response["Location"]).content.decode()
    assert 'id="confirm-import"' in page and "not-an-email" in page and "Import 599 valid rows" in page
    actions = list(AuditEvent.objects.filter(object_id=str(imp.pk)).values_list("action", "actor__username"))
    assert ("payee_import.uploaded", "operator") in actions and ("payee_import.previewed", "operator") in actions


def test_a_file_unreadable_half_way_is_refused_with_its_line_and_nothing_is_kept(
    dots, operator, client, django_capture_on_commit_callbacks
):
    login_verified(client, operator)
    # An unclosed quote swallows the rest of the file into one cell longer than the csv module's limit.
    data = csv_bytes(good_rows(30)) + b'Ann,"Lee,ann@example.com,2015550100\n' + b"x" * 140_000 + b"\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_file(client, data)
    imp = PayeeImport.objects.get()
    assert imp.status == Status.REFUSED and imp.rows.count() == 0 and not stored_files()
    assert "line 32" in imp.refusal and "longer than" in imp.refusal
    page = client.get(response["Location"]).content.decode()
    assert "The file was refused" in page and "line 32" in page and 'id="confirm-import"' not in page
    assert AuditEvent.objects.filter(action="payee_import.refused", object_id=str(imp.pk)).exists()


def test_discarding_while_checking_stops_the_worker_and_keeps_no_rows(
    dots, operator, client, django_capture_on_commit_callbacks, monkeypatch
):
    login_verified(client, operator)
    monkeypatch.setattr(payee_import_check, "BATCH", 5)
    with django_capture_on_commit_callbacks() as callbacks:
        upload_file(client, csv_bytes(good_rows(40)))
    imp = PayeeImport.objects.get()
    original = payee_import_check._insert_rows
    inserted = []

    def insert_then_discard(batch):
        original(batch)
        inserted.append(len(batch))
        if len(inserted) == 2:
            client.post(f"/admin/payouts/payeeimport/{imp.pk}/discard/")

    monkeypatch.setattr(payee_import_check, "_insert_rows", insert_then_discard)
    for callback in callbacks:
        callback()
    imp.refresh_from_db()
    assert imp.status == Status.DISCARDED and len(inserted) == 2, "the worker stops at its next batch"
    assert imp.rows.count() == 0 and not stored_files()


def test_the_check_runs_again_after_a_killed_worker_without_doubling_rows(
    dots, operator, client, django_capture_on_commit_callbacks
):
    login_verified(client, operator)
    with django_capture_on_commit_callbacks():
        upload_file(client, csv_bytes(good_rows(12)))
    imp = PayeeImport.objects.get()
    # A worker died after writing some rows: the next run starts over.
    payee_import_check._insert_rows(
        [
            (imp.pk, 2, "[]", True, "X", "Y", "x@example.com", "+12015550000", "US")
            + (None, "", "", "pending", "", "", "", 0, None)
        ]
    )
    payee_import_check.payee_import_check(import_id=imp.pk, actor=operator)
    payee_import_check.payee_import_check(import_id=imp.pk, actor=operator)  # a second delivery: nothing more
    imp.refresh_from_db()
    assert (imp.status, imp.total_rows, imp.rows.count()) == (Status.PREVIEW, 12, 12)
    assert AuditEvent.objects.filter(action="payee_import.previewed", object_id=str(imp.pk)).count() == 1


def test_an_uploader_who_lost_the_role_before_the_check_gets_a_refusal(
    dots, operator, client, django_capture_on_commit_callbacks
):
    login_verified(client, operator)
    with django_capture_on_commit_callbacks():
        upload_file(client, csv_bytes(good_rows(12)))
    imp = PayeeImport.objects.get()
    operator.groups.clear()
    from django.contrib.auth import get_user_model

    payee_import_check.payee_import_check(import_id=imp.pk, actor=get_user_model().objects.get(pk=operator.pk))
    imp.refresh_from_db()
    assert imp.status == Status.REFUSED and "does not allow you to import payees" in imp.refusal
    assert imp.rows.count() == 0 and not stored_files()


def test_the_worker_task_is_a_registered_task():
    from core import registry

    assert "payouts.tasks.payee_import_check" in registry.registered_tasks()
