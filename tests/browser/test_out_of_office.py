"""In a browser: an approver records their absence, the clerk submits, the backup is emailed, finds the
payable under My tasks "for Avery Approver", approves it as themselves, and the audit history says for whom."""

import pytest
from django.core import mail

from core import roles
from payables import policies
from payables.models import Approver, Payable
from tests.browser.helpers import sign_in
from tests.support import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def click_and_wait(page, selector):
    with page.expect_navigation():
        page.click(selector)


def test_an_absent_approvers_backup_is_told_finds_it_in_my_tasks_and_approves_as_themselves(
    page, live_server, people, make_payable, dots
):
    base = live_server.url
    for user, first, last in ((people.approver, "Avery", "Approver"), (people.approver2, "Blake", "Backup")):
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
    administrator = make_user("ada", role=roles.ADMINISTRATOR)
    policies.policy_create(
        actor=administrator,
        description="Every bill",
        priority=1,
        amount_comparator=">=",
        amount_cents=0,
        steps=[(1, [Approver.objects.get(user=u).pk for u in (people.approver, people.approver2)])],
    )
    payable = make_payable()

    # 1. Avery records their absence and names Blake as backup.
    sign_in(page, base, "approver")
    click_and_wait(page, "#my-tasks-link")
    click_and_wait(page, "a:has-text('Out of office')")
    page.fill("#id_ends_on", page.input_value("#id_starts_on"))
    page.select_option("#id_backup", label="Blake Backup")
    page.fill("#id_note", "Dentist")
    click_and_wait(page, "input[value='Record the absence']")
    assert "Blake Backup is told in their place" in page.inner_text(".messagelist")

    # 2. The clerk submits the bill: Blake is emailed for Avery (and, listed in the step, for themselves).
    mail.outbox.clear()
    sign_in(page, base, "clerk")
    page.goto(f"{base}/admin/payables/payable/{payable.pk}/change/")
    click_and_wait(page, "input[value='Submit for approval']")
    assert Payable.objects.get(pk=payable.pk).status == Payable.Status.SUBMITTED
    to_blake = [m for m in mail.outbox if m.to == [people.approver2.email]]
    assert any(m.subject.startswith("[for Avery Approver] ") for m in to_blake), [m.subject for m in mail.outbox]
    assert not [m for m in mail.outbox if m.to == [people.approver.email]]

    # 3. Blake finds it under My tasks, for Avery, and approves it as themselves.
    sign_in(page, base, "approver2")
    assert "my tasks (1)" in page.inner_text("#my-tasks-link").lower()
    click_and_wait(page, "#my-tasks-link")
    waiting = page.inner_text("#waits-payables_to_approve")
    assert f"{payable.bill_number} from Acme Supplies ($250.00) waits for approval" in waiting
    assert "for Avery Approver (out until" in waiting
    click_and_wait(page, f"#waits-payables_to_approve a:has-text('{payable.bill_number}')")
    assert "Avery Approver is away until" in page.inner_text(".payable-panel")
    click_and_wait(page, "a.button:has-text('Approve…')")
    page.fill("#id_comment", "Matches the order")
    click_and_wait(page, "input[type=submit][value=Approve]")
    assert Payable.objects.get(pk=payable.pk).status == Payable.Status.APPROVED

    # 4. The audit history says who approved, and for whom.
    manager = make_user("manager", role=roles.MANAGER)
    sign_in(page, base, manager.username)
    page.goto(f"{base}/admin/core/auditevent/?object_type=payables.payable&q={payable.pk}")
    text = page.inner_text("#result_list")
    assert "approved for Avery Approver, away: Matches the order" in text, text
    assert page.csp_violations == []
