"""A manager opens the home page: the charts are drawn, and an aging bucket leads to its payables."""

import datetime as dt
import os

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from core import roles
from payables.models import Payable
from reconciliation.models import AppWallet
from tests.support import make_user

from .helpers import shot, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
P = Payable.Status


def test_manager_reads_the_overview_and_follows_an_aging_bucket(page, live_server, make_payable, tmp_path):
    today = timezone.localdate()
    AppWallet.objects.create(dots_app_id="app-1", name="Ledgerline", balance_cents=150_000, synced_at=timezone.now())
    placed = [
        ("INV-LATE-45", 123_456, P.APPROVED, today - dt.timedelta(days=45), None),
        ("INV-LATE-5", 40_000, P.SUBMITTED, today - dt.timedelta(days=5), None),
        ("INV-NEXT-WEEK", 65_000, P.APPROVED, today + dt.timedelta(days=7), None),
        ("INV-PAID", 80_000, P.PAYMENT_COMPLETED, today - dt.timedelta(days=20), timezone.now()),
        (
            "INV-PAID-OLD",
            25_000,
            P.PAYMENT_COMPLETED,
            today - dt.timedelta(days=20),
            timezone.now() - dt.timedelta(weeks=3),
        ),
    ]
    for number, cents, status, due, changed in placed:
        payable = make_payable(amount_cents=cents, bill_number=number)
        Payable.objects.filter(pk=payable.pk).update(status=status, due_date=due, status_changed_at=changed)
    manager = make_user("mo", role=roles.MANAGER)

    sign_in(page, live_server.url, manager.username)

    for name in ("attention", "cash_out", "payables", "approvals", "forecast"):
        page.locator(f"#panel-{name}").wait_for()
    charts = page.locator("#dashboard .dashboard-chart img")
    assert charts.count() == 3
    for i in range(3):
        # Drawn: the SVG loaded and decoded to a picture with a size.
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert "runs short" in page.locator("#panel-forecast").inner_text()
    shot(page, "manager-home-overview")
    if os.environ.get("LEDGERLINE_SHOTS"):
        for name in ("cash_out", "payables", "forecast"):
            page.locator(f"#panel-{name}").screenshot(path=f"{os.environ['LEDGERLINE_SHOTS']}/panel-{name}.png")

    page.locator("#panel-payables").get_by_role("link", name="31–60 days past due").click()
    page.wait_for_url("**/payables/payable/?aging=31-60")
    listed = page.locator("#result_list").inner_text()
    assert "INV-LATE-45" in listed and "INV-LATE-5" not in listed and "INV-PAID" not in listed
    shown = page.locator("#result_list tbody th a, #result_list tbody td.field-bill_number a").all_inner_texts()

    # The list's Excel export has the rows the list shows, and opens in a spreadsheet library.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export Excel").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    sheet = load_workbook(saved).active
    header = [cell.value for cell in sheet[1]]
    numbers = [row[header.index("Bill number")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == shown == ["INV-LATE-45"]
    assert sheet.cell(row=2, column=header.index("Amount") + 1).value == 1234.56

    page.goto(f"{live_server.url}/admin/")
    page.locator("#panel-reports").get_by_role("link", name="AP aging by vendor").click()
    assert "Acme Supplies" in page.locator(".report-table").inner_text()
    shot(page, "manager-report-ap-aging")
