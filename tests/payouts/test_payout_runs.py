"""Payout runs: prepared by an import with amounts, sent only after a second person approves."""

import pytest
import requests

from core import roles
from core.errors import SegregationOfDutiesViolation
from core.models import AuditEvent
from payouts.models import PayoutRun, PayoutRunItem
from payouts.services import payee_import_check, payee_imports, payout_runs
from tests.support import login_verified, make_user

from .conftest import csv_bytes, good_rows, phone, upload

pytestmark = pytest.mark.django_db

HEADER = "first_name,last_name,email,phone,amount,memo"


def imported_run(operator, rows):
    imp = payee_import_check.payee_import_preview(
        fileobj=upload(csv_bytes(rows, header=HEADER)), file_name="run.csv", actor=operator
    )
    payee_imports.payee_import_confirm(import_id=imp.pk, actor=operator)
    payee_imports.payee_import_process(import_id=imp.pk, actor=operator)
    return PayoutRun.objects.get(payee_import=imp)


def rows_with_amounts(n, amount="12.50"):
    return [f"{row},{amount},June" for row in good_rows(n)]


def app_balance(dots):
    return requests.get(dots.base_url + "/v2/apps", auth=dots.auth).json()


def test_an_import_with_amounts_prepares_a_run_with_total_and_count(dots, operator):
    run = imported_run(operator, rows_with_amounts(3) + ["Bad,Row,bad," + phone() + ",5,x"])
    assert (run.status, run.item_count, run.total_cents) == (PayoutRun.Status.AWAITING_APPROVAL, 3, 3750)
    assert dots.received("POST", "/v2/payout-links") == []


def test_names_and_memos_reach_dots_as_typed(dots, operator, payer, django_capture_on_commit_callbacks):
    number = phone()
    run = imported_run(operator, [f"+Bo,Lee,bo{number}@example.com,{number},12.50,-5% early payment"])
    with django_capture_on_commit_callbacks(execute=True):
        payout_runs.payout_run_approve(run_id=run.pk, actor=payer)
    users = [call["body"] for call in dots.received("POST", "/v2/users")]
    links = [call["body"] for call in dots.received("POST", "/v2/payout-links")]
    assert users[0]["first_name"] == "+Bo"
    assert links and "-5% early payment" in str(links[0])


def test_the_importer_cannot_approve_their_own_run_even_as_superuser(dots, operator):
    operator.is_superuser = True
    operator.save()
    run = imported_run(operator, rows_with_amounts(2))
    with pytest.raises(SegregationOfDutiesViolation):
        payout_runs.payout_run_approve(run_id=run.pk, actor=operator)
    run.refresh_from_db()
    assert run.status == PayoutRun.Status.AWAITING_APPROVAL


def test_a_second_person_approves_and_one_payout_link_per_row_is_sent(
    dots, operator, payer, django_capture_on_commit_callbacks
):
    run = imported_run(operator, rows_with_amounts(3))
    with django_capture_on_commit_callbacks(execute=True):
        payout_runs.payout_run_approve(run_id=run.pk, actor=payer)
    run.refresh_from_db()
    assert (run.status, run.approved_by) == (PayoutRun.Status.SENT, payer)
    statuses = list(run.items.values_list("status", flat=True))
    assert statuses == [PayoutRunItem.Status.SENT] * 3
    bodies = [r["body"] for r in dots.received("POST", "/v2/payout-links")]
    assert sorted(b["amount"] for b in bodies) == [1250] * 3
    assert AuditEvent.objects.filter(action="payout_run.approved", actor=payer).count() == 1


def test_rows_whose_payee_failed_are_skipped_and_say_why(dots, operator, payer, django_capture_on_commit_callbacks):
    dots.add_fault(method="POST", path="/v2/users", kind="status", status=400, count=1)
    run = imported_run(operator, rows_with_amounts(2))
    with django_capture_on_commit_callbacks(execute=True):
        payout_runs.payout_run_approve(run_id=run.pk, actor=payer)
    assert sorted(run.items.values_list("status", flat=True)) == [
        PayoutRunItem.Status.SENT,
        PayoutRunItem.Status.SKIPPED,
    ]
    assert "payee not created" in run.items.get(status=PayoutRunItem.Status.SKIPPED).outcome


