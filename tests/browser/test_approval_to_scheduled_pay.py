"""Issue #14 end to end in a browser: a clerk submits; the approver is away, so their backup finds the payable
in My tasks (and the email in the outbox) and approves it as themselves; the payer schedules it for tomorrow;
the clocks move (the emulator's and ours); the morning run pays it once; the audit names everyone."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core import audit, roles
from notifications import services as notification_services
from notifications.models import short_date
from payables import policies, scheduled
from payables.models import Approver, Payable
from tests.browser.helpers import sign_in
from tests.support import add_totp_device, current_code, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAY_PATH = "/v2/accounts-payable/payables/*/pay"


def click_and_wait(page, selector):
    with page.expect_navigation():
        page.click(selector)


def _name(user, first, last):
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])


def test_submitted_covered_by_the_backup_scheduled_and_paid_once(page, live_server, people, make_payable, dots):
    base = live_server.url
    dots.settings(payable_payment={"mode": "immediate", "outcome": "payment_completed"})
    avery, blake, payer = people.approver, people.approver2, people.payer
    _name(avery, "Avery", "Approver")
    _name(blake, "Blake", "Backup")
    _name(payer, "Pat", "Payer")
    _name(people.clerk, "Casey", "Clerk")
    admin = make_user("policy-admin", role=roles.ADMINISTRATOR)
    manager = make_user("manager", role=roles.MANAGER)
    device = add_totp_device(payer)
    # One step: Avery or Blake (so Blake, Avery's backup, may approve it in Dots as themselves).
    listed = Approver.objects.filter(user__in=[avery, blake]).values_list("pk", flat=True)
    policies.policy_create(actor=admin, description="Every bill", priority=1, steps=[(1, list(listed))])
    today = timezone.localdate()
    notification_services.absence_record(
        actor=avery, user=avery, starts_on=today, ends_on=today + dt.timedelta(days=6), backup=blake
    )
    payable = make_payable()

    # 1. The clerk submits.
    sign_in(page, base, "clerk")
    page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
    click_and_wait(page, "input[value='Submit for approval']")
    assert Payable.objects.get(pk=payable.pk).status == Payable.Status.SUBMITTED

    # 2. Avery is away: Blake is told in Avery's place (and for themselves), by email and in My tasks.
    to_blake = [m for m in mail.outbox if m.to == [blake.email]]
    assert any(m.subject.startswith("[for Avery Approver] ") for m in to_blake), [m.subject for m in mail.outbox]
    assert not [m.subject for m in mail.outbox if m.to == [avery.email] and payable.bill_number in m.subject]
    sign_in(page, base, blake.username)
    page.goto(f"{base}{reverse('admin:notifications_notification_inbox')}")
    tasks = page.inner_text("#my-notifications")
    assert payable.bill_number in tasks
    assert f"for Avery Approver (out until {short_date(today + dt.timedelta(days=6))})" in tasks
    click_and_wait(page, f"#my-notifications a:has-text('{payable.bill_number}')")
    click_and_wait(page, "a.button:has-text('Approve…')")
    click_and_wait(page, "input[type=submit][value=Approve]")
    assert Payable.objects.get(pk=payable.pk).status == Payable.Status.APPROVED

    # 2b. The approver is not the payer, superusers included: Blake, made a superuser, may not schedule it.
    blake.is_superuser = True
    blake.save(update_fields=["is_superuser"])
    blake_device = add_totp_device(blake)
    sign_in(page, base, blake.username, code=current_code(blake_device))
    page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
    assert "You approved this payable, so someone else pays it." in page.inner_text("#payable-panel")
    assert page.locator("a.button:has-text('Schedule payment…'), a.button:has-text('Pay…')").count() == 0
    # Even by the page's own address, scheduling is refused with the reason.
    page.goto(f"{base}{reverse('admin:payables_payable_act', args=[payable.pk, 'schedule'])}")
    page.fill("#id_pay_on", (today + dt.timedelta(days=1)).isoformat())
    click_and_wait(page, "input[type=submit][value=Schedule]")
    assert "you approved it, so someone else must schedule and pay it" in page.inner_text("body")
    assert Payable.objects.get(pk=payable.pk).pay_on is None

    # 3. The payer schedules it for tomorrow (the code given at sign-in is fresh).
    tomorrow = today + dt.timedelta(days=1)
    sign_in(page, base, "payer", code=current_code(device))
    page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
    click_and_wait(page, "a.button:has-text('Schedule payment…')")
    page.fill("#id_pay_on", tomorrow.isoformat())
    click_and_wait(page, "input[type=submit][value=Schedule]")
    page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
    assert f"Scheduled to pay on {tomorrow.day} {tomorrow:%b %Y} by Pat Payer." in page.inner_text(".scheduled-payment")

    # 4. Tomorrow morning by both clocks, the run pays it; a second run (or a second worker) sends nothing.
    morning = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(7, 0)))
    dots.control("clock", {"offset_seconds": int((morning - timezone.now()).total_seconds())})
    try:
        scheduled.payables_pay_scheduled(actor=audit.system_user(), now=morning)
        scheduled.payables_pay_scheduled(actor=audit.system_user(), now=morning)
    finally:
        dots.control("clock", {"offset_seconds": 0})
    assert len(dots.received("POST", PAY_PATH)) == 1
    assert Payable.objects.get(pk=payable.pk).status == Payable.Status.PAYMENT_COMPLETED
    assert any("was paid as you scheduled" in m.subject for m in mail.outbox if m.to == [payer.email])

    # 5. The manager reads every step in the audit history, with the right names.
    sign_in(page, base, manager.username)
    page.goto(f"{base}/admin/core/auditevent/?object_type=payables.payable&q={payable.pk}")
    rows = page.locator("#result_list tbody tr")
    # Newest first on the page: read them oldest first, as the story happened.
    lines = [rows.nth(i).inner_text() for i in range(rows.count())][::-1]
    steps = [
        ("Payable submitted for approval", "Casey Clerk"),
        ("Payable approved", "Blake Backup"),
        ("Payment scheduled for a date", "Pat Payer"),
        ("Payment requested", "Pat Payer"),
        ("Scheduled payment: outcome", audit.SYSTEM_USERNAME),
    ]
    found = []
    for label, who in steps:
        matching = [i for i, line in enumerate(lines) if label in line and who in line.split("\t")[2]]
        assert matching, (label, who, lines)
        found.append(matching[0])
    assert found == sorted(found), lines  # in the order they happened
    assert any("Payable paid" in line for line in lines), lines
    assert any("approved for Avery Approver, away" in line for line in lines), lines
    # Avery, away, did nothing; Blake, who approved, paid nothing.
    who = [line.split("\t")[2].split(" (")[0] for line in lines]
    assert avery.username not in who, lines
    payment_rows = [line.split("\t") for line in lines if line.split("\t")[3].startswith("Payment")]
    assert payment_rows and not [row for row in payment_rows if row[2].startswith(f"{blake.username} (")], lines
    assert page.csp_violations == []
