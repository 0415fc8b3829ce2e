"""Exports of a list: what the list shows, with its filters, as CSV and Excel; masked, safe, audited."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from core import roles
from core.models import AuditEvent
from payables.models import Payable
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db
P = Payable.Status
LISTS = [
    "payables_payable",
    "vendors_vendor",
    "vendors_vendorbankaccount",
    "payouts_payee",
    "payouts_payoutlink",
    "payouts_payoutrequest",
    "payouts_payoutrun",
    "payouts_transfer",
    "reconciliation_discrepancy",
]


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def three_payables(make_payable):
    formula = make_payable(amount_cents=123_456, bill_number="INV-FORMULA", description='=HYPERLINK("http://x")')
    Payable.objects.filter(pk=formula.pk).update(status=P.APPROVED, due_date=dt.date(2026, 12, 31))
    other = make_payable(amount_cents=5, bill_number="INV-SMALL")
    Payable.objects.filter(pk=other.pk).update(status=P.APPROVED, due_date=dt.date(2027, 1, 2))
    make_payable(amount_cents=99_900, bill_number="INV-DRAFT")
    return formula, other


def test_csv_has_the_lists_filtered_rows_money_as_numbers_with_currency_masked_and_safe(client, three_payables):
    login_verified(client, make_user("boss", role=roles.MANAGER))
    url = reverse("admin:payables_payable_export", args=["csv"]) + f"?status__exact={P.APPROVED}"
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="payables-' in response["Content-Disposition"]
    text = _body(response).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["Bill number"] for row in rows} == {"INV-FORMULA", "INV-SMALL"}
    by_number = {row["Bill number"]: row for row in rows}
    formula = by_number["INV-FORMULA"]
    assert formula["Amount"] == "1234.56" and formula["Currency"] == "USD"
    assert by_number["INV-SMALL"]["Amount"] == "0.05"
    assert formula["Due date"] == "2026-12-31" and formula["Status"] == "Approved"
    assert formula["Description"] == '\'=HYPERLINK("http://x")'
    assert formula["Bank account number"] == "••••6789"
    assert "000123456789" not in text  # the full account number is never stored, so never exported
    event = AuditEvent.objects.filter(action="list.exported").latest("id")
    assert event.actor_label == "boss" and event.object_type == "payables.payable"
    assert event.changes["filters"]["after"] == f"status__exact={P.APPROVED}"
    assert event.changes["format"]["after"] == "CSV"


def test_excel_opens_with_the_same_rows_numbers_dates_and_no_formula(client, three_payables):
    login_verified(client, make_user("boss", role=roles.MANAGER))
    url = reverse("admin:payables_payable_export", args=["xlsx"]) + f"?status__exact={P.APPROVED}&o=1"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(_body(response))).active
    header = [cell.value for cell in sheet[1]]
    rows = [dict(zip(header, (cell for cell in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == 2
    formula = next(row for row in rows if row["Bill number"].value == "INV-FORMULA")
    assert formula["Amount"].value == 1234.56 and formula["Amount"].number_format == "#,##0.00"
    assert formula["Currency"].value == "USD"
    assert formula["Due date"].value.date() == dt.date(2026, 12, 31) and formula["Due date"].is_date
    assert formula["Description"].data_type == "s" and formula["Description"].value.startswith("'=")
    assert AuditEvent.objects.filter(action="list.exported", changes__format__after="Excel").exists()


def test_the_list_offers_both_exports_with_its_current_filters(client, three_payables):
    login_verified(client, make_user("boss", role=roles.MANAGER))
    page = client.get(reverse("admin:payables_payable_changelist") + "?status__exact=approved").content.decode()
    assert 'href="/admin/payables/payable/export/csv/?status__exact=approved"' in page
    assert 'href="/admin/payables/payable/export/xlsx/?status__exact=approved"' in page


@pytest.mark.parametrize("name", LISTS)
def test_every_large_list_exports_for_whoever_may_view_it(client, name, dots):
    login_verified(client, make_user("boss", role=roles.MANAGER))
    page = client.get(reverse(f"admin:{name}_changelist")).content.decode()
    assert "Export CSV" in page and "Export Excel" in page
    for fmt in ("csv", "xlsx"):
        assert client.get(reverse(f"admin:{name}_export", args=[fmt])).status_code == 200


def test_only_roles_that_may_view_a_list_may_export_it(client, three_payables):
    login_verified(client, make_user("op", role=roles.PAYOUTS_OPERATOR))
    assert client.get(reverse("admin:payables_payable_export", args=["csv"])).status_code == 403
    assert not AuditEvent.objects.filter(action="list.exported").exists()
    client.logout()
    assert client.get(reverse("admin:payables_payable_export", args=["csv"])).status_code == 302  # sign in first


def test_an_unknown_format_is_not_found_and_a_post_is_refused(client):
    login_verified(client, make_user("boss", role=roles.MANAGER))
    assert client.get(reverse("admin:payables_payable_export", args=["pdf"])).status_code == 404
    assert client.post(reverse("admin:payables_payable_export", args=["csv"])).status_code == 405


def test_the_audit_history_exports_to_excel_for_those_who_may_export_it(client, three_payables):
    login_verified(client, make_user("boss", role=roles.MANAGER))
    response = client.get(reverse("admin:core_auditevent_export_list", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(_body(response))).active
    assert [cell.value for cell in sheet[1]][:3] == ["id", "When", "Who"]
    assert sheet.max_row > 1
    client.logout()
    login_verified(client, make_user("clerk9", role=roles.AP_CLERK))
    assert client.get(reverse("admin:core_auditevent_export_list", args=["xlsx"])).status_code == 403
