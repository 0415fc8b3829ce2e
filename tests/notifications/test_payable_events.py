"""What payables tell people, over real HTTP against the Dots emulator: who is told, in which words,
and what an absent approver's backup sees and may do."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core import roles
from core.dots_gateway import client
from core.errors import DomainError
from core.models import AuditEvent
from notifications import services as notification_services
from notifications.models import Notification
from payables import policies, selectors
from payables import services as payable_services
from payables.models import ApprovalPolicy, Approver, Payable
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db
S = Payable.Status


@pytest.fixture
def named(people):
    """Give the people fixture's users names, as the emails and audit address them."""
    for user, first, last in (
        (people.clerk, "Casey", "Clerk"),
        (people.approver, "Avery", "Approver"),
        (people.approver2, "Blake", "Backup"),
        (people.approver3, "Cam", "Third"),
        (people.payer, "Pat", "Payer"),
    ):
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
    return people


@pytest.fixture
def administrator(db):
    return make_user("admin-ada", role=roles.ADMINISTRATOR, first_name="Ada", last_name="Admin")


def _policy(administrator, *steps):
    """A policy for every payable with these steps, each a list of users whose approvers it names."""
    return policies.policy_create(
        actor=administrator,
        description="Every bill",
        priority=1,
        amount_comparator=">=",
        amount_cents=0,
        steps=[(1, [Approver.objects.get(user=user).pk for user in users]) for users in steps],
    )


def _mails_to(user):
    return [m for m in mail.outbox if m.to == [user.email]]


def _away(user, backup, days=3):
    today = timezone.localdate()
    return notification_services.absence_record(
        actor=user, user=user, starts_on=today, ends_on=today + dt.timedelta(days=days), backup=backup
    )


def test_submitting_tells_the_first_steps_approvers_and_only_them(
    named, make_payable, administrator, django_capture_on_commit_callbacks
):
    _policy(administrator, [named.approver], [named.approver2])
    payable = make_payable()
    with django_capture_on_commit_callbacks(execute=True):
        payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    assert [m.to for m in mail.outbox] == [[named.approver.email]]
    email = mail.outbox[0]
    assert email.subject == f"{payable.bill_number} from Acme Supplies ($250.00) waits for your approval (step 1 of 2)"
    assert "Amount: $250.00" in email.body and "Submitted by: Casey Clerk" in email.body
    assert reverse("admin:payables_payable_change", args=[payable.pk]) in email.body
    assert not Notification.objects.filter(recipient=named.approver2, event="payable.waiting_for_approval").exists()


def test_a_step_approved_tells_the_next_steps_approvers_and_the_last_tells_creator_and_payers(
    named, make_payable, administrator, django_capture_on_commit_callbacks
):
    _policy(administrator, [named.approver], [named.approver2])
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    with django_capture_on_commit_callbacks(execute=True):
        payable_services.payable_approve(payable_id=payable.pk, actor=named.approver)
    assert [m.to for m in mail.outbox] == [[named.approver2.email]]
    assert mail.outbox[0].subject.endswith("waits for your approval (step 2 of 2)")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        payable_services.payable_approve(payable_id=payable.pk, actor=named.approver2)
    assert Payable.objects.get(pk=payable.pk).status == S.APPROVED
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects == {
        named.clerk.email: f"{payable.bill_number} from Acme Supplies ($250.00) was approved",
        # The payer neither created nor approved it; the approvers who may not pay it are not told.
        named.payer.email: f"{payable.bill_number} from Acme Supplies ($250.00) is approved and ready to pay",
    }


def test_a_rejection_tells_the_creator_who_rejected_it_and_why(
    named, make_payable, administrator, django_capture_on_commit_callbacks
):
    _policy(administrator, [named.approver])
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    with django_capture_on_commit_callbacks(execute=True):
        payable_services.payable_reject(payable_id=payable.pk, actor=named.approver, reason="Wrong quantity")
    [email] = mail.outbox
    assert email.to == [named.clerk.email]
    assert email.subject == f"{payable.bill_number} from Acme Supplies ($250.00) was rejected by Avery Approver"
    assert "Reason: Wrong quantity" in email.body


def test_an_approver_who_turned_the_email_off_finds_it_in_their_inbox_only(
    named, make_payable, administrator, django_capture_on_commit_callbacks
):
    _policy(administrator, [named.approver])
    notification_services.preferences_set(actor=named.approver, emails={"payable.waiting_for_approval": False})
    payable = make_payable()
    with django_capture_on_commit_callbacks(execute=True):
        payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    assert mail.outbox == []
    row = Notification.objects.get(recipient=named.approver, event="payable.waiting_for_approval")
    assert row.title.endswith("waits for your approval")


