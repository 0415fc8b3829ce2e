"""In a browser: a payer schedules an approved payable for tomorrow; the clocks move; the morning run pays it once."""

import datetime as dt

import pytest
from django.utils import timezone

from core import audit
from core.models import AuditEvent
from payables import scheduled
from payables.models import Payable
from tests.browser.helpers import sign_in
from tests.support import add_totp_device, current_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAY_PATH = "/v2/accounts-payable/payables/*/pay"


def test_a_payer_schedules_a_payment_for_tomorrow_and_it_is_paid_once(
    page, live_server, people, approved_payable, dots
):
    base = live_server.url
    people.payer.first_name, people.payer.last_name = "Pat", "Payer"
    people.payer.save()
    device = add_totp_device(people.payer)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    sign_in(page, base, "payer", code=current_code(device))
    page.goto(f"{base}/admin/payables/payable/{approved_payable.pk}/change/")
    with page.expect_navigation():
        page.click("a.button:has-text('Schedule payment…')")
    page.fill("#id_pay_on", tomorrow.isoformat())
    with page.expect_navigation():
        page.click("input[type=submit][value=Schedule]")
    assert "scheduled for payment" in page.inner_text(".messagelist"), page.inner_text("#content")
    page.goto(f"{base}/admin/payables/payable/{approved_payable.pk}/change/")
    assert f"Scheduled to pay on {tomorrow.day} {tomorrow:%b %Y} by Pat Payer." in page.inner_text(".scheduled-payment")

    # Tomorrow morning, by the emulator's clock and ours: the run pays it, and a second run sends nothing.
    morning = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(7, 0)))
    dots.control("clock", {"offset_seconds": int((morning - timezone.now()).total_seconds())})
    try:
        scheduled.payables_pay_scheduled(actor=audit.system_user(), now=morning)
        scheduled.payables_pay_scheduled(actor=audit.system_user(), now=morning + dt.timedelta(minutes=15))
    finally:
        dots.control("clock", {"offset_seconds": 0})
    assert len(dots.received("POST", PAY_PATH)) == 1
    payable = Payable.objects.get(pk=approved_payable.pk)
    assert payable.status in (Payable.Status.PAYMENT_INITIATED, Payable.Status.PAYMENT_COMPLETED)
    page.goto(f"{base}/admin/payables/payable/{approved_payable.pk}/change/")
    assert "paid on the day" in page.inner_text(".scheduled-payment")
    requested = AuditEvent.objects.get(action="payable.pay_requested", object_id=str(payable.pk))
    assert requested.actor == people.payer
    assert page.csp_violations == []
