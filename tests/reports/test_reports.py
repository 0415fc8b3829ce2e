"""The reports: AP aging by vendor, vendor spend by month, 1099 readiness; each page, CSV and Excel."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core import roles
from core.models import AuditEvent
from payables.models import Payable
from payouts import tax
from payouts.models import Payee, PayeeTransfer, PayoutLink
from reports import reports
from tests.support import login_verified, make_user
from vendors import services as vendor_services

pytestmark = pytest.mark.django_db
P = Payable.Status


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _place(payable, status, **fields):
    Payable.objects.filter(pk=payable.pk).update(status=status, **fields)


@pytest.fixture
def manager(client):
    user = make_user("boss", role=roles.MANAGER)
    login_verified(client, user)
    return user


@pytest.fixture
def second_vendor(people):
    vendor = vendor_services.vendor_create(
        actor=people.clerk, name="Beta Tools", address_line_1="2 Side St", city="Austin", state="TX", postcode="78701"
    )
    return vendor


def test_ap_aging_by_vendor_with_totals_and_its_exports(client, manager, make_payable, people, vendor_account):
    today = timezone.localdate()
    _place(make_payable(amount_cents=10_000), P.APPROVED, due_date=today + dt.timedelta(days=3))
    _place(make_payable(amount_cents=20_000), P.SUBMITTED, due_date=today - dt.timedelta(days=10))
    _place(make_payable(amount_cents=30_000), P.PAYMENT_FAILED, due_date=today - dt.timedelta(days=100))
    _place(make_payable(amount_cents=99_000), P.PAYMENT_COMPLETED, due_date=today - dt.timedelta(days=100))
    table = reports.ap_aging_report(type("R", (), {"GET": {}})())
    assert table.rows == [("Acme Supplies", 3, 10_000, 20_000, 0, 0, 30_000, 60_000)]
    assert table.totals == ("All vendors", 3, 10_000, 20_000, 0, 0, 30_000, 60_000)

    page = client.get(reverse("admin:report", args=["ap_aging"])).content.decode()
    assert "AP aging by vendor" in page and "Acme Supplies" in page and "$600.00" in page
    rows = list(
        csv.reader(
            io.StringIO(_body(client.get(reverse("admin:report_export", args=["ap_aging", "csv"]))).decode("utf-8-sig"))
        )
    )
    assert rows[0][:3] == ["Vendor", "Unpaid payables", "Not yet due"] and rows[0][-1] == "Currency"
    assert rows[1][:3] == ["Acme Supplies", "3", "100.00"] and rows[1][-2:] == ["600.00", "USD"]
    sheet = load_workbook(
        io.BytesIO(_body(client.get(reverse("admin:report_export", args=["ap_aging", "xlsx"]))))
    ).active
    assert sheet["A2"].value == "Acme Supplies" and sheet["H2"].value == 600.0
    assert AuditEvent.objects.filter(action="list.exported", object_type="report.ap_aging").count() == 2


def test_ap_aging_as_of_another_day_and_a_bad_date_is_said(client, manager, make_payable):
    today = timezone.localdate()
    _place(make_payable(amount_cents=10_000), P.APPROVED, due_date=today)
    table = reports.ap_aging_report(type("R", (), {"GET": {"as_of": (today + dt.timedelta(days=40)).isoformat()}})())
    assert table.rows[0][2:7] == (0, 0, 10_000, 0, 0)
    page = client.get(reverse("admin:report", args=["ap_aging"]) + "?as_of=yesterday").content.decode()
    assert "is not a date" in page


def test_vendor_spend_by_month_counts_each_paid_payable_once(client, manager, make_payable):
    now = timezone.localtime()
    this_month = now.replace(day=1, hour=12)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=15)
    _place(make_payable(amount_cents=10_000), P.PAYMENT_COMPLETED, status_changed_at=this_month)
    _place(make_payable(amount_cents=20_000), P.PAYMENT_COMPLETED, status_changed_at=last_month)
    _place(make_payable(amount_cents=40_000), P.PAYMENT_FAILED, status_changed_at=this_month)
    table = reports.vendor_spend_report(type("R", (), {"GET": {}})())
    assert len(table.columns) == 14  # vendor, 12 months, total
    (row,) = table.rows
    assert row[0] == "Acme Supplies" and row[-3:] == (20_000, 10_000, 30_000)
    page = client.get(reverse("admin:report", args=["vendor_spend"])).content.decode()
    assert f"{this_month:%b %Y}" in page and "$300.00" in page


def test_1099_thresholds_by_year_and_a_year_without_one():
    assert tax.threshold_cents(2025) == 600_00 and tax.threshold_cents(2026) == 2_000_00
    assert tax.threshold_cents(2027) is None
    assert "2027" in tax.missing_threshold_message(2027) and "indexed" in tax.missing_threshold_message(2027)


def test_1099_readiness_over_the_threshold_without_a_matched_tin_first(client, manager, people):
    year = timezone.localdate().year
    in_year = timezone.make_aware(dt.datetime(year, 3, 1, 12))

    def payee(name, compliance):
        return Payee.objects.create(
            first_name=name,
            last_name="Doe",
            email=f"{name}@example.com",
            phone_e164=f"+1555{Payee.objects.count() + 1:07d}",
            compliance=compliance,
        )

    unmatched = payee("Una", {"tax_id_verification": "pending", "w9": {"tax_id_collected": True}})
    matched = payee(
        "Matt", {"tax_id_verification": "matched", "w9": {"tax_id_collected": True}, "1099_collected": True}
    )
    small = payee("Sam", {})
    exempt = payee("Eve", {})
    threshold = tax.threshold_cents(year) or 600_00

    def link(who, cents, tax_exempt=False, status=PayoutLink.Status.CLAIMED):
        made = PayoutLink.objects.create(
            payee=who, amount_cents=cents, status=status, tax_exempt=tax_exempt, created_by=people.clerk
        )
        PayoutLink.objects.filter(pk=made.pk).update(updated_at=in_year)

    link(unmatched, threshold)  # exactly the threshold: over it (reportable at the threshold)
    link(matched, threshold + 5_000)
    link(small, 1_000)
    link(small, 50_000, status=PayoutLink.Status.EXPIRED)  # never paid
    link(exempt, threshold * 2, tax_exempt=True)  # tax-exempt: left out
    sent = PayeeTransfer.objects.create(
        payee=small,
        amount_cents=2_000,
        reason="bonus",
        requested_by=people.clerk,
        status=PayeeTransfer.Status.COMPLETED,
    )
    PayeeTransfer.objects.filter(pk=sent.pk).update(updated_at=in_year)

    rows = reports.readiness_rows(year, threshold)
    assert [row[0] for row in rows] == ["Una Doe", "Matt Doe", "Sam Doe"]
    assert rows[0][2:] == (threshold, True, True, "being checked", False, False)
    assert rows[1][3] is True and rows[1][5] == "matched" and rows[1][7] is True
    assert rows[2][2:4] == (3_000, False)
    page = client.get(reverse("admin:report", args=["tax_1099"]) + f"?year={year}").content.decode()
    assert "Una Doe" in page and "Eve Doe" not in page


def test_1099_for_a_year_without_a_threshold_says_so(client, manager):
    page = client.get(reverse("admin:report", args=["tax_1099"]) + "?year=abc").content.decode()
    assert "is not a tax year" in page


@pytest.mark.parametrize("role", [roles.AP_CLERK, roles.APPROVER, roles.PAYER, roles.PAYOUTS_OPERATOR])
def test_reports_are_for_managers_and_administrators(client, role):
    login_verified(client, make_user("someone", role=role))
    for name in ("ap_aging", "vendor_spend", "tax_1099"):
        assert client.get(reverse("admin:report", args=[name])).status_code == 403
        assert client.get(reverse("admin:report_export", args=[name, "csv"])).status_code == 403


def test_the_home_page_lists_the_reports_and_an_unknown_one_is_not_found(client, manager):
    page = client.get(reverse("admin:index")).content.decode()
    for name in ("ap_aging", "vendor_spend", "tax_1099"):
        assert reverse("admin:report", args=[name]) in page
    assert client.get(reverse("admin:report", args=["nothing"])).status_code == 404


def test_the_same_amount_is_over_the_2025_threshold_and_under_the_2026_one(people):
    payee = Payee.objects.create(first_name="Yan", last_name="Lee", email="yan@example.com", phone_e164="+15550001234")
    for year in (2025, 2026):
        link = PayoutLink.objects.create(
            payee=payee, amount_cents=70_000, status=PayoutLink.Status.CLAIMED, created_by=people.clerk
        )
        PayoutLink.objects.filter(pk=link.pk).update(updated_at=timezone.make_aware(dt.datetime(year, 6, 30, 12)))
    (in_2025,) = reports.readiness_rows(2025, tax.threshold_cents(2025))
    (in_2026,) = reports.readiness_rows(2026, tax.threshold_cents(2026))
    assert in_2025[2:4] == (70_000, True)  # $700 >= $600
    assert in_2026[2:4] == (70_000, False)  # $700 < $2,000


def test_a_payment_on_new_years_eve_counts_in_its_local_year(people, settings):
    import zoneinfo

    settings.TIME_ZONE = "America/Los_Angeles"
    payee = Payee.objects.create(first_name="Zoe", last_name="Ng", email="zoe@example.com", phone_e164="+15550004321")
    link = PayoutLink.objects.create(
        payee=payee, amount_cents=5_000, status=PayoutLink.Status.CLAIMED, created_by=people.clerk
    )
    # 31 Dec 2025, 20:00 in Los Angeles is already 1 Jan 2026 in UTC.
    moment = dt.datetime(2025, 12, 31, 20, tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles"))
    PayoutLink.objects.filter(pk=link.pk).update(updated_at=moment)
    with timezone.override(zoneinfo.ZoneInfo("America/Los_Angeles")):
        assert reports.paid_to_payees(2025) == {payee.pk: 5_000}
        assert reports.paid_to_payees(2026) == {}


def test_with_the_setting_on_paying_past_the_threshold_without_a_matched_tin_is_refused(people, settings, dots):
    from core.errors import DomainError
    from payouts.services import payout_links

    settings.PAYOUTS_REQUIRE_MATCHED_TIN_OVER_1099_THRESHOLD = True
    operator = make_user("op", role=roles.PAYOUTS_OPERATOR)
    year = timezone.localdate().year
    threshold = tax.threshold_cents(year)
    payee = Payee.objects.create(
        first_name="Ida",
        last_name="Ko",
        email="ida@example.com",
        phone_e164="+15550007777",
        compliance={"tax_id_verification": "pending"},
    )
    paid = PayoutLink.objects.create(
        payee=payee, amount_cents=threshold - 1_000, status=PayoutLink.Status.CLAIMED, created_by=people.clerk
    )
    assert paid.updated_at.year == year
    # Under the threshold with this payment: allowed. Reaching it: refused, saying why.
    payout_links.payout_link_request(amount_cents=999, actor=operator, payee_id=payee.pk, push=False)
    with pytest.raises(DomainError, match="1099 threshold.*has not matched their TIN"):
        payout_links.payout_link_request(amount_cents=2_000, actor=operator, payee_id=payee.pk, push=False)
    # Tax-exempt payments never count; a matched TIN lifts the guard.
    payout_links.payout_link_request(amount_cents=2_000, actor=operator, payee_id=payee.pk, push=False, tax_exempt=True)
    Payee.objects.filter(pk=payee.pk).update(compliance={"tax_id_verification": "matched"})
    payout_links.payout_link_request(amount_cents=2_000, actor=operator, payee_id=payee.pk, push=False)


def test_the_guard_is_off_by_default(people, dots):
    from payouts.services import payout_links

    operator = make_user("op", role=roles.PAYOUTS_OPERATOR)
    payee = Payee.objects.create(first_name="Al", last_name="Bo", email="al@example.com", phone_e164="+15550008888")
    payout_links.payout_link_request(amount_cents=5_000_000_00 // 100, actor=operator, payee_id=payee.pk, push=False)


def test_with_the_setting_on_a_batch_paying_past_the_threshold_is_refused_naming_the_payee(people, settings):
    from core.errors import DomainError
    from payouts.models import PayoutBatch
    from payouts.services import payout_batches

    settings.PAYOUTS_REQUIRE_MATCHED_TIN_OVER_1099_THRESHOLD = True
    operator = make_user("op", role=roles.PAYOUTS_OPERATOR)
    threshold = tax.threshold_cents(timezone.localdate().year)
    ok = Payee.objects.create(
        first_name="Ok",
        last_name="Fine",
        email="ok@example.com",
        phone_e164="+15550009991",
        dots_user_id="u-ok",
        compliance={"tax_id_verification": "matched"},
    )
    over = Payee.objects.create(
        first_name="Over",
        last_name="Limit",
        email="over@example.com",
        phone_e164="+15550009992",
        dots_user_id="u-over",
    )
    with pytest.raises(DomainError, match="Over Limit.*1099 threshold"):
        payout_batches.batch_request(actor=operator, rows=[(ok.pk, threshold), (over.pk, threshold)], reason="June")
    assert not PayoutBatch.objects.exists()
    assert payout_batches.batch_request(actor=operator, rows=[(ok.pk, threshold), (over.pk, 100)], reason="June")