def test_a_failed_payment_tells_the_payer_who_asked_and_the_creator(
    dots, named, approved_payable, django_capture_on_commit_callbacks
):
    from payables import tasks

    payable_services.payable_pay(payable_id=approved_payable.pk, actor=named.payer)
    dots.control(
        f"payables/{approved_payable.dots_id}/payment", {"status": "payment_failed", "reason": "R03 no account"}
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.follow_payment(approved_payable.pk)
    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == {named.payer.email, named.clerk.email}
    assert by_address[named.payer.email].subject.startswith(f"The payment of {approved_payable.bill_number}")
    assert "R03 no account" in by_address[named.payer.email].body


def test_an_absent_approvers_approval_request_goes_to_their_backup(
    named, make_payable, administrator, django_capture_on_commit_callbacks
):
    _policy(administrator, [named.approver])
    absence = _away(named.approver, named.approver2)
    payable = make_payable()
    with django_capture_on_commit_callbacks(execute=True):
        payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    assert [m.to for m in mail.outbox] == [[named.approver2.email]]
    assert mail.outbox[0].subject.startswith("[for Avery Approver] ")
    row = Notification.objects.get(recipient=named.approver2, event="payable.waiting_for_approval")
    until = absence.ends_on
    assert row.for_whom.startswith(f"for Avery Approver (out until {until.day} {until:%b}")


def test_a_backup_listed_in_the_step_approves_as_themselves_and_the_audit_says_for_whom(
    named, make_payable, administrator
):
    _policy(administrator, [named.approver, named.approver2])
    _away(named.approver, named.approver2)
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    payable_services.payable_approve(payable_id=payable.pk, actor=named.approver2, comment="checked the PO")
    event = AuditEvent.objects.filter(action="payable.approved", object_id=str(payable.pk)).get()
    assert event.actor == named.approver2
    assert event.reason == "approved for Avery Approver, away: checked the PO"
    assert event.changes["on_behalf_of"]["after"] == "approved for Avery Approver, away"
    # In Dots it is Blake's own approval, never Avery's.
    payable.refresh_from_db()
    dots_payable = client().retrieve_payable(payable_id=payable.dots_id)
    approver2_dots_id = Approver.objects.get(user=named.approver2).dots_user_id
    assert [a["user_id"] for a in dots_payable.approval_steps[0]["user_approvals"]] == [approver2_dots_id]


def test_an_approval_without_an_absence_has_no_on_behalf_wording(named, make_payable, administrator):
    _policy(administrator, [named.approver, named.approver2])
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    payable_services.payable_approve(payable_id=payable.pk, actor=named.approver2)
    event = AuditEvent.objects.get(action="payable.approved", object_id=str(payable.pk))
    assert event.reason == "" and "on_behalf_of" not in event.changes


def test_my_tasks_shows_an_absent_colleagues_payable_to_a_backup_not_in_the_step_and_what_can_be_done(
    client, named, make_payable, administrator
):
    _policy(administrator, [named.approver])
    _away(named.approver, named.approver2)
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    login_verified(client, named.approver2)
    page = client.get(reverse("admin:notifications_notification_inbox")).content.decode()
    assert f"{payable.bill_number} from Acme Supplies ($250.00) waits for approval" in page
    assert "for Avery Approver (out until" in page
    assert "You cannot approve it in Dots" in page
    # The payable's page says the same, and offers no approve button to the backup.
    page = client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()
    assert "Avery Approver is away until" in page and "cannot approve it in Dots" in page
    assert "Approve…" not in page and "new policy version" not in page


def test_an_administrator_adds_the_backup_to_the_step_as_a_new_policy_version_never_approving(
    client, named, make_payable, administrator
):
    old = _policy(administrator, [named.approver])
    _away(named.approver, named.approver2)
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    login_verified(client, administrator)
    page = client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()
    assert "Add Blake Backup to step 1 (new policy version)" in page
    response = client.post(reverse("admin:payables_payable_add_backup", args=[payable.pk, named.approver.pk]))
    assert response.status_code == 302
    new = ApprovalPolicy.objects.get(lineage=old.lineage, retired_at=None)
    assert new.version == 2
    assert set(new.steps.get().approvers.values_list("user__username", flat=True)) == {"approver", "approver2"}
    event = AuditEvent.objects.get(action="approval_policy.backup_added", object_id=str(payable.pk))
    assert event.actor == administrator
    assert "Avery Approver is away until" in event.reason and "Blake Backup covers" in event.reason
    # Nothing was approved, in anyone's name.
    assert Payable.objects.get(pk=payable.pk).status == S.SUBMITTED
    assert not AuditEvent.objects.filter(action__in=["payable.approved", "payable.step_approved"]).exists()
    # What Dots does with the new version: the payable keeps the steps it was submitted with.
    payable.refresh_from_db()
    assert selectors.user_may_approve_current_step(payable, named.approver2)[0] is False
    with pytest.raises(DomainError):
        payable_services.payable_approve(payable_id=payable.pk, actor=named.approver2)
    # ... while a payable submitted now follows the new version, and the backup approves it as themselves.
    second = make_payable(items=(("Gadgets", 9_900, 1),))
    payable_services.payable_submit(payable_id=second.pk, actor=named.clerk)
    payable_services.payable_approve(payable_id=second.pk, actor=named.approver2)
    assert Payable.objects.get(pk=second.pk).status == S.APPROVED


def test_dots_itself_refuses_the_backup_on_a_payable_submitted_before_the_new_version(
    dots, named, make_payable, administrator
):
    """Not our check alone: the emulator keeps the steps a payable was submitted with (Dots' rule)."""
    from core.dots_gateway import dots_call
    from core.errors import DotsCallError

    old = _policy(administrator, [named.approver])
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    policies.policy_update(
        actor=administrator,
        policy_id=old.pk,
        description=old.description,
        priority=old.priority,
        amount_comparator=old.amount_comparator,
        amount_cents=old.amount_cents,
        steps=[(1, [Approver.objects.get(user=u).pk for u in (named.approver, named.approver2)])],
    )
    backup_dots_id = Approver.objects.get(user=named.approver2).dots_user_id
    payable.refresh_from_db()
    with pytest.raises(DotsCallError, match="not an approver of step 1"), dots_call("approve as the backup"):
        client().approve_payable(payable_id=payable.dots_id, acting_user_id=backup_dots_id, comment=None)


def test_a_manager_may_not_add_a_backup_to_a_policy(client, named, make_payable, administrator):
    old = _policy(administrator, [named.approver])
    _away(named.approver, named.approver2)
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    manager = make_user("manny", role=roles.MANAGER)
    login_verified(client, manager)
    response = client.post(reverse("admin:payables_payable_add_backup", args=[payable.pk, named.approver.pk]))
    assert response.status_code == 403
    assert ApprovalPolicy.objects.filter(lineage=old.lineage).count() == 1


def test_my_tasks_lists_what_waits_and_the_header_counts_it(client, named, make_payable, administrator):
    _policy(administrator, [named.approver])
    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    login_verified(client, named.approver)
    index = client.get(reverse("admin:index")).content.decode()
    assert "My tasks (1)" in index
    page = client.get(reverse("admin:notifications_notification_inbox")).content.decode()
    assert f"{payable.bill_number} from Acme Supplies ($250.00) waits for approval" in page
    assert f"{payable.bill_number} from Acme Supplies ($250.00) waits for your approval" in page  # the notification
    # The payer has nothing to pay yet; once approved, it waits for them.
    payable_services.payable_approve(payable_id=payable.pk, actor=named.approver)
    client.force_login(named.payer)
    login_verified(client, named.payer)
    page = client.get(reverse("admin:notifications_notification_inbox")).content.decode()
    assert f"{payable.bill_number} from Acme Supplies ($250.00) is approved and ready to pay" in page


def test_a_payable_approved_in_dots_dashboard_tells_its_creator_and_payers_after_the_sync(
    named, make_payable, django_capture_on_commit_callbacks
):
    from core.audit import system_user
    from reconciliation import sync

    payable = make_payable()
    payable_services.payable_submit(payable_id=payable.pk, actor=named.clerk)
    payable.refresh_from_db()
    approver_dots_id = Approver.objects.get(user=named.approver).dots_user_id
    client().approve_payable(payable_id=payable.dots_id, acting_user_id=approver_dots_id)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sync.sync_all(actor=system_user(), steps=["payables in flight"])
    assert Payable.objects.get(pk=payable.pk).status == S.APPROVED
    assert {m.to[0]: m.subject for m in mail.outbox} == {
        named.clerk.email: f"{payable.bill_number} from Acme Supplies ($250.00) was approved",
        named.payer.email: f"{payable.bill_number} from Acme Supplies ($250.00) is approved and ready to pay",
    }


def test_a_payment_that_fails_later_tells_the_payer_after_the_sync(
    dots, named, approved_payable, django_capture_on_commit_callbacks
):
    from core.audit import system_user
    from reconciliation import sync

    dots.settings(payable_payment={"mode": "manual"})
    payable = payable_services.payable_pay(payable_id=approved_payable.pk, actor=named.payer)
    dots.control(f"payables/{payable.dots_id}/payment", {"status": "payment_failed", "reason": "R01 insufficient"})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sync.sync_all(actor=system_user(), steps=["payables in flight"])
    assert Payable.objects.get(pk=payable.pk).status == S.PAYMENT_FAILED
    assert sorted(m.to[0] for m in mail.outbox) == sorted([named.payer.email, named.clerk.email])
