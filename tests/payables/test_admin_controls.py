"""The payable's control pages as an accountant uses them: hold and release, send back for changes, approve
again after a change, emergency overrides, and the list's hold filter. Over real HTTP against the emulator."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from core import roles
from core.two_factor import SESSION_OTP_VERIFIED_AT
from payables import holds, overrides, services
from payables.models import ControlOverride, Payable
from tests.support import login_verified, make_user
from vendors import bank_accounts

pytestmark = pytest.mark.django_db
S = Payable.Status
PAY_PATH = "/v2/accounts-payable/payables/*/pay"


def _url(name, payable):
    return reverse(f"admin:payables_payable_{name}", args=[payable.pk])


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _fresh_code(client):
    session = client.session
    session[SESSION_OTP_VERIFIED_AT] = timezone.now().timestamp()
    session.save()


def test_an_approver_puts_a_payable_on_hold_and_the_page_and_list_say_so(client, people, approved_payable):
    login_verified(client, people.approver2)
    page = client.get(_url("hold", approved_payable))
    assert "Why it is held" in _text(page) and "Release on (optional)" in _text(page)

    refused = client.post(_url("hold", approved_payable), {"reason": "", "release_on": ""})
    assert "Say why the payable is held" in str(refused.context["form"].errors["reason"])

    release_on = timezone.localdate() + dt.timedelta(days=5)
    response = client.post(
        _url("hold", approved_payable),
        {"reason": "vendor disputes it", "release_on": release_on.isoformat()},
        follow=True,
    )
    text = _text(response)
    assert "is on hold: nobody can approve or pay it until it is released" in text
    assert "vendor disputes it" in text and f"until {release_on:%d %b %Y}" in text
    assert "Release the hold…" in text and "Pay…" not in text

    listed = client.get(reverse("admin:payables_payable_changelist"), {"hold": "on"})
    assert [p.pk for p in listed.context["cl"].result_list] == [approved_payable.pk]
    assert "On hold: released by hand or on its release date" in _text(listed)
    assert (
        client.get(reverse("admin:payables_payable_changelist"), {"hold": "off"}).context["cl"].result_list.count() == 0
    )


def test_a_release_date_today_is_refused_on_its_field(client, people, approved_payable):
    login_verified(client, people.payer)
    response = client.post(
        _url("hold", approved_payable), {"reason": "x", "release_on": timezone.localdate().isoformat()}
    )
    assert "must be after today" in str(response.context["form"].errors["release_on"])


def test_a_payer_releases_a_hold_with_a_reason_and_the_payable_can_be_paid(client, people, approved_payable):
    holds.payable_hold(payable_id=approved_payable.pk, actor=people.approver2, reason="check the invoice")
    login_verified(client, people.payer)
    assert "Pay…" not in _text(client.get(_url("change", approved_payable)))

    response = client.post(_url("release", approved_payable), {"reason": "invoice checked"}, follow=True)

    assert "released from hold" in _text(response)
    assert "Pay…" in _text(response)


def test_a_clerk_cannot_open_the_hold_page(client, people, approved_payable):
    login_verified(client, people.clerk)
    assert client.get(_url("hold", approved_payable)).status_code == 403
    assert client.post(_url("hold", approved_payable), {"reason": "x"}).status_code == 403


def test_bulk_pay_from_the_list_refuses_a_held_payable_with_its_reason(client, people, approved_payable, dots):
    holds.payable_hold(payable_id=approved_payable.pk, actor=people.approver2, reason="vendor disputes it")
    login_verified(client, people.payer)
    _fresh_code(client)

    response = client.post(
        reverse("admin:payables_payable_bulk", args=["pay"]),
        {"ids": [approved_payable.pk], "confirm": "1"},
        follow=True,
    )

    assert "vendor disputes it" in _text(response)
    assert dots.received("POST", PAY_PATH) == []


def test_an_approver_sends_a_payable_back_and_the_clerk_gets_a_linked_draft(client, people, make_payable, dots):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    login_verified(client, people.approver)
    assert "Send back for changes…" in _text(client.get(_url("change", payable)))
    page = client.get(_url("send_back", payable))
    assert "What must change" in _text(page) and "clerk" in _text(page)
    refused = client.post(_url("send_back", payable), {"reason": ""})
    assert "Say what must change" in str(refused.context["form"].errors["reason"])

    response = client.post(_url("send_back", payable), {"reason": "quantity should be 3"}, follow=True)

    draft = Payable.objects.get(sent_back_from=payable)
    assert response.redirect_chain[-1][0] == _url("change", draft)
    text = _text(response)
    assert "rejected in Dots and sent back" in text
    assert f"Made when {payable.bill_number} was sent back for changes: quantity should be 3" in text
    original = _text(client.get(_url("change", payable)))
    assert f"Sent back for changes: the new draft is {draft.bill_number}" in original


def test_the_payable_page_shows_what_changed_since_approval_and_an_approver_approves_again(
    client, people, approved_payable, vendor_account
):
    vendor, _ = vendor_account
    account = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="Acme new",
        routing_number="021000021",
        account_number="000555554321",
        account_type="checking",
    )
    bank_accounts.bank_account_verify(actor=people.clerk2, bank_account_id=account.pk, how_confirmed="called them")
    Payable.objects.filter(pk=approved_payable.pk).update(bank_account=account)

    login_verified(client, people.payer)
    text = _text(client.get(_url("change", approved_payable)))
    assert "Changed since it was approved" in text and "bank account ••••6789 → ••••4321" in text
    assert "step 1 needs 1 more approval" in text
    assert "Pay…" not in text

    client.force_login(people.approver2)
    login_verified(client, people.approver2)
    assert "Approve again…" in _text(client.get(_url("change", approved_payable)))
    page = _text(client.get(_url("approve_again", approved_payable)))
    assert "bank account ••••6789 → ••••4321" in page
    response = client.post(_url("approve_again", approved_payable), {"comment": "new account confirmed"}, follow=True)
    assert "your approval of it as it is now is recorded; it can be paid" in _text(response)

    login_verified(client, people.payer)
    text = _text(client.get(_url("change", approved_payable)))
    assert "It was approved again as it is now" in text and "Pay…" in text


def test_the_approver_sees_no_pay_button_and_why(client, people, approved_payable):
    approver = people.approver
    approver.groups.add(Group.objects.get(name=roles.PAYER))
    login_verified(client, approver)
    text = _text(client.get(_url("change", approved_payable)))
    assert "You approved this payable, so someone else pays it" in text and "Pay…" not in text


def test_two_administrators_override_through_the_page_and_the_dashboard_lists_it(client, people, approved_payable):
    first = make_user("admin-one", role=roles.ADMINISTRATOR)
    second = make_user("admin-two", role=roles.ADMINISTRATOR)
    login_verified(client, first)
    refused = client.post(_url("override", approved_payable), {"control": "", "reason": ""})
    assert "Choose the control" in str(refused.context["form"].errors["control"])
    assert "Say why" in str(refused.context["form"].errors["reason"])
    client.post(
        _url("override", approved_payable),
        {"control": ControlOverride.Control.APPROVER_IS_NOT_PAYER, "reason": "only payer is away"},
    )
    override = ControlOverride.objects.get()
    page = _text(client.get(_url("override", approved_payable)))
    assert "yours: another Administrator confirms it" in page and "Confirm this override" not in page
    # Posting a confirmation of one's own request anyway is refused.
    response = client.post(_url("override", approved_payable), {"confirm_override": override.pk}, follow=True)
    assert "a second Administrator must confirm it" in _text(response)

    login_verified(client, second)
    response = client.post(_url("override", approved_payable), {"confirm_override": override.pk}, follow=True)
    assert "Override confirmed" in _text(response)
    override.refresh_from_db()
    assert override.confirmed_by == second

    home = _text(client.get(reverse("admin:index")))
    assert "Overrides in the last 30 days" in home and "only payer is away" in home
    manager = make_user("manager", role=roles.MANAGER)
    login_verified(client, manager)
    assert "only payer is away" in _text(client.get(reverse("admin:index")))
    assert client.get(_url("override", approved_payable)).status_code == 403


def test_a_manager_cannot_post_an_override(client, people, approved_payable):
    login_verified(client, make_user("manager", role=roles.MANAGER))
    response = client.post(
        _url("override", approved_payable),
        {"control": ControlOverride.Control.APPROVER_IS_NOT_PAYER, "reason": "x"},
    )
    assert response.status_code == 403
    assert ControlOverride.objects.count() == 0
    assert overrides.waiting_confirmation(approved_payable) == []


def test_a_held_payable_waiting_for_approval_offers_no_approve_button(client, people, make_payable):
    payable = make_payable()
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    holds.payable_hold(payable_id=payable.pk, actor=people.approver2, reason="vendor disputes it")
    login_verified(client, people.approver)

    text = _text(client.get(_url("change", payable)))

    assert "Nobody can approve or pay it until the hold is released" in text
    assert "Approve…" not in text and "Reject…" in text


def test_a_held_payable_says_when_in_words_and_that_the_hold_comes_next(client, people, approved_payable):
    release_on = timezone.localdate() + dt.timedelta(days=5)
    hold = holds.payable_hold(
        payable_id=approved_payable.pk, actor=people.approver2, reason="vendor disputes it", release_on=release_on
    )
    login_verified(client, people.payer)
    text = _text(client.get(_url("change", approved_payable)))
    placed = timezone.localtime(hold.placed_at)
    assert f"on hold since {placed.day} {placed:%b %Y, %H:%M}" in text
    # Ids are for support: under the collapsed block, after everything an accountant reads.
    assert text.index("Details for support") < text.index(approved_payable.dots_id)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text.split("Details for support")[0])
    assert f"Next: the hold is released (by someone who may hold payables, or by itself on {release_on.day} " in text
    assert "Payer: pay" not in text


def test_a_payable_to_approve_again_says_so_as_its_next_step(client, people, approved_payable, vendor_account):
    vendor, _ = vendor_account
    account = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="Acme new",
        routing_number="021000021",
        account_number="000555554321",
        account_type="checking",
    )
    Payable.objects.filter(pk=approved_payable.pk).update(bank_account=account)
    login_verified(client, people.payer)
    text = _text(client.get(_url("change", approved_payable)))
    assert "Next: approved again as it is now (step 1 needs 1 more approval)" in text
    assert "Payer: pay" not in text


def test_the_approver_sees_no_schedule_button_either(client, people, approved_payable):
    approver = people.approver
    approver.groups.add(Group.objects.get(name=roles.PAYER))
    login_verified(client, approver)
    text = _text(client.get(_url("change", approved_payable)))
    assert "You approved this payable, so someone else pays it" in text
    assert "Schedule payment…" not in text
