"""The worker's check of a large payee file, with every batch really committed (as in production).

On PostgreSQL the batches are then written by a thread of their own, on its own connection, while the
next batch is checked (payee_import_check._BatchWriter); these tests hold that path to what the page
promises: the same preview, a discard that stops it, a refusal half-way that keeps nothing, a failed
write that is not swallowed. On SQLite the same tests run the batches one after the other.
"""

import sys

import pytest
from django.db import connection

from payouts.models import Payee, PayeeImport, PayeeImportRow
from payouts.services import payee_import_check, payee_imports

from .conftest import csv_bytes, good_rows, phone, upload

pytestmark = pytest.mark.django_db(transaction=True)

Status = PayeeImport.Status
Row = PayeeImportRow.Status


@pytest.fixture(autouse=True)
def worker_path(settings, tmp_path, monkeypatch):
    """Every file here goes to the worker, in batches of 7 rows; the queued task is run by the test."""
    settings.PAYEE_IMPORT_CHECK_IN_REQUEST_BYTES = 100
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(payee_import_check, "BATCH", 7)
    monkeypatch.setattr(payee_import_check, "async_task", lambda *args, **kwargs: None)


def uploaded(data: bytes, actor) -> PayeeImport:
    imp = payee_import_check.payee_import_upload(fileobj=upload(data), file_name="payees.csv", actor=actor)
    assert imp.status == Status.CHECKING
    return imp


def check(imp: PayeeImport, actor) -> PayeeImport:
    assert not connection.in_atomic_block, "the worker's service runs outside any transaction"
    return payee_import_check.payee_import_check(import_id=imp.pk, actor=actor)


def test_a_file_checked_batch_by_batch_gives_the_whole_preview(operator):
    existing = phone()
    Payee.objects.create(first_name="Old", last_name="Payee", email="old@example.com", phone_e164="+1" + existing)
    repeated = phone()
    rows = (
        good_rows(20)
        + [f"Ann,Again,again@example.com,{repeated}", "Bad,Row,not-an-email," + phone()]
        + good_rows(15)
        + [f"Old,Payee,old2@example.com,{existing}", f"Ann,Twice,twice@example.com,{repeated}"]
        + good_rows(9)
    )
    imp = check(uploaded(csv_bytes(rows), operator), operator)
    assert imp.status == Status.PREVIEW
    assert (imp.total_rows, imp.valid_rows, imp.invalid_rows, imp.existing_rows) == (48, 45, 1, 1)
    assert imp.checked_rows == 48, "the last batch's progress was written before the preview"
    lines = list(PayeeImportRow.objects.filter(payee_import=imp).order_by("line_number"))
    assert [row.line_number for row in lines] == list(range(2, 50)), "every line once, in order"
    bad = next(row for row in lines if row.status == Row.INVALID)
    assert bad.line_number == 23 and "not a valid email address" in bad.error
    again = next(row for row in lines if row.status == Row.DUPLICATE)
    assert again.line_number == 40 and again.error == "same phone as line 22"
    old = next(row for row in lines if row.status == Row.EXISTING)
    assert old.line_number == 39 and old.payee.first_name == "Old"


def test_discarding_while_checking_stops_the_writes_and_keeps_no_rows(operator, monkeypatch):
    imp = uploaded(csv_bytes(good_rows(70)), operator)
    original = payee_import_check._insert_rows
    written = []

    def insert_then_discard(batch):
        original(batch)
        written.append(len(batch))
        if len(written) == 2:  # the accountant presses Discard while the second batch is written
            payee_imports.payee_import_discard(import_id=imp.pk, actor=operator)

    monkeypatch.setattr(payee_import_check, "_insert_rows", insert_then_discard)
    check(imp, operator)
    imp.refresh_from_db()
    assert imp.status == Status.DISCARDED and written == [7, 7], "no batch is written after the discard"
    assert not PayeeImportRow.objects.filter(payee_import=imp).exists() and not imp.source


def test_a_file_unreadable_half_way_keeps_no_row_of_the_batches_before(operator):
    data = csv_bytes(good_rows(30)) + b'Ann,"Lee,ann@example.com,2015550100\n' + b"x" * 140_000 + b"\n"
    imp = check(uploaded(data, operator), operator)
    assert imp.status == Status.REFUSED and "line 32" in imp.refusal
    assert not PayeeImportRow.objects.filter(payee_import=imp).exists()


def test_a_batch_that_cannot_be_written_fails_the_check_and_nothing_more_is_written(operator, monkeypatch):
    imp = uploaded(csv_bytes(good_rows(30)), operator)
    original = payee_import_check._insert_rows
    calls = []

    def fail_on_the_third(batch):
        calls.append(len(batch))
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        original(batch)

    monkeypatch.setattr(payee_import_check, "_insert_rows", fail_on_the_third)
    with pytest.raises(RuntimeError, match="went away"):
        check(imp, operator)
    # The task fails (the queue shows it); the two batches committed before stay until a run starts over.
    assert len(calls) == 3, "no batch is written after the one that failed"
    imp.refresh_from_db()
    assert imp.status == Status.CHECKING and PayeeImportRow.objects.filter(payee_import=imp).count() == 14


@pytest.mark.parametrize("outcome", ["preview", "failed write"])
def test_the_worker_gets_its_usual_time_slices_back_after_a_check(operator, monkeypatch, outcome):
    """While the writer thread runs (PostgreSQL), the process switches threads every 0.5 ms, so the
    writer is not kept waiting 5 ms after each answer from the database; afterwards, whatever happened,
    the worker's other tasks run with the interval it had."""
    before = sys.getswitchinterval()
    imp = uploaded(csv_bytes(good_rows(20)), operator)
    original = payee_import_check._insert_rows
    seen = []

    def insert(batch):
        seen.append(sys.getswitchinterval())
        if outcome == "failed write" and len(seen) == 2:
            raise RuntimeError("the database went away")
        original(batch)

    monkeypatch.setattr(payee_import_check, "_insert_rows", insert)
    if outcome == "preview":
        assert check(imp, operator).status == Status.PREVIEW
    else:
        with pytest.raises(RuntimeError, match="went away"):
            check(imp, operator)
    threaded = connection.vendor == "postgresql"
    assert set(seen) == {payee_import_check.WRITER_SWITCH_INTERVAL if threaded else before}
    assert sys.getswitchinterval() == before
