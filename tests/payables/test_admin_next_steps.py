"""What the payables admin says happened and what comes next: a step of two approved, who may still
approve, a bank account that waits for verification, and why a payable was rejected or canceled."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from core import roles
from core.two_factor import SESSION_OTP_VERIFIED_AT
from payables import policies, services
from payables.models import Payable
from tests.support import login_verified, make_user
from vendors import bank_accounts

pytestmark = pytest.mark.django_db
S = Payable.Status
CHANGELIST = "admin:payables_payable_changelist"


def _act(pk, action):
    return reverse("admin:payables_payable_act", args=[pk, action])


def _page(client, payable):
    return client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()


def _text(html):
    return re.sub(r"<[^>]+>", "", html)


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def _next_column(client, payable):
    """The list's "Next" cell of one payable."""
    response = client.get(reverse(CHANGELIST))
    cl = response.context["cl"]
    row = next(p for p in cl.result_list if p.pk == payable.pk)
    column = next(f for f in cl.list_display if callable(f))
    return str(column(row))


@pytest.fixture
def two_steps(people, dots):
    """A two-step policy for every bill: step 1 by `approver`, step 2 by `approver2` or `approver3`."""
    from payables.models import Approver

    admin = make_user("policy-admin", role=roles.ADMINISTRATOR)
    first = Approver.objects.get(user=people.approver)
    second = [Approver.objects.get(user=people.approver2), Approver.objects.get(user=people.approver3)]
    people.approver2.first_name, people.approver2.last_name = "Alex", "Second"
    people.approver2.save()
    people.approver3.first_name, people.approver3.last_name = "Avery", "Third"
    people.approver3.save()
    return policies.policy_create(
        actor=admin,
        description="Every bill, two steps",
        priority=1,
        amount_comparator=">=",
        amount_cents=0,
        steps=[(1, [first.pk]), (1, [a.pk for a in second])],
    )


def _submitted(people, make_payable, **kwargs):
    payable = make_payable(**kwargs)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable.refresh_from_db()
    return payable


def test_approving_step_one_of_two_says_the_approval_is_recorded_and_who_step_two_waits_for(
    client, people, make_payable, two_steps
):
    payable = _submitted(people, make_payable, bill_number="INV-2004")
    login_verified(client, people.approver)
    response = client.post(_act(payable.pk, "approve"), {"confirm": "1"}, follow=True)
    assert _messages(response) == [
        "INV-2004: your approval is recorded; step 2 of 2 waits for Alex Second or Avery Third."
    ]
    payable.refresh_from_db()
    assert payable.status == S.SUBMITTED


def test_who_approved_step_one_and_is_not_on_step_two_is_not_offered_approve(client, people, make_payable, two_steps):
    payable = _submitted(people, make_payable)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    login_verified(client, people.approver)
    page = _page(client, payable)
    assert "Approve…" not in page and "Reject…" not in page
    assert "Next: Approval: step 2 of 2 waits for Alex Second or Avery Third" in _text(page)
    assert _next_column(client, payable) == "Approval: step 2 of 2 waits for Alex Second or Avery Third"


def test_an_approver_of_the_current_step_is_offered_approve_and_the_list_says_it_waits_for_them(
    client, people, make_payable, two_steps
):
    payable = _submitted(people, make_payable)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    login_verified(client, people.approver2)
    assert "Approve…" in _page(client, payable)
    assert _next_column(client, payable) == "Waits for your approval (step 2 of 2)"


def test_the_creator_of_a_payable_is_not_offered_approve_even_as_an_approver(client, people, make_payable):
    payable = _submitted(people, make_payable, creator=people.approver)
    login_verified(client, people.approver)
    assert "Approve…" not in _page(client, payable)
    login_verified(client, people.approver2)
    assert "Approve…" in _page(client, payable)


def test_approving_the_last_step_says_the_payable_is_approved(client, people, make_payable, two_steps):
    payable = _submitted(people, make_payable, bill_number="INV-2005")
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    login_verified(client, people.approver3)
    response = client.post(_act(payable.pk, "approve"), {"confirm": "1"}, follow=True)
    assert _messages(response) == ["INV-2005: approved: every approval step is complete, and it can be paid."]


def test_bulk_approve_counts_fully_approved_apart_from_steps_recorded(client, people, make_payable, two_steps):
    at_step_two = _submitted(people, make_payable, bill_number="INV-3001", items=[("A", 1_001, 1)])
    services.payable_approve(payable_id=at_step_two.pk, actor=people.approver)
    at_step_one = [_submitted(people, make_payable, items=[("B", 2_000 + n, 1)]) for n in range(2)]
    login_verified(client, people.approver2)
    # approver2 may approve step 2 of the first; the others wait for step 1 (not theirs).
    response = client.post(
        reverse(CHANGELIST),
        {"action": "approve_selected", "_selected_action": [p.pk for p in [at_step_two, *at_step_one]]},
        follow=True,
    )
    texts = _messages(response)
    assert texts[0] == "1 fully approved."
    assert texts[1].startswith("2 skipped: ")
    assert "approver2 is not an approver of step 1" in texts[1]
    assert f"{at_step_one[0].bill_number}: {at_step_one[0].bill_number}" not in texts[1]

    login_verified(client, people.approver)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "approve_selected", "_selected_action": [p.pk for p in at_step_one]},
        follow=True,
    )
    texts = _messages(response)
    assert texts == [
        f"2 with your approval recorded: {at_step_one[0].bill_number}: your approval is recorded; step 2 of 2 "
        f"waits for Alex Second or Avery Third; {at_step_one[1].bill_number}: your approval is recorded; "
        "step 2 of 2 waits for Alex Second or Avery Third."
    ]
    assert not any("fully approved" in t for t in texts)


