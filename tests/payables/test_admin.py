"""The payables admin: drafts with items and a PDF, the action pages, bulk actions and step-up."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core import roles
from core.models import AuditEvent
from core.two_factor import SESSION_OTP_VERIFIED_AT
from payables import services
from payables.models import Payable
from tests.support import add_totp_device, current_code, login_verified, make_user
from vendors import bank_accounts

pytestmark = pytest.mark.django_db
S = Payable.Status
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _act(pk, action):
    return reverse("admin:payables_payable_act", args=[pk, action])


def _add_form(vendor, account, **overrides):
    data = {
        "vendor": vendor.pk,
        "bank_account": account.pk,
        "bill_number": "INV-501",
        "description": "March supplies",
        "external_id": "",
        "due_date": "2026-12-31",
        "funding_source": "dots_balance",
        "amount_cents": "",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-name": "Paper",
        "items-0-description": "",
        "items-0-unit_price_cents": "$12.50",
        "items-0-quantity": "4",
        "items-1-name": "Toner",
        "items-1-description": "",
        "items-1-unit_price_cents": "1,000.00",
        "items-1-quantity": "1",
    }
    data.update(overrides)
    return data


def test_clerk_adds_a_draft_with_two_items_and_a_pdf(client, people, vendor_account):
    vendor, account = vendor_account
    login_verified(client, people.clerk)
    data = _add_form(vendor, account, file=SimpleUploadedFile("bill.pdf", PDF, content_type="application/pdf"))
    response = client.post(reverse("admin:payables_payable_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    payable = Payable.objects.get(bill_number="INV-501")
    assert payable.total_cents == 4 * 1250 + 100000
    assert payable.file_sha256
    assert payable.created_by == people.clerk
    event = AuditEvent.objects.get(action="payable.created", object_id=str(payable.pk))
    assert event.changes["total_cents"]["after"] == 105000


def test_a_file_that_is_not_a_pdf_is_refused_on_its_field(client, people, vendor_account):
    vendor, account = vendor_account
    login_verified(client, people.clerk)
    data = _add_form(
        vendor, account, file=SimpleUploadedFile("bill.pdf", b"MZ\x90 not a pdf", content_type="application/pdf")
    )
    response = client.post(reverse("admin:payables_payable_add"), data)
    assert response.status_code == 200
    assert "is not a PDF file" in str(response.context["adminform"].form.errors["file"])
    assert not Payable.objects.exists()


def test_a_bank_account_of_another_vendor_is_refused(client, people, vendor_account):
    from vendors.models import Vendor

    vendor, account = vendor_account
    other = Vendor.objects.create(
        name="Other Co", address_line_1="2 Side St", city="Austin", state="TX", postcode="73301", dots_id="vendor_other"
    )
    login_verified(client, people.clerk)
    response = client.post(reverse("admin:payables_payable_add"), _add_form(other, account))
    assert "belongs to Acme Supplies" in str(response.context["adminform"].form.errors["bank_account"])


def test_submit_button_submits_and_the_page_shows_the_steps(client, people, make_payable):
    payable = make_payable()
    login_verified(client, people.clerk)
    response = client.post(_act(payable.pk, "submit"), follow=True)
    payable.refresh_from_db()
    assert payable.status == S.SUBMITTED
    page = response.content.decode()
    assert "submitted for approval" in page
    # Whose approval it waits for, by name (the clerk is no approver: no "Approve…" for them).
    assert "Next: Approval: step 1 of 1 waits for approver, approver2 or approver3" in re.sub(r"<[^>]+>", "", page)
    assert "Approve…" not in page


def test_submitted_payable_cannot_be_edited(client, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    login_verified(client, people.clerk)
    response = client.post(reverse("admin:payables_payable_change", args=[payable.pk]), {"bill_number": "CHANGED"})
    assert response.status_code == 403
    payable.refresh_from_db()
    assert payable.bill_number != "CHANGED"


def test_a_possible_duplicate_shows_the_match_and_asks_for_a_reason(client, people, make_payable):
    first = make_payable(bill_number="INV-0042")
    services.payable_submit(payable_id=first.pk, actor=people.clerk)
    second = make_payable(bill_number="#42", items=[("Other", 300, 1)])
    login_verified(client, people.clerk)
    page = client.post(_act(second.pk, "submit")).content.decode()
    assert "Possible duplicate" in page
    assert reverse("admin:payables_payable_change", args=[first.pk]) in page
    page = client.post(_act(second.pk, "submit"), {"confirm": "1", "reason": ""}).content.decode()
    assert "Give a reason" in page
    client.post(_act(second.pk, "submit"), {"confirm": "1", "reason": "separate delivery"})
    second.refresh_from_db()
    assert second.status == S.SUBMITTED
    assert second.duplicate_override_reason == "separate delivery"


def test_approver_approves_through_the_page_with_a_comment(client, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    login_verified(client, people.approver)
    assert "Comment (optional)" in client.get(_act(payable.pk, "approve")).content.decode()
    client.post(_act(payable.pk, "approve"), {"confirm": "1", "comment": "fine"})
    payable.refresh_from_db()
    assert payable.status == S.APPROVED


def test_reject_page_requires_a_reason(client, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    login_verified(client, people.approver)
    page = client.post(_act(payable.pk, "reject"), {"confirm": "1", "reason": ""}).content.decode()
    assert "Give a reason" in page
    client.post(_act(payable.pk, "reject"), {"confirm": "1", "reason": "wrong vendor"})
    payable.refresh_from_db()
    assert payable.status == S.REJECTED


def test_bulk_approve_reports_each_payable(client, people, make_payable):
    mine = make_payable(creator=people.approver, items=[("A", 1_001, 1)])  # entered by this approver
    others = [make_payable(items=[("B", 2_000 + n, 1)]) for n in range(2)]
    for payable in [mine, *others]:
        services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    already = make_payable(items=[("C", 3_003, 1)])
    services.payable_submit(payable_id=already.pk, actor=people.clerk)
    services.payable_approve(payable_id=already.pk, actor=people.approver2)
    login_verified(client, people.approver)
    response = client.post(
        reverse("admin:payables_payable_changelist"),
        {"action": "approve_selected", "_selected_action": [p.pk for p in [mine, *others, already]]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert "2 fully approved." in texts
    skipped = next(t for t in texts if "skipped" in t)
    assert skipped.startswith("2 skipped")
    # The bill number once, never "INV-1: INV-1: ...".
    assert f"{mine.bill_number}: you created it" in skipped
    assert f"{mine.bill_number}: {mine.bill_number}" not in skipped
    assert f"{already.bill_number}:" in skipped and "approved" in skipped


def test_pay_asks_for_a_fresh_code_and_refuses_a_wrong_one(client, people, approved_payable):
    device = add_totp_device(people.payer)
    login_verified(client, people.payer)
    page = client.get(_act(approved_payable.pk, "pay")).content.decode()
    assert "Code from your authenticator app" in page
    page = client.post(_act(approved_payable.pk, "pay"), {"confirm": "1", "otp_token": "000000"}).content.decode()
    assert "That code is wrong or has expired" in page
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED
    # django-otp slows down guessing after a wrong code; this test is about the right one.
    device.refresh_from_db()
    device.throttle_reset()
    client.post(_act(approved_payable.pk, "pay"), {"confirm": "1", "otp_token": current_code(device)})
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.PAYMENT_INITIATED


def test_pay_within_five_minutes_of_a_code_only_asks_to_confirm(client, people, approved_payable):
    login_verified(client, people.payer)
    session = client.session
    session[SESSION_OTP_VERIFIED_AT] = timezone.now().timestamp() - 60
    session.save()
    page = client.get(_act(approved_payable.pk, "pay")).content.decode()
    assert "Code from your authenticator app" not in page
    client.post(_act(approved_payable.pk, "pay"), {"confirm": "1"})
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.PAYMENT_INITIATED


def test_a_get_never_pays(client, people, approved_payable):
    login_verified(client, people.payer)
    session = client.session
    session[SESSION_OTP_VERIFIED_AT] = timezone.now().timestamp()
    session.save()
    client.get(_act(approved_payable.pk, "pay"))
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED


def test_list_filters_and_bill_number_search(client, people, make_payable):
    overdue = make_payable(bill_number="OLD-1", due_date=timezone.localdate() - dt.timedelta(days=3))
    later = make_payable(bill_number="NEW-1", due_date=timezone.localdate() + dt.timedelta(days=30))
    login_verified(client, people.clerk)
    url = reverse("admin:payables_payable_changelist")

    def listed(params):
        return [p.pk for p in client.get(url, params).context["cl"].result_list]

    assert listed({"due": "overdue"}) == [overdue.pk]
    assert listed({"q": "NEW"}) == [later.pk]
    assert set(listed({"status__exact": "created"})) == {overdue.pk, later.pk}
    page = client.get(url).content.decode()
    assert "$250.00" in page and "Clerk: submit for approval" in page


def test_waiting_for_my_approval_lists_what_the_approver_must_act_on(client, people, make_payable):
    waiting = make_payable()
    services.payable_submit(payable_id=waiting.pk, actor=people.clerk)
    make_payable()  # a draft: nobody's approval yet
    login_verified(client, people.approver)
    result = client.get(reverse("admin:payables_payable_changelist"), {"waiting": "me"}).context["cl"].result_list
    assert [p.pk for p in result] == [waiting.pk]


def test_a_payable_to_an_unverified_account_says_it_waits(client, people, make_payable, vendor_account):

    vendor, _ = vendor_account
    fresh = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="New",
        routing_number="011000015",
        account_number="55554444",
        account_type="checking",
    )
    payable = make_payable(bank_account=fresh)
    login_verified(client, people.payer)
    page = client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()
    assert "waits for verification by a second person" in page


def test_the_form_offers_only_vendors_and_accounts_a_bill_may_name(client, people, vendor_account):
    from vendors.models import Vendor, VendorBankAccount

    vendor, account = vendor_account
    Vendor.objects.create(name="Never sent", address_line_1="1 A", city="B", state="TX", postcode="73301")
    retired = VendorBankAccount.objects.create(
        vendor=vendor,
        name="Old account",
        routing_number="021000021",
        account_last4="1111",
        account_type="checking",
        dots_id="pm_old",
        retired_at=timezone.now(),
    )
    login_verified(client, people.clerk)
    form = client.get(reverse("admin:payables_payable_add")).context["adminform"].form
    assert list(form.fields["vendor"].queryset) == [vendor]
    assert account in form.fields["bank_account"].queryset
    assert retired not in form.fields["bank_account"].queryset


@pytest.mark.parametrize(
    ("who", "action"),
    [("clerk", "approve"), ("clerk", "reject"), ("payer", "cancel"), ("approver", "pay"), ("clerk", "pay")],
)
def test_an_action_page_refuses_a_role_that_cannot_take_that_action(client, people, make_payable, who, action):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    login_verified(client, getattr(people, who))
    page = client.get(_act(payable.pk, action))
    assert page.status_code == 403
    assert payable.bill_number not in page.content.decode()
    refused = client.post(_act(payable.pk, action), {"confirm": "1", "reason": "because", "otp_token": "000000"})
    assert refused.status_code == 403
    payable.refresh_from_db()
    assert payable.status == S.SUBMITTED


def test_a_payouts_operator_posting_to_bulk_approve_is_refused_and_sees_no_bill_number(client, people, make_payable):
    payable = make_payable(bill_number="SECRET-BILL-77")
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    login_verified(client, operator)
    response = client.post(
        reverse("admin:payables_payable_bulk", args=["approve"]), {"ids": [payable.pk], "confirm": "1"}
    )
    assert response.status_code == 403
    assert "SECRET-BILL-77" not in response.content.decode()
    payable.refresh_from_db()
    assert payable.status == S.SUBMITTED
    assert not AuditEvent.objects.filter(action__in=["payable.approved", "payable.step_approved"]).exists()


def test_bulk_reject_asks_for_a_reason_then_rejects_every_selected_payable(client, people, make_payable):
    payables = [make_payable(items=[("A", 1_000 + n, 1)]) for n in range(2)]
    for payable in payables:
        services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    login_verified(client, people.approver)
    page = client.post(
        reverse("admin:payables_payable_changelist"),
        {"action": "reject_selected", "_selected_action": [p.pk for p in payables]},
    ).content.decode()
    assert "Give a reason" not in page and reverse("admin:payables_payable_bulk", args=["reject"]) in page
    for payable in payables:
        assert f'name="ids" value="{payable.pk}"' in page
    response = client.post(
        reverse("admin:payables_payable_bulk", args=["reject"]),
        {"ids": [p.pk for p in payables], "confirm": "1", "reason": "sent twice"},
        follow=True,
    )
    assert "2 rejected." in [str(m) for m in response.context["messages"]]
    assert {p.status for p in Payable.objects.filter(pk__in=[p.pk for p in payables])} == {S.REJECTED}
