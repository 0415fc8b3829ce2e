"""What vendors and payouts tell people, over real HTTP against the Dots emulator."""

import pytest
from django.core import mail
from django.urls import reverse

from core import roles
from notifications.models import Notification
from payouts.models import PayoutRun
from payouts.services import payee_import_check, payee_imports, payout_runs
from tests.payouts.conftest import csv_bytes, good_rows, upload
from tests.support import login_verified, make_user
from vendors import bank_accounts

pytestmark = pytest.mark.django_db
WAITING = "vendor_bank_account.waiting_for_verification"


def test_a_new_bank_account_is_announced_to_everyone_who_may_verify_it_but_who_added_it(
    people, vendor_account, django_capture_on_commit_callbacks
):
    vendor, _ = vendor_account
    with django_capture_on_commit_callbacks(execute=True):
        account = bank_accounts.bank_account_create(
            actor=people.clerk,
            vendor_id=vendor.pk,
            name="Acme reserve",
            routing_number="021000021",
            account_number="000987654321",
            account_type="savings",
        )
    told = set(
        Notification.objects.filter(event=WAITING, target_id=str(account.pk)).values_list(
            "recipient__username", flat=True
        )
    )
    # AP clerks and Approvers may verify; the clerk who added it may not; Payers may not.
    assert told == {"clerk2", "approver", "approver2", "approver3"}
    expected = {people.clerk2.email, people.approver.email, people.approver2.email, people.approver3.email}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(expected)
    for message in mail.outbox:
        assert message.subject.startswith("Acme Supplies: bank account Acme reserve")
        assert message.subject.endswith("waits for your verification")
        assert "a second person confirms it" in message.body
    assert not any("000987654321" in m.body or "000987654321" in m.subject for m in mail.outbox)


def test_my_tasks_lists_a_bank_account_until_it_is_verified(client, people, vendor_account):
    vendor, _ = vendor_account
    account = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="Acme reserve",
        routing_number="021000021",
        account_number="000987654321",
        account_type="savings",
    )
    login_verified(client, people.clerk2)
    page = client.get(reverse("admin:notifications_notification_inbox")).content.decode()
    assert "Acme reserve" in page and "waits for your verification" in page
    # The clerk who added it has nothing to verify.
    login_verified(client, people.clerk)
    page = client.get(reverse("admin:notifications_notification_inbox")).content.decode()
    assert 'id="waits-bank_accounts_to_verify"' not in page
    bank_accounts.bank_account_verify(actor=people.clerk2, bank_account_id=account.pk, how_confirmed="called them")
    login_verified(client, people.clerk2)
    page = client.get(reverse("admin:notifications_notification_inbox")).content.decode()
    assert 'id="waits-bank_accounts_to_verify"' not in page


def test_a_payee_import_and_its_payout_run_tell_who_uploaded_and_who_started_them(
    dots, django_capture_on_commit_callbacks
):
    operator = make_user("operator", role=roles.PAYOUTS_OPERATOR)
    payer = make_user("payer", role=roles.PAYER)
    rows = [f"{row},12.50,June" for row in good_rows(2)]
    imp = payee_import_check.payee_import_preview(
        fileobj=upload(csv_bytes(rows, header="first_name,last_name,email,phone,amount,memo")),
        file_name="june.csv",
        actor=operator,
    )
    payee_imports.payee_import_confirm(import_id=imp.pk, actor=operator)
    with django_capture_on_commit_callbacks(execute=True):
        payee_imports.payee_import_process(import_id=imp.pk, actor=operator)
    [email] = [m for m in mail.outbox if m.to == [operator.email]]
    assert email.subject == "The payee import june.csv finished: 2 created, 0 linked to existing Dots users"
    mail.outbox.clear()
    run = PayoutRun.objects.get(payee_import=imp)
    with django_capture_on_commit_callbacks(execute=True):
        payout_runs.payout_run_approve(run_id=run.pk, actor=payer)
    run.refresh_from_db()
    assert run.status == PayoutRun.Status.SENT
    by_address = {m.to[0]: m.subject for m in mail.outbox}
    assert set(by_address) == {operator.email, payer.email}
    assert by_address[payer.email] == f"{run} finished: 2 sent"
    assert "total $25.00" in [m for m in mail.outbox if m.to == [payer.email]][0].body
