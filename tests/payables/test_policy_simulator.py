# ruff: noqa: F811  (the policy admin tests' fixtures, imported)
"""The policy simulator: what a change to approval policies does to open payables, before it is saved."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from core.models import AuditEvent
from payables import policies, policy_simulator
from payables.models import ApprovalPolicy, Payable
from tests.payables.test_admin_approvals import admin_client, approvers, policy_form  # noqa: F401
from tests.payables.test_approvals import POLICIES, make_vendor
from vendors import bank_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_draft(administrator, dots):
    vendor = make_vendor(administrator)
    clerk = get_user_model().objects.get(username="vendor-clerk")
    account = bank_accounts.bank_account_create(
        actor=clerk,
        vendor_id=vendor.pk,
        name="Operating",
        routing_number="021000021",
        account_number="000123456789",
        account_type="checking",
    )
    numbers = iter(range(700, 800))

    def make(amount_cents, creator=None):
        return Payable.objects.create(
            bill_number=f"INV-{next(numbers)}",
            vendor=vendor,
            bank_account=account,
            amount_cents=amount_cents,
            total_cents=amount_cents,
            created_by=creator or clerk,
        )

    return make


@pytest.fixture
def large_bills(administrator, approvers):  # noqa: F811
    return policies.policy_create(
        actor=administrator,
        description="Large bills",
        priority=1,
        amount_comparator=">=",
        amount_cents=100_000,
        steps=[(2, [approvers["alex"].pk, approvers["blair"].pk])],
    )


def _change(large_bills, approvers, steps):  # noqa: F811
    return policy_simulator.proposed(
        replaces=large_bills.pk,
        description="Large bills",
        priority=1,
        amount_comparator=">=",
        amount_cents=100_000,
        vendor_ids=[],
        steps=[(required, [approvers[n].pk for n in names]) for required, names in steps],
    )


def test_the_simulation_shows_who_could_approve_before_and_after(large_bills, approvers, make_draft):  # noqa: F811
    big, small = make_draft(500_000), make_draft(10_000)
    change = _change(large_bills, approvers, [(1, ("casey",))])
    simulation = policy_simulator.simulate(change, replaces=large_bills.pk)
    by_bill = {i.payable.bill_number: i for i in simulation.impacts}
    assert by_bill[big.bill_number].before.steps[0].approvers == ("Alex Approver", "Blair Approver")
    assert by_bill[big.bill_number].after.steps[0].approvers == ("Casey Approver",)
    assert by_bill[big.bill_number].changed and not by_bill[big.bill_number].becomes_unsatisfiable
    assert by_bill[small.bill_number].before.policy == "no policy"
    assert not by_bill[small.bill_number].changed


def test_too_few_approvers_or_only_the_creator_make_a_payable_unsatisfiable(
    large_bills,
    approvers,  # noqa: F811
    make_draft,
):
    big = make_draft(500_000)
    by_alex = make_draft(200_000, creator=approvers["alex"].user)
    change = _change(large_bills, approvers, [(2, ("alex", "casey"))])
    simulation = policy_simulator.simulate(change, replaces=large_bills.pk)
    blocked = {i.payable.bill_number: i.after.problems for i in simulation.unsatisfiable}
    # Alex created one: only Casey is left for a step needing two.
    assert blocked == {by_alex.bill_number: ["step 1 needs 2 approvals but only 1 eligible approver"]}
    change = _change(large_bills, approvers, [(1, ("alex",))])
    blocked = {i.payable.bill_number for i in policy_simulator.simulate(change, replaces=large_bills.pk).unsatisfiable}
    assert blocked == {by_alex.bill_number}
    assert big.bill_number not in blocked


def _change_form(large_bills, approvers, steps):  # noqa: F811
    return policy_form(
        approvers=approvers, steps=steps, existing_steps=list(large_bills.steps.all()), policy=large_bills
    )


def test_preview_shows_the_effect_and_saves_nothing(admin_client, dots, large_bills, approvers, make_draft):  # noqa: F811
    big = make_draft(500_000)
    data = {**_change_form(large_bills, approvers, [(1, ("casey",))]), "_simulate": "1"}
    sent_before = len(dots.received("POST", POLICIES))
    response = admin_client.post(reverse("admin:payables_approvalpolicy_change", args=[large_bills.pk]), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "What this change would do to open payables" in page
    assert big.bill_number in page
    assert "1 approval from Casey Approver" in page
    assert "2 approvals from Alex Approver, Blair Approver" in page
    assert ApprovalPolicy.objects.get(retired_at__isnull=True).pk == large_bills.pk
    assert len(dots.received("POST", POLICIES)) == sent_before


def test_saving_a_change_that_leaves_a_payable_unapprovable_needs_a_reason(
    admin_client,  # noqa: F811
    dots,
    large_bills,
    approvers,  # noqa: F811
    make_draft,
):
    by_alex = make_draft(200_000, creator=approvers["alex"].user)
    url = reverse("admin:payables_approvalpolicy_change", args=[large_bills.pk])
    data = _change_form(large_bills, approvers, [(1, ("alex",))])
    page = admin_client.post(url, data).content.decode()
    assert "would have no way to be approved" in page and by_alex.bill_number in page
    assert "step 1 has no eligible approver" in page
    assert ApprovalPolicy.objects.get(retired_at__isnull=True).pk == large_bills.pk
    # Confirming without a reason names the field.
    page = admin_client.post(url, {**data, "_confirm_unsatisfiable": "1", "unsatisfiable_reason": ""}).content.decode()
    assert "Give a reason to save anyway" in page
    assert ApprovalPolicy.objects.get(retired_at__isnull=True).pk == large_bills.pk
    response = admin_client.post(
        url, {**data, "_confirm_unsatisfiable": "1", "unsatisfiable_reason": "Alex's own bills go to the CFO"}
    )
    assert response.status_code == 302
    new = ApprovalPolicy.objects.get(retired_at__isnull=True)
    assert new.version == 2
    event = AuditEvent.objects.get(action="approval_policy.unsatisfiable_confirmed")
    assert event.reason == "Alex's own bills go to the CFO"
    assert by_alex.bill_number in str(event.changes)


def test_a_change_keeping_every_payable_approvable_saves_at_once(
    admin_client, dots, large_bills, approvers, make_draft
):  # noqa: F811
    make_draft(500_000)
    url = reverse("admin:payables_approvalpolicy_change", args=[large_bills.pk])
    response = admin_client.post(url, _change_form(large_bills, approvers, [(1, ("casey",))]))
    assert response.status_code == 302
    assert ApprovalPolicy.objects.get(retired_at__isnull=True).version == 2
    assert not AuditEvent.objects.filter(action="approval_policy.unsatisfiable_confirmed").exists()


def test_the_escalation_contact_is_carried_to_a_new_version(administrator, large_bills, approvers):  # noqa: F811
    contact = approvers["casey"].user
    policy = policies.policy_update(
        actor=administrator,
        policy_id=large_bills.pk,
        description="Large bills",
        priority=1,
        amount_comparator=">=",
        amount_cents=100_000,
        steps=[(2, [approvers["alex"].pk, approvers["blair"].pk])],
        escalation_contact_id=contact.pk,
    )
    assert policy.escalation_contact == contact and policy.version == 2
    newer = policies.policy_update(
        actor=administrator,
        policy_id=policy.pk,
        description="Large bills",
        priority=1,
        amount_comparator=">=",
        amount_cents=200_000,
        steps=[(2, [approvers["alex"].pk, approvers["blair"].pk])],
    )
    assert newer.version == 3 and newer.escalation_contact == contact


# --- deleting and reordering are changes too ----------------------------------------------------------------------

CHANGELIST = "admin:payables_approvalpolicy_changelist"


@pytest.fixture
def fallback(administrator, approvers, large_bills):  # noqa: F811
    """Every bill not caught by "Large bills" (tried first): one approval by Casey."""
    return policies.policy_create(
        actor=administrator, description="Everything else", priority=5, steps=[(1, [approvers["casey"].pk])]
    )


def _current_order():
    return [p.description for p in ApprovalPolicy.objects.filter(retired_at__isnull=True).order_by("priority", "id")]


def test_moving_a_policy_is_simulated_with_its_new_priority(large_bills, fallback, approvers, make_draft):  # noqa: F811
    big = make_draft(500_000)
    simulation = policy_simulator.simulate_priorities({fallback.pk: 1, large_bills.pk: 5})
    (impact,) = [i for i in simulation.impacts if i.payable.pk == big.pk]
    assert "Large bills" in impact.before.policy and "Everything else" in impact.after.policy
    assert impact.after.steps[0].approvers == ("Casey Approver",)


def test_deleting_a_policy_shows_what_it_would_do_before_deleting(
    admin_client,  # noqa: F811
    dots,
    large_bills,
    fallback,
    make_draft,
):
    big = make_draft(500_000)
    url = reverse("admin:payables_approvalpolicy_delete", args=[large_bills.pk])
    page = admin_client.get(url).content.decode()
    assert "What deleting it would do to open payables" in page
    assert big.bill_number in page
    assert "2 approvals from Alex Approver, Blair Approver" in page
    assert "1 approval from Casey Approver" in page
    assert "no way to be approved" not in page
    response = admin_client.post(url, {"reason": "Casey approves everything now"})
    assert response.status_code == 302
    assert _current_order() == ["Everything else"]


def test_deleting_a_policy_that_leaves_a_payable_unapprovable_needs_a_reason(
    admin_client,  # noqa: F811
    administrator,
    dots,
    large_bills,
    fallback,
    approvers,  # noqa: F811
    make_draft,
):
    by_casey = make_draft(500_000, creator=approvers["casey"].user)
    url = reverse("admin:payables_approvalpolicy_delete", args=[large_bills.pk])
    page = admin_client.get(url).content.decode()
    assert "would have no way to be approved" in page and by_casey.bill_number in page
    assert "step 1 has no eligible approver" in page and "To delete it anyway, give a reason" in page
    sent_before = len(dots.received("DELETE", POLICIES + "/*"))
    response = admin_client.post(url, {"reason": ""})
    assert response.status_code == 200
    assert "Give a reason to delete it anyway" in response.content.decode()
    assert _current_order() == ["Large bills", "Everything else"]
    assert len(dots.received("DELETE", POLICIES + "/*")) == sent_before
    response = admin_client.post(url, {"reason": "Casey's own bills go to the CFO by hand"})
    assert response.status_code == 302
    assert _current_order() == ["Everything else"]
    event = AuditEvent.objects.get(action="approval_policy.unsatisfiable_confirmed")
    assert event.reason == "Casey's own bills go to the CFO by hand"
    assert by_casey.bill_number in str(event.changes) and event.actor == administrator


def test_moving_a_policy_that_reroutes_open_payables_shows_the_preview_first(
    admin_client,  # noqa: F811
    dots,
    large_bills,
    fallback,
    make_draft,
):
    big = make_draft(500_000)
    data = {"action": "move_up", "_selected_action": [fallback.pk]}
    response = admin_client.post(reverse(CHANGELIST), data)
    page = response.content.decode()
    assert response.status_code == 200 and "What moving up would do to open payables" in page
    assert big.bill_number in page and "1 approval from Casey Approver" in page and 'value="Move"' in page
    assert _current_order() == ["Large bills", "Everything else"]
    response = admin_client.post(reverse(CHANGELIST), {**data, "_confirm_move": "1"})
    assert response.status_code == 302
    assert _current_order() == ["Everything else", "Large bills"]
    assert not AuditEvent.objects.filter(action="approval_policy.unsatisfiable_confirmed").exists()


def test_moving_a_policy_that_leaves_a_payable_unapprovable_needs_a_reason(
    admin_client,  # noqa: F811
    dots,
    large_bills,
    fallback,
    approvers,  # noqa: F811
    make_draft,
):
    by_casey = make_draft(500_000, creator=approvers["casey"].user)
    data = {"action": "move_down", "_selected_action": [large_bills.pk]}
    page = admin_client.post(reverse(CHANGELIST), data).content.decode()
    assert "would have no way to be approved" in page and by_casey.bill_number in page
    assert "To move anyway, give a reason" in page and 'value="Move anyway"' in page
    page = admin_client.post(reverse(CHANGELIST), {**data, "_confirm_move": "1"}).content.decode()
    assert "Give a reason to move it anyway" in page
    assert _current_order() == ["Large bills", "Everything else"]
    response = admin_client.post(
        reverse(CHANGELIST), {**data, "_confirm_move": "1", "unsatisfiable_reason": "Casey's bills wait for the CFO"}
    )
    assert response.status_code == 302
    assert _current_order() == ["Everything else", "Large bills"]
    event = AuditEvent.objects.get(action="approval_policy.unsatisfiable_confirmed")
    assert event.reason == "Casey's bills wait for the CFO" and by_casey.bill_number in str(event.changes)
