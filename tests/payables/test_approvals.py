"""Approvers and approval policies (payables.policies, policy_push, approver_sync, selectors), over real HTTP
against the emulator."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from core import roles
from core.dots_gateway import client
from core.errors import DomainError
from core.models import AuditEvent
from payables import approver_sync, errors, policies, policy_push, selectors
from payables import services as payable_services
from payables.models import ApprovalPolicy, Approver, Payable
from tests.support import make_user
from tests.vendors.helpers import vendor_in_dots
from vendors import bank_accounts

pytestmark = pytest.mark.django_db
POLICIES = "/v2/accounts-payable/approval-policies"


def make_vendor(actor, name="Acme Supplies"):
    """A vendor in Dots, added by an AP clerk (policy tests pass their Administrator, who may not add vendors)."""
    User = get_user_model()
    clerk = User.objects.filter(username="vendor-clerk").first() or make_user("vendor-clerk", role=roles.AP_CLERK)
    vendor = vendor_in_dots(clerk, name=name, contact_email="billing@acme.example")
    assert vendor.dots_id, vendor.last_dots_error
    return vendor


def create(
    actor,
    approvers,
    *,
    description="Large bills",
    priority=1,
    comparator=">=",
    cents=100_000,
    vendor_ids=(),
    steps=None,
):
    steps = steps if steps is not None else [(2, [approvers["alex"].pk, approvers["blair"].pk])]
    return policies.policy_create(
        actor=actor,
        description=description,
        priority=priority,
        amount_comparator=comparator,
        amount_cents=cents if comparator else None,
        vendor_ids=vendor_ids,
        steps=steps,
    )


def dots_policies():
    return {p.id: p for p in client().list_approval_policies()}


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- approvers ------------------------------------------------------------------------------------------------


def test_sync_links_each_approver_to_the_local_user_with_the_same_email_ignoring_case(dashboard, administrator):
    alex = make_user("alex")
    alex.email = dashboard["alex"]["email"].upper()
    alex.save(update_fields=["email"])

    result = approver_sync.approvers_sync(actor=administrator)

    # The six seeded dashboard users and the owner every fresh Dots account has.
    assert Approver.objects.count() == 7
    assert Approver.objects.get(dots_user_id=dashboard["alex"]["id"]).user == alex
    assert Approver.objects.filter(user__isnull=False).count() == 1
    assert len(result.created) == 7 and len(result.linked) == 1
    (event,) = events("approver.synced")
    assert event.actor == administrator and len(event.changes["linked"]) == 1


def test_sync_never_takes_a_user_already_linked_to_another_approver(dashboard, administrator):
    approver_sync.approvers_sync(actor=administrator)
    blair = Approver.objects.get(dots_user_id=dashboard["blair"]["id"])
    person = make_user("person")
    approver_sync.approver_link(actor=administrator, approver_id=blair.pk, user_id=person.pk)
    person.email = dashboard["alex"]["email"]  # the same person's email is also Alex's in Dots
    person.save(update_fields=["email"])

    approver_sync.approvers_sync(actor=administrator)

    assert Approver.objects.get(dots_user_id=dashboard["alex"]["id"]).user is None
    assert Approver.objects.get(pk=blair.pk).user == person


def test_sync_with_nothing_new_in_dots_writes_no_second_audit_event(dashboard, administrator):
    approver_sync.approvers_sync(actor=administrator)
    result = approver_sync.approvers_sync(actor=administrator)
    assert result.unchanged == 7 and not result.changed  # the six seeded and the account's owner
    assert len(events("approver.synced")) == 1


def test_linking_a_user_already_linked_to_another_approver_is_refused(approvers, administrator):
    person = make_user("person")
    approver_sync.approver_link(actor=administrator, approver_id=approvers["alex"].pk, user_id=person.pk)
    with pytest.raises(errors.ApproverLinkRefused) as refused:
        approver_sync.approver_link(actor=administrator, approver_id=approvers["blair"].pk, user_id=person.pk)
    assert refused.value.code == "approver-link-refused"
    assert Approver.objects.get(pk=approvers["blair"].pk).user is None


def test_unlinking_an_approver_is_audited_with_the_user_it_had(approvers, administrator):
    person = make_user("person")
    approver_sync.approver_link(actor=administrator, approver_id=approvers["alex"].pk, user_id=person.pk)
    approver_sync.approver_link(actor=administrator, approver_id=approvers["alex"].pk, user_id=None)
    assert Approver.objects.get(pk=approvers["alex"].pk).user is None
    last = events("approver.linked")[-1]
    assert last.changes == {"user": {"before": "person", "after": None}}


# --- refusing policies nobody could satisfy ----------------------------------------------------------------------


def test_a_step_needing_more_approvals_than_it_lists_is_refused_before_anything_reaches_dots(
    dots, approvers, administrator
):
    steps = [(1, [approvers["alex"].pk]), (3, [approvers["alex"].pk, approvers["blair"].pk])]
    with pytest.raises(errors.ApprovalPolicyInvalid) as refused:
        create(administrator, approvers, steps=steps)
    assert refused.value.code == "approval-policy-invalid"
    assert "Step 2 needs 3 approvals but lists only 2 approvers" in str(refused.value)
    assert ApprovalPolicy.objects.count() == 0
    assert dots.received("POST", POLICIES) == []


def test_a_step_without_approvers_is_refused_naming_the_step(dots, approvers, administrator):
    with pytest.raises(errors.ApprovalPolicyInvalid) as refused:
        create(administrator, approvers, steps=[(1, [approvers["alex"].pk]), (1, [])])
    assert "Step 2 lists no approvers" in str(refused.value)
    assert dots.received("POST", POLICIES) == []


def test_a_policy_without_steps_is_refused(dots, approvers, administrator):
    with pytest.raises(errors.ApprovalPolicyInvalid) as refused:
        create(administrator, approvers, steps=[])
    assert "at least one approval step" in str(refused.value)
    assert ApprovalPolicy.objects.count() == 0


# --- creating, editing, reordering, deleting -------------------------------------------------------------------


def test_a_new_policy_exists_in_dots_with_its_amount_condition_steps_and_priority(dots, approvers, administrator):
    create(
        administrator,
        approvers,
        priority=5,
        steps=[(1, [approvers["casey"].pk]), (2, [approvers["alex"].pk, approvers["blair"].pk])],
    )
    policy = ApprovalPolicy.objects.get()
    assert policy.dots_id and policy.last_dots_error == ""
    remote = dots_policies()[policy.dots_id]
    assert remote.payable_conditions == [{"type": "amount", "comparator": ">=", "value": 100_000}]
    assert [
        ([a["id"] for a in c["approver_list"]], c["num_approvals_required"]) for c in remote.approval_conditions
    ] == [
        ([approvers["casey"].dots_user_id], 1),
        (sorted([approvers["alex"].dots_user_id, approvers["blair"].dots_user_id]), 2),
    ]
    assert remote.priority == 5
    (event,) = events("approval_policy.created")
    assert event.actor == administrator and event.changes["step_2"]["after"].startswith("2 of:")


def test_a_vendor_condition_is_sent_as_the_vendors_dots_id(dots, approvers, administrator, forgive_vendor_value_quirk):
    acme = make_vendor(administrator)
    policy = create(administrator, approvers, vendor_ids=[acme.pk])
    sent = dots.received("POST", POLICIES)[0]["body"]
    assert {"type": "vendor_id", "value": acme.dots_id} in sent["payable_conditions"]
    assert policy.dots_id in dots_policies()


def test_a_policy_without_conditions_is_sent_as_amount_at_least_zero_so_it_covers_every_payable(
    dots, approvers, administrator
):
    policy = create(administrator, approvers, comparator="", cents=None)
    assert dots_policies()[policy.dots_id].payable_conditions == [{"type": "amount", "comparator": ">=", "value": 0}]


def test_editing_a_policy_creates_a_new_version_in_dots_deletes_the_old_and_keeps_both_here(
    dots, approvers, administrator
):
    old = create(administrator, approvers)
    new = policies.policy_update(
        actor=administrator,
        policy_id=old.pk,
        description="Large bills",
        priority=1,
        amount_comparator=">=",
        amount_cents=250_000,
        vendor_ids=[],
        steps=[(1, [approvers["alex"].pk, approvers["blair"].pk])],
    )
    old.refresh_from_db()
    assert (new.version, new.lineage, new.retired_at) == (2, old.lineage, None)
    assert old.retired_at is not None
    in_dots = dots_policies()
    assert new.dots_id in in_dots and old.dots_id not in in_dots
    assert in_dots[new.dots_id].payable_conditions[0]["value"] == 250_000
    assert not selectors.awaits_deletion_in_dots(old)
    (event,) = events("approval_policy.updated")
    assert event.actor == administrator
    assert event.changes["amount_condition"] == {"before": "$1,000.00 or more", "after": "$2,500.00 or more"}
    assert event.changes["step_1"]["before"].startswith("2 of:") and event.changes["step_1"]["after"].startswith(
        "1 of:"
    )
    assert "description" not in event.changes


def test_editing_a_retired_version_is_refused(dots, approvers, administrator):
    old = create(administrator, approvers)
    policies.policy_delete(actor=administrator, policy_id=old.pk)
    with pytest.raises(errors.ApprovalPolicyRetired):
        policies.policy_update(
            actor=administrator,
            policy_id=old.pk,
            description="x",
            priority=1,
            amount_comparator="",
            amount_cents=None,
            vendor_ids=[],
            steps=[(1, [approvers["alex"].pk])],
        )


def test_changing_only_the_priority_keeps_the_version_and_patches_dots(dots, approvers, administrator):
    policy = create(administrator, approvers, priority=1)
    same = policies.policy_update(
        actor=administrator,
        policy_id=policy.pk,
        description="Large bills",
        priority=7,
        amount_comparator=">=",
        amount_cents=100_000,
        vendor_ids=[],
        steps=[(2, [approvers["alex"].pk, approvers["blair"].pk])],
    )
    assert same.pk == policy.pk and same.version == 1
    assert dots_policies()[policy.dots_id].priority == 7
    assert len(dots.received("POST", POLICIES)) == 1


def test_moving_a_policy_up_swaps_priorities_here_and_in_dots(dots, approvers, administrator):
    first = create(administrator, approvers, description="First", priority=1)
    second = create(administrator, approvers, description="Second", priority=2)
    policies.policy_move(actor=administrator, policy_id=second.pk, direction=-1)
    assert [p.description for p in selectors.current_policies()] == ["Second", "First"]
    remote = dots_policies()
    assert (remote[second.dots_id].priority, remote[first.dots_id].priority) == (1, 2)
    assert len(events("approval_policy.reordered")) == 2


def test_deleting_a_policy_retires_it_here_and_deletes_it_in_dots(dots, approvers, administrator):
    policy = create(administrator, approvers)
    policies.policy_delete(actor=administrator, policy_id=policy.pk, reason="no longer needed")
    policy.refresh_from_db()
    assert policy.retired_at is not None
    assert policy.dots_id not in dots_policies()
    assert events("approval_policy.deleted")[0].reason == "no longer needed"


def test_a_policy_dots_refused_to_create_keeps_the_error_and_sending_again_creates_it(dots, approvers, administrator):
    dots.add_fault(method="POST", path=POLICIES, kind="status", status=503, count=1)
    with pytest.raises(errors.PolicyNotInDots) as failed:
        create(administrator, approvers)
    policy = ApprovalPolicy.objects.get()
    assert failed.value.policy.pk == policy.pk
    assert policy.dots_id is None and "could not be reached" in policy.last_dots_error
    assert events("approval_policy.dots_error")

    policy_push.policy_push(actor=administrator, policy_id=policy.pk)
    policy.refresh_from_db()
    assert policy.dots_id in dots_policies() and policy.last_dots_error == ""


def test_sending_again_after_a_dropped_answer_adopts_the_policy_dots_made_instead_of_a_second(
    dots, approvers, administrator
):
    dots.add_fault(method="POST", path=POLICIES, kind="drop", count=1)
    with pytest.raises(errors.PolicyNotInDots):
        create(administrator, approvers)
    policy_push.policy_push(actor=administrator, policy_id=ApprovalPolicy.objects.get().pk)
    assert len(dots_policies()) == 1
    assert ApprovalPolicy.objects.get().dots_id in dots_policies()


# --- which policy matches a payable --------------------------------------------------------------------------------


def test_match_policy_picks_the_first_matching_policy_by_priority_and_says_why(dots, approvers, administrator):
    create(administrator, approvers, description="Huge", priority=2, cents=500_000)
    large = create(administrator, approvers, description="Large", priority=1, cents=100_000)
    vendor = make_vendor(administrator)
    policy, why = selectors.match_policy(Payable(vendor=vendor, total_cents=600_000))
    assert policy == large
    assert why == "amount $6,000.00 ≥ $1,000.00"


def test_match_policy_names_the_vendor_condition(dots, approvers, administrator, forgive_vendor_value_quirk):
    acme = make_vendor(administrator)
    policy = create(administrator, approvers, vendor_ids=[acme.pk])
    assert selectors.match_policy(Payable(vendor=acme, total_cents=120_000)) == (
        policy,
        "amount $1,200.00 ≥ $1,000.00 and vendor is Acme Supplies",
    )
    other = make_vendor(administrator, "Globex")
    assert selectors.match_policy(Payable(vendor=other, total_cents=120_000))[0] is None


def test_match_policy_without_a_match_says_one_approval_by_any_approver(dots, approvers, administrator):
    create(administrator, approvers, cents=100_000)
    vendor = make_vendor(administrator)
    assert selectors.match_policy(Payable(vendor=vendor, total_cents=99_999)) == (
        None,
        "no policy matched: one approval by any approver",
    )


def test_match_policy_ignores_a_version_that_never_reached_dots(dots, approvers, administrator):
    dots.add_fault(method="POST", path=POLICIES, kind="status", status=503, count=1)
    with pytest.raises(errors.PolicyNotInDots):
        create(administrator, approvers, cents=0)
    vendor = make_vendor(administrator)
    assert selectors.match_policy(Payable(vendor=vendor, total_cents=100))[0] is None


# --- a submitted payable's steps (Dots' own answer) ------------------------------------------------------------------


@pytest.fixture
def submitted(dots, dashboard, approvers, administrator):
    """A payable submitted in Dots under a two-step policy; returns (local payable, policy)."""
    vendor = make_vendor(administrator)
    account = bank_accounts.bank_account_create(
        actor=vendor.created_by,
        vendor_id=vendor.pk,
        name="Acme operating",
        routing_number="021000021",
        account_number="000123456789",
        account_type="checking",
    )
    account.refresh_from_db()
    policy = create(
        administrator,
        approvers,
        cents=1,
        steps=[(1, [approvers["casey"].pk]), (2, [approvers["alex"].pk, approvers["blair"].pk])],
    )
    remote = client().create_payable(
        acting_user_id=dashboard["creator"]["id"],
        number="INV-7",
        amount=50_000,
        ap_vendor_id=vendor.dots_id,
        ap_payment_method_id=account.dots_id,
        funding_source="dots_balance",
    )
    answer = client().submit_payable_for_approval(payable_id=remote.id, acting_user_id=dashboard["creator"]["id"])
    answer = client().approve_payable(payable_id=remote.id, acting_user_id=dashboard["casey"]["id"])
    answer = client().approve_payable(payable_id=remote.id, acting_user_id=dashboard["alex"]["id"])
    payable = Payable.objects.create(
        bill_number="INV-7",
        vendor=vendor,
        bank_account=account,
        amount_cents=50_000,
        total_cents=50_000,
        created_by=administrator,
        dots_id=remote.id,
        status=Payable.Status.SUBMITTED,
        approval_policy=policy,
        approval_steps=answer.raw["approval_steps"],
    )
    return payable, policy


def test_step_view_shows_who_may_approve_who_has_and_the_current_step(submitted, approvers, administrator):
    payable, _ = submitted
    casey = make_user("casey")
    approver_sync.approver_link(actor=administrator, approver_id=approvers["casey"].pk, user_id=casey.pk)
    steps = selectors.step_view(payable)
    assert [(s.number, s.required, s.completed, s.is_current) for s in steps] == [
        (1, 1, True, False),
        (2, 2, False, True),
    ]
    assert steps[0].approved_by == ["casey"]  # the linked local user, not the Dots name
    assert steps[1].approved_by == ["Alex Approver"]
    assert any("Blair Approver" in name and "not linked" in name for name in steps[1].approvers)
    assert selectors.current_step_index(payable) == 1


def test_only_an_approver_listed_in_the_current_step_may_approve_it(submitted, approvers, administrator):
    payable, _ = submitted
    blair, casey = make_user("blair"), make_user("casey")
    approver_sync.approver_link(actor=administrator, approver_id=approvers["blair"].pk, user_id=blair.pk)
    approver_sync.approver_link(actor=administrator, approver_id=approvers["casey"].pk, user_id=casey.pk)
    assert selectors.user_may_approve_current_step(payable, blair)[0] is True
    may, why = selectors.user_may_approve_current_step(payable, casey)
    assert may is False and "not an approver of step 2" in why


def test_an_approver_who_already_approved_the_current_step_may_not_count_twice(submitted, approvers, administrator):
    payable, _ = submitted
    alex = make_user("alex")
    approver_sync.approver_link(actor=administrator, approver_id=approvers["alex"].pk, user_id=alex.pk)
    may, why = selectors.user_may_approve_current_step(payable, alex)
    assert may is False and "already approved step 2" in why


def test_a_user_not_linked_to_an_approver_may_not_approve(submitted):
    payable, _ = submitted
    may, why = selectors.user_may_approve_current_step(payable, make_user("stranger"))
    assert may is False and "not linked to a Dots approver" in why


def test_without_a_policy_any_linked_dots_approver_may_approve_but_not_a_payer(dots, approvers, administrator):
    vendor = make_vendor(administrator)
    payable = Payable(
        vendor=vendor,
        status=Payable.Status.SUBMITTED,
        total_cents=100,
        bill_number="INV-1",
        approval_steps=[{"completed": False, "num_approvals_required": 1, "user_approvals": []}],
    )
    alex, pat = make_user("alex"), make_user("pat")
    approver_sync.approver_link(actor=administrator, approver_id=approvers["alex"].pk, user_id=alex.pk)
    approver_sync.approver_link(actor=administrator, approver_id=approvers["pat"].pk, user_id=pat.pk)
    assert selectors.user_may_approve_current_step(payable, alex)[0] is True
    assert selectors.user_may_approve_current_step(payable, pat)[0] is False


def test_match_policy_predicts_the_policy_dots_applies_on_submit(submitted):
    payable, policy = submitted
    predicted, _ = selectors.match_policy(payable)
    assert predicted == policy
    assert [s["num_approvals_required"] for s in payable.approval_steps] == [
        s.num_approvals_required for s in policy.steps.all()
    ]


def test_an_old_version_dots_failed_to_delete_still_counts_until_sending_again_deletes_it(
    dots, approvers, administrator
):
    old = create(administrator, approvers, cents=100_000)
    dots.add_fault(method="DELETE", path=f"{POLICIES}/*", kind="status", status=503, count=1)
    with pytest.raises(errors.PolicyNotInDots):
        policies.policy_update(
            actor=administrator,
            policy_id=old.pk,
            description="Large bills",
            priority=1,
            amount_comparator=">=",
            amount_cents=900_000,
            vendor_ids=[],
            steps=[(1, [approvers["alex"].pk])],
        )
    old.refresh_from_db()
    new = ApprovalPolicy.objects.get(retired_at__isnull=True)
    assert selectors.awaits_deletion_in_dots(old) and old.dots_id in dots_policies()
    vendor = make_vendor(administrator)
    assert selectors.match_policy(Payable(vendor=vendor, total_cents=200_000))[0] == old  # as Dots would

    policy_push.policy_push(actor=administrator, policy_id=new.pk)
    old.refresh_from_db()
    assert not selectors.awaits_deletion_in_dots(old) and old.dots_id not in dots_policies()
    assert selectors.match_policy(Payable(vendor=vendor, total_cents=200_000))[0] is None


@pytest.mark.django_db(transaction=True)
def test_two_people_editing_the_same_version_at_once_make_one_new_version(dots, dashboard):
    administrator = make_user("policy-admin-race", role=roles.ADMINISTRATOR)
    approver_sync.approvers_sync(actor=administrator)
    found = {a.first_name.lower(): a for a in Approver.objects.all()}
    old = create(administrator, found)
    barrier, outcomes = threading.Barrier(2), []

    def edit(cents):
        try:
            barrier.wait()
            policies.policy_update(
                actor=administrator,
                policy_id=old.pk,
                description="Large bills",
                priority=1,
                amount_comparator=">=",
                amount_cents=cents,
                vendor_ids=[],
                steps=[(1, [found["alex"].pk])],
            )
            outcomes.append("saved")
        except errors.ApprovalPolicyRetired:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(cents,)) for cents in (200_000, 300_000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "saved"]
    assert ApprovalPolicy.objects.filter(lineage=old.lineage).count() == 2
    assert len(dots_policies()) == 1


@pytest.mark.django_db(transaction=True)
def test_sending_a_policy_twice_at_once_creates_one_dots_policy(dots, dashboard):
    administrator = make_user("policy-admin-double", role=roles.ADMINISTRATOR)
    approver_sync.approvers_sync(actor=administrator)
    found = {a.first_name.lower(): a for a in Approver.objects.all()}
    dots.add_fault(method="POST", path=POLICIES, kind="status", status=503, count=1)
    with pytest.raises(errors.PolicyNotInDots):
        create(administrator, found)
    policy = ApprovalPolicy.objects.get()
    dots.add_fault(method="GET", path=POLICIES, kind="latency", ms=300, count=2)  # both read before either creates
    barrier, outcomes = threading.Barrier(2), []

    def send():
        try:
            barrier.wait()
            policy_push.policy_push(actor=administrator, policy_id=policy.pk)
            outcomes.append("sent")
        except errors.PolicyBeingSent:
            outcomes.append("busy")
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["busy", "sent"]
    assert len(dots_policies()) == 1


# --- a policy naming several vendors: one Dots policy (copy) per vendor ------------------------------------------


def copies_of(policy):
    return list(policy.dots_copies.select_related("vendor").order_by("vendor__name"))


def two_vendor_policy(administrator, approvers, *, priority=1, cents=100_000):
    acme, globex = make_vendor(administrator), make_vendor(administrator, "Globex")
    return create(administrator, approvers, priority=priority, cents=cents, vendor_ids=[acme.pk, globex.pk])


def test_a_policy_naming_two_vendors_is_one_dots_policy_per_vendor_with_the_same_amount_and_steps(
    dots, approvers, administrator, forgive_vendor_value_quirk
):
    policy = two_vendor_policy(administrator, approvers, priority=3)
    acme_copy, globex_copy = copies_of(policy)
    remote = dots_policies()
    assert set(remote) == {acme_copy.dots_id, globex_copy.dots_id}
    for copy in (acme_copy, globex_copy):
        assert remote[copy.dots_id].payable_conditions == [
            {"type": "amount", "comparator": ">=", "value": 100_000},
            {"type": "vendor_id", "comparator": "==", "value": copy.vendor.dots_id},
        ]
        assert [sorted(a["id"] for a in c["approver_list"]) for c in remote[copy.dots_id].approval_conditions] == [
            sorted([approvers["alex"].dots_user_id, approvers["blair"].dots_user_id])
        ]
    assert [remote[c.dots_id].priority for c in (acme_copy, globex_copy)] == [3, 4]
    assert selectors.dots_state(policy) == "In Dots (2 copies, one per vendor)"


@pytest.fixture
def globex_account(people, administrator):
    """A second vendor with a verified bank account in Dots."""
    globex = make_vendor(administrator, "Globex")
    account = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=globex.pk,
        name="Globex operating",
        routing_number="021000021",
        account_number="000987654321",
        account_type="checking",
    )
    bank_accounts.bank_account_verify(
        actor=people.clerk2, bank_account_id=account.pk, how_confirmed="called the vendor on the number we already had"
    )
    account.refresh_from_db()
    return globex, account


@pytest.mark.parametrize("vendor_name", ["Acme Supplies", "Globex"])
def test_dots_routes_a_payable_from_either_vendor_of_a_two_vendor_policy_to_that_policy(
    dots, people, vendor_account, globex_account, make_payable, administrator, forgive_vendor_value_quirk, vendor_name
):
    (acme, _acme_account), (globex, globex_account_) = vendor_account, globex_account
    first, second, third = (Approver.objects.get(user=u) for u in (people.approver, people.approver2, people.approver3))
    policy = policies.policy_create(
        actor=administrator,
        description="Acme and Globex",
        priority=1,
        vendor_ids=[acme.pk, globex.pk],
        steps=[(1, [first.pk]), (2, [second.pk, third.pk])],
    )
    if vendor_name == "Acme Supplies":
        payable = make_payable()
    else:
        payable = make_payable(bank_account=globex_account_)
        Payable.objects.filter(pk=payable.pk).update(vendor=globex)
    payable_services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    payable.refresh_from_db()
    assert payable.vendor.name == vendor_name
    assert payable.approval_policy == policy
    in_dots = client().retrieve_payable(payable_id=payable.dots_id)
    assert [s["num_approvals_required"] for s in in_dots.raw["approval_steps"]] == [1, 2]


def test_a_payable_from_a_vendor_outside_the_policy_is_not_routed_to_it(
    dots, approvers, administrator, forgive_vendor_value_quirk
):
    two_vendor_policy(administrator, approvers)
    initech = make_vendor(administrator, "Initech")
    assert selectors.match_policy(Payable(vendor=initech, total_cents=500_000)) == (None, selectors.NO_POLICY_REASON)


def test_editing_a_two_vendor_policy_replaces_both_dots_copies(
    dots, approvers, administrator, forgive_vendor_value_quirk
):
    old = two_vendor_policy(administrator, approvers)
    new = policies.policy_update(
        actor=administrator,
        policy_id=old.pk,
        description="Large bills",
        priority=1,
        amount_comparator=">=",
        amount_cents=250_000,
        vendor_ids=list(old.vendors.values_list("pk", flat=True)),
        steps=[(1, [approvers["alex"].pk, approvers["blair"].pk])],
    )
    old.refresh_from_db()
    remote = dots_policies()
    assert set(remote) == {c.dots_id for c in copies_of(new)} and len(remote) == 2
    assert all(r.payable_conditions[0]["value"] == 250_000 for r in remote.values())
    assert not selectors.awaits_deletion_in_dots(old)
    assert selectors.dots_state(old) == "Retired (not in Dots; its 2 copies deleted)"


def test_deleting_a_two_vendor_policy_deletes_both_dots_copies(
    dots, approvers, administrator, forgive_vendor_value_quirk
):
    policy = two_vendor_policy(administrator, approvers)
    policies.policy_delete(actor=administrator, policy_id=policy.pk, reason="vendors merged")
    policy.refresh_from_db()
    assert dots_policies() == {}
    assert all(c.deleted_in_dots_at for c in copies_of(policy))
    assert not selectors.needs_dots(policy)


def test_changing_a_two_vendor_policys_priority_moves_both_copies_in_dots(
    dots, approvers, administrator, forgive_vendor_value_quirk
):
    policy = two_vendor_policy(administrator, approvers, priority=10)
    policies.policy_set_priority(actor=administrator, policy_id=policy.pk, priority=4)
    remote = dots_policies()
    assert [remote[c.dots_id].priority for c in copies_of(policy)] == [4, 5]


def test_the_copies_of_a_policy_take_consecutive_priorities_and_the_next_policy_follows_them(
    dots, approvers, administrator, forgive_vendor_value_quirk
):
    single = create(administrator, approvers, description="Everything else", priority=2, cents=0)
    both = two_vendor_policy(administrator, approvers, priority=1)
    remote = dots_policies()
    assert [remote[c.dots_id].priority for c in copies_of(both)] == [1, 2]
    assert remote[single.dots_id].priority == 3

    policies.policy_move(actor=administrator, policy_id=single.pk, direction=-1)
    remote = dots_policies()
    assert remote[single.dots_id].priority == 1
    assert [remote[c.dots_id].priority for c in copies_of(both)] == [2, 3]


def test_a_503_on_the_second_copy_keeps_the_first_and_sending_again_creates_only_the_missing_one(
    dots, approvers, administrator, forgive_vendor_value_quirk
):
    acme, globex = make_vendor(administrator), make_vendor(administrator, "Globex")
    dots.add_fault(method="POST", path=POLICIES, kind="latency", ms=0, count=1)  # the first create goes through
    dots.add_fault(method="POST", path=POLICIES, kind="status", status=503, count=1)  # the second is refused
    with pytest.raises(errors.PolicyNotInDots):
        create(administrator, approvers, vendor_ids=[acme.pk, globex.pk])
    policy = ApprovalPolicy.objects.get()
    acme_copy, globex_copy = copies_of(policy)
    assert acme_copy.dots_id in dots_policies() and len(dots_policies()) == 1
    assert globex_copy.dots_id is None and "could not be reached" in globex_copy.last_dots_error
    assert selectors.dots_state(policy).startswith("In Dots for 1 of 2 vendors; the copy for Globex failed")
    assert selectors.needs_dots(policy)

    policy_push.policy_push(actor=administrator, policy_id=policy.pk)
    policy.refresh_from_db()
    assert len(dots.received("POST", POLICIES)) == 3  # Acme, Globex refused, Globex again
    assert set(dots_policies()) == {c.dots_id for c in copies_of(policy)}
    assert selectors.dots_state(policy) == "In Dots (2 copies, one per vendor)"


# --- who may change policies and approvers -----------------------------------------------------------------------


def _policy_calls(dots):
    return dots.received(path_glob=f"{POLICIES}*")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda actor, policy, approvers: create(actor, approvers), id="create"),
        pytest.param(
            lambda actor, policy, approvers: policies.policy_update(
                actor=actor,
                policy_id=policy.pk,
                description="Larger bills",
                priority=1,
                amount_comparator=">=",
                amount_cents=500_000,
                steps=[(1, [approvers["alex"].pk])],
            ),
            id="update",
        ),
        pytest.param(
            lambda actor, policy, approvers: policies.policy_delete(actor=actor, policy_id=policy.pk), id="delete"
        ),
        pytest.param(
            lambda actor, policy, approvers: policies.policy_set_priority(actor=actor, policy_id=policy.pk, priority=9),
            id="set-priority",
        ),
        pytest.param(
            lambda actor, policy, approvers: policies.policy_move(actor=actor, policy_id=policy.pk, direction=+1),
            id="move",
        ),
        pytest.param(
            lambda actor, policy, approvers: policy_push.policy_push(actor=actor, policy_id=policy.pk), id="push"
        ),
    ],
)
def test_a_user_whose_role_may_not_change_policies_is_refused_and_nothing_reaches_dots(
    dots, approvers, administrator, change
):
    policy = create(administrator, approvers)
    create(administrator, approvers, description="Small bills", priority=2, comparator="<=", cents=10_000)
    approver = make_user("an-approver", role=roles.APPROVER)
    calls, versions, events_before = (
        len(_policy_calls(dots)),
        ApprovalPolicy.objects.count(),
        AuditEvent.objects.count(),
    )

    with pytest.raises(DomainError) as refused:
        change(approver, policy, approvers)

    assert refused.value.code == "permission-refused"
    assert "Your role does not allow you to" in str(refused.value)
    assert len(_policy_calls(dots)) == calls
    assert ApprovalPolicy.objects.count() == versions
    policy.refresh_from_db()
    assert (policy.retired_at, policy.priority, policy.version) == (None, 1, 1)
    assert AuditEvent.objects.count() == events_before


def test_a_user_whose_role_may_not_link_approvers_cannot_sync_them_and_nothing_is_asked_of_dots(dots, dashboard):
    clerk = make_user("a-clerk", role=roles.AP_CLERK)
    with pytest.raises(DomainError) as refused:
        approver_sync.approvers_sync(actor=clerk)
    assert refused.value.code == "permission-refused"
    assert dots.received("GET", "/v2/accounts-payable/approvers") == []
    assert Approver.objects.count() == 0


def test_the_system_user_syncs_approvers_as_the_schedule_does(dots, dashboard):
    from core.audit import system_user

    result = approver_sync.approvers_sync(actor=system_user())
    assert len(result.created) == 7  # the six seeded and the account's owner


def test_a_user_whose_role_may_not_link_approvers_cannot_link_one(approvers):
    clerk = make_user("a-clerk", role=roles.AP_CLERK)
    person = make_user("person")
    with pytest.raises(DomainError) as refused:
        approver_sync.approver_link(actor=clerk, approver_id=approvers["alex"].pk, user_id=person.pk)
    assert refused.value.code == "permission-refused"
    assert Approver.objects.get(pk=approvers["alex"].pk).user is None
    assert not events("approver.linked")


# --- every version keeps its Dots policies as copy rows ----------------------------------------------------------


def test_a_version_without_vendors_is_one_copy_row_for_any_vendor(dots, approvers, administrator):
    policy = create(administrator, approvers)
    (copy,) = policy.dots_copies.all()
    assert copy.vendor is None and copy.dots_id == policy.dots_id and copy.dots_id in dots_policies()
    assert (copy.last_dots_error, copy.deleted_in_dots_at) == ("", None)


def test_deleting_a_one_copy_version_records_when_its_copy_left_dots(dots, approvers, administrator):
    policy = create(administrator, approvers)
    policies.policy_delete(actor=administrator, policy_id=policy.pk)
    (copy,) = ApprovalPolicy.objects.get(pk=policy.pk).dots_copies.all()
    assert copy.deleted_in_dots_at is not None and copy.dots_id not in dots_policies()
    assert selectors.dots_state(ApprovalPolicy.objects.get(pk=policy.pk)) == "Retired (not in Dots)"
