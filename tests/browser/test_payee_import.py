"""An operator imports a CSV of payees in the browser: preview errors, confirm, progress, failed rows."""

import csv
import io
from pathlib import Path

import pytest

from core import roles
from payouts.models import Payee
from tests.payouts.conftest import csv_bytes, good_rows, phone
from tests.support import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_uploads_previews_confirms_watches_progress_and_downloads_failed_rows(
    page, live_server, dots, tmp_path
):
    make_user("olive", role=roles.PAYOUTS_OPERATOR)
    bad_phone = "12345"
    rows = good_rows(4) + [f"Bad,Email,not-an-email,{phone()}", f"Bad,Phone,bp@example.com,{bad_phone}"]
    path = tmp_path / "payees.csv"
    path.write_bytes(csv_bytes(rows))
    # Dots refuses one of the valid rows, so the failed rows hold an invalid and a failed row.
    dots.add_fault(method="POST", path="/v2/users", kind="status", status=400, count=1)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "olive")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    page.goto(f"{live_server.url}/admin/payouts/payeeimport/add/")
    page.set_input_files("#id_file", str(path))
    page.click("input[type=submit]")
    page.wait_for_selector("#preview-errors")
    assert page.inner_text("#valid-rows") == "4"
    assert page.inner_text("#invalid-rows") == "2"
    errors = page.inner_text("#preview-errors")
    assert "not-an-email" in errors and "not a valid email address" in errors
    assert bad_phone in errors and "not a valid phone number for US" in errors
    assert "\t6\t" in errors or "6\tInvalid" in errors  # line numbers are shown

    page.click("#confirm-import")
    page.wait_for_function("document.getElementById('progress-bar').value == 100")
    page.wait_for_function("document.getElementById('import-status').textContent.includes('Completed')")
    assert "failed 1" in page.inner_text("#progress-text")
    assert Payee.objects.count() == 3

    with page.expect_download() as download_info:
        page.click("#failed-rows-link a")
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    records = list(csv.reader(io.StringIO(text)))
    assert records[0] == ["first_name", "last_name", "email", "phone", "error"]
    assert len(records) == 4  # header + 2 invalid + 1 refused by Dots
    assert page.csp_violations == []