def test_a_refused_payment_names_the_bill_once(client, people, make_payable, vendor_account):
    vendor, _ = vendor_account
    approved = _submitted(people, make_payable, bill_number="BR-7")
    services.payable_approve(payable_id=approved.pk, actor=people.approver)
    # The creator may not pay: the refusal names the bill once.
    clerk_payer = people.clerk
    clerk_payer.groups.add(*people.payer.groups.all())
    login_verified(client, clerk_payer)
    session = client.session
    session[SESSION_OTP_VERIFIED_AT] = timezone.now().timestamp()
    session.save()
    response = client.post(_act(approved.pk, "pay"), {"confirm": "1"}, follow=True)
    assert _messages(response) == ["BR-7: you created it, so someone else must pay it."]


# --- a bank account that waits for verification ---------------------------------------------------------------


@pytest.fixture
def unverified_approved(people, make_payable, vendor_account):
    vendor, _ = vendor_account
    fresh = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="New account",
        routing_number="011000015",
        account_number="55554444",
        account_type="checking",
    )
    payable = _submitted(people, make_payable, bank_account=fresh)
    services.payable_approve(payable_id=payable.pk, actor=people.approver)
    payable.refresh_from_db()
    assert payable.status == S.APPROVED
    return payable


def test_an_approved_payable_to_an_unverified_account_offers_no_pay_and_links_the_account(
    client, people, unverified_approved
):
    login_verified(client, people.payer)
    page = _page(client, unverified_approved)
    account_url = reverse("admin:vendors_vendorbankaccount_change", args=[unverified_approved.bank_account_id])
    assert "Pay…" not in page
    assert "Next: Waits for bank account verification" in _text(page)
    assert f'href="{account_url}"' in page
    cell = _next_column(client, unverified_approved)
    assert cell.startswith("Waits for bank account verification") and account_url in cell
    assert "Payer: pay" not in cell


def test_once_the_account_is_verified_pay_is_offered_again(client, people, unverified_approved):
    bank_accounts.bank_account_verify(
        actor=people.clerk2, bank_account_id=unverified_approved.bank_account_id, how_confirmed="called them"
    )
    login_verified(client, people.payer)
    assert "Pay…" in _page(client, unverified_approved)
    assert _next_column(client, unverified_approved) == "Payer: pay"


# --- why it was rejected or canceled ------------------------------------------------------------------------


def test_a_clerk_sees_who_rejected_a_payable_when_and_why_on_its_page_and_in_the_list(client, people, make_payable):
    payable = _submitted(people, make_payable)
    people.approver.first_name, people.approver.last_name = "Avery", "Approver"
    people.approver.save()
    services.payable_reject(payable_id=payable.pk, actor=people.approver, reason="Amount does not match PO 55")
    payable.refresh_from_db()
    login_verified(client, people.clerk)  # no audit access
    assert not people.clerk.has_perm("core.view_auditevent")
    page = _page(client, payable)
    stamp = payable.closed_at.strftime("%Y-%m-%d %H:%M")
    expected = f"Rejected by Avery Approver on {stamp}: Amount does not match PO 55"
    assert expected in page
    assert _next_column(client, payable) == expected


def test_a_clerk_sees_who_canceled_a_draft_and_why(client, people, make_payable):
    payable = make_payable()
    services.payable_cancel(payable_id=payable.pk, actor=people.clerk2, reason="Entered twice")
    payable.refresh_from_db()
    login_verified(client, people.clerk)
    assert f"Canceled by clerk2 on {payable.closed_at:%Y-%m-%d %H:%M}: Entered twice" in _page(client, payable)
    assert _next_column(client, payable).endswith(": Entered twice")


def test_a_rejection_made_in_dots_names_the_dots_approver_and_comment(client, people, make_payable):
    payable = _submitted(people, make_payable)
    Payable.objects.filter(pk=payable.pk).update(
        status=S.REJECTED,
        approval_steps=[
            {
                "completed": False,
                "num_approvals_required": 1,
                "user_approvals": [
                    {
                        "approval_given": False,
                        "approval_timestamp": "2026-03-02T09:15:00Z",
                        "name": "Dana Dashboard",
                        "user_id": 4242,
                        "approval_comment": "Wrong vendor",
                    }
                ],
            }
        ],
    )
    login_verified(client, people.clerk)
    payable.refresh_from_db()
    assert "Rejected by Dana Dashboard in Dots on 2026-03-02 09:15: Wrong vendor" in _page(client, payable)


def test_the_list_offers_approving_only_to_an_approver_linked_to_dots(client, people, make_payable):
    def offered(user):
        login_verified(client, user)
        form = client.get(reverse(CHANGELIST)).context["action_form"]
        return set(dict(form.fields["action"].choices)) if form is not None else set()

    assert "approve_selected" not in offered(make_user("new-approver", role=roles.APPROVER))
    assert {"approve_selected", "reject_selected"} <= offered(people.approver)