def test_a_short_wallet_fails_the_item_and_reports_it(dots, operator, payer, django_capture_on_commit_callbacks):
    run = imported_run(operator, rows_with_amounts(2))
    dots.add_fault(method="POST", path="/v2/payout-links", kind="insufficient_funds", count=1)
    with django_capture_on_commit_callbacks(execute=True):
        payout_runs.payout_run_approve(run_id=run.pk, actor=payer)
    outcomes = sorted(run.items.values_list("status", flat=True))
    assert outcomes == [PayoutRunItem.Status.FAILED, PayoutRunItem.Status.SENT]
    assert "insufficient" in run.items.get(status=PayoutRunItem.Status.FAILED).outcome


def test_the_run_page_shows_total_count_and_each_row(dots, operator, payer, client):
    run = imported_run(operator, rows_with_amounts(2, amount="7.25"))
    login_verified(client, payer)
    page = client.get(f"/admin/payouts/payoutrun/{run.pk}/change/").content.decode()
    assert "$14.50" in page and 'id="approve-run"' in page
    assert page.count("Waiting for approval") == 2


def test_a_runs_payouts_export_as_csv_and_excel_from_its_page(dots, operator, payer, client):
    import csv
    import io

    from openpyxl import load_workbook

    run = imported_run(operator, rows_with_amounts(2, amount="7.25"))
    login_verified(client, payer)
    page = client.get(f"/admin/payouts/payoutrun/{run.pk}/change/").content.decode()
    csv_url = f"/admin/payouts/payoutrun/{run.pk}/items/csv/"
    assert csv_url in page
    body = b"".join(client.get(csv_url).streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["Amount"] for row in rows] == ["7.25", "7.25"]
    assert {row["Status"] for row in rows} == {"Waiting for approval"} and rows[0]["Currency"] == "USD"
    response = client.get(f"/admin/payouts/payoutrun/{run.pk}/items/xlsx/")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet.max_row == 3
    assert AuditEvent.objects.filter(action="list.exported", object_repr=f"Payouts of {run}").count() == 2


def test_an_operator_cannot_approve_through_the_page(dots, operator, client):
    other = make_user("operator2", role=roles.PAYOUTS_OPERATOR)
    run = imported_run(operator, rows_with_amounts(1))
    login_verified(client, other)
    response = client.post(f"/admin/payouts/payoutrun/{run.pk}/approve/")
    assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == PayoutRun.Status.AWAITING_APPROVAL


def test_the_preview_announces_the_run_total_before_anything_is_created(dots, operator, client):
    login_verified(client, operator)
    import io

    f = io.BytesIO(csv_bytes(rows_with_amounts(2, amount="10.00"), header=HEADER))
    f.name = "run.csv"
    page = client.get(client.post("/admin/payouts/payeeimport/add/", {"file": f})["Location"]).content.decode()
    assert "payout run</strong> of\n  $20.00 to 2 payees" in page
    assert PayoutRun.objects.count() == 0


def test_retrying_a_run_sends_only_the_failed_items_once_each(
    dots, operator, payer, django_capture_on_commit_callbacks
):
    run = imported_run(operator, rows_with_amounts(3))
    dots.add_fault(method="POST", path="/v2/payout-links", kind="insufficient_funds", count=1)
    with django_capture_on_commit_callbacks(execute=True):
        payout_runs.payout_run_approve(run_id=run.pk, actor=payer)
    assert run.items.filter(status=PayoutRunItem.Status.FAILED).count() == 1
    run = payout_runs.payout_run_retry_failed(run_id=run.pk, actor=payer)
    assert list(run.items.values_list("status", flat=True)) == [PayoutRunItem.Status.SENT] * 3
    links = requests.get(dots.base_url + "/v2/payout-links", params={"limit": 100}, auth=dots.auth).json()["data"]
    assert len(links) == 3
