"""Admin pages for approval policies and approvers, as an Administrator, against the emulator."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from core import dots_gateway, roles
from core.dots_gateway import client
from payables import approver_sync, errors, policies
from payables.models import ApprovalPolicy, Approver
from tests.openapi_check import checked_session
from tests.payables.test_approvals import POLICIES, make_vendor
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db
ADD = "admin:payables_approvalpolicy_add"
CHANGELIST = "admin:payables_approvalpolicy_changelist"


@pytest.fixture
def approvers(approvers, administrator):
    """The synced approvers, with alex, blair and casey linked to users in the Approver role: the
    policy form offers (and accepts) only such approvers."""
    for name in ("alex", "blair", "casey"):
        user = make_user(f"{name}-user", role=roles.APPROVER, first_name=name.title(), last_name="Approver")
        approver_sync.approver_link(actor=administrator, approver_id=approvers[name].pk, user_id=user.pk)
        approvers[name].refresh_from_db()
    return approvers


@pytest.fixture
def admin_client(client, administrator):
    login_verified(client, administrator)
    return client


def policy_form(
    *,
    description="Large bills",
    priority="1",
    comparator=">=",
    amount="1,000.00",
    vendors=(),
    steps=((2, ("alex", "blair")),),
    approvers=None,
    existing_steps=(),
    policy=None,
):
    data = {
        "description": description,
        "priority": priority,
        "amount_comparator": comparator,
        "amount_cents": amount,
        "vendors": [str(v) for v in vendors],
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(existing_steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for index, (required, names) in enumerate(steps):
        data[f"steps-{index}-num_approvals_required"] = str(required)
        data[f"steps-{index}-approvers"] = [str(approvers[name].pk) for name in names]
        if index < len(existing_steps):
            data[f"steps-{index}-id"] = str(existing_steps[index].pk)
            data[f"steps-{index}-policy"] = str(policy.pk)
    return data


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def dots_policies():
    return {p.id: p for p in client().list_approval_policies()}


# --- approval policies ---------------------------------------------------------------------------------------


def test_the_add_page_opens_with_empty_steps_for_an_administrator(admin_client, approvers):
    response = admin_client.get(reverse(ADD))
    assert response.status_code == 200
    assert b"steps-0-num_approvals_required" in response.content


def test_adding_a_policy_in_the_admin_creates_it_in_dots(admin_client, dots, approvers):
    response = admin_client.post(reverse(ADD), policy_form(approvers=approvers))
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = ApprovalPolicy.objects.get()
    assert policy.amount_cents == 100_000 and policy.steps.count() == 1
    remote = dots_policies()[policy.dots_id]
    assert remote.payable_conditions == [{"type": "amount", "comparator": ">=", "value": 100_000}]


def test_a_step_needing_more_approvals_than_it_lists_is_shown_on_that_step_and_what_was_typed_is_kept(
    admin_client, dots, approvers
):
    data = policy_form(
        description="Typed by hand", approvers=approvers, steps=[(1, ("casey",)), (3, ("alex", "blair"))]
    )
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Step 2 needs 3 approvals but lists only 2 approvers" in page
    assert 'value="Typed by hand"' in page
    assert ApprovalPolicy.objects.count() == 0
    assert dots.received("POST", POLICIES) == []


def test_a_policy_without_any_step_is_refused_in_the_admin(admin_client, dots, approvers):
    response = admin_client.post(reverse(ADD), policy_form(approvers=approvers, steps=()))
    assert response.status_code == 200
    assert "Add at least one approval step" in response.content.decode()
    assert ApprovalPolicy.objects.count() == 0


def test_changing_a_policy_in_the_admin_makes_a_new_version_and_goes_to_it(
    admin_client, dots, approvers, administrator
):
    old = policies.policy_create(
        actor=administrator,
        description="Large bills",
        priority=1,
        amount_comparator=">=",
        amount_cents=100_000,
        steps=[(2, [approvers["alex"].pk, approvers["blair"].pk])],
    )
    data = policy_form(
        approvers=approvers,
        amount="2,500.00",
        steps=[(1, ("alex", "blair"))],
        existing_steps=list(old.steps.all()),
        policy=old,
    )
    data["_continue"] = "1"
    response = admin_client.post(reverse("admin:payables_approvalpolicy_change", args=[old.pk]), data)
    new = ApprovalPolicy.objects.get(retired_at__isnull=True)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:payables_approvalpolicy_change", args=[new.pk])
    assert (new.version, new.amount_cents) == (2, 250_000)
    in_dots = dots_policies()
    assert new.dots_id in in_dots and old.dots_id not in in_dots


def test_a_retired_version_opens_read_only(admin_client, dots, approvers, administrator):
    old = policies.policy_create(
        actor=administrator, description="Large bills", priority=1, steps=[(1, [approvers["alex"].pk])]
    )
    policies.policy_delete(actor=administrator, policy_id=old.pk)
    url = reverse("admin:payables_approvalpolicy_change", args=[old.pk])
    assert admin_client.get(url).context["has_change_permission"] is False
    assert admin_client.post(url, {}).status_code == 403


def test_the_changelist_shows_current_policies_with_their_amount_condition_and_hides_retired_ones(
    admin_client, dots, approvers, administrator
):
    kept = policies.policy_create(
        actor=administrator,
        description="Kept",
        priority=1,
        amount_comparator=">=",
        amount_cents=100_000,
        steps=[(1, [approvers["alex"].pk])],
    )
    gone = policies.policy_create(
        actor=administrator, description="Gone", priority=2, steps=[(1, [approvers["alex"].pk])]
    )
    policies.policy_delete(actor=administrator, policy_id=gone.pk)
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "$1,000.00 or more" in page and kept.description in page and "Gone" not in page
    retired = admin_client.get(reverse(CHANGELIST) + "?versions=retired").content.decode()
    assert "Gone" in retired


def test_moving_a_policy_up_in_the_admin_changes_its_priority_in_dots(admin_client, dots, approvers, administrator):
    first = policies.policy_create(
        actor=administrator, description="First", priority=1, steps=[(1, [approvers["alex"].pk])]
    )
    second = policies.policy_create(
        actor=administrator, description="Second", priority=2, steps=[(1, [approvers["blair"].pk])]
    )
    response = admin_client.post(reverse(CHANGELIST), {"action": "move_up", "_selected_action": [second.pk]})
    assert response.status_code == 302
    assert messages_of(response) == ["1 moved."]
    remote = dots_policies()
    assert (remote[second.dots_id].priority, remote[first.dots_id].priority) == (1, 2)


def test_moving_the_first_policy_up_says_it_is_already_first(admin_client, dots, approvers, administrator):
    first = policies.policy_create(
        actor=administrator, description="First", priority=1, steps=[(1, [approvers["alex"].pk])]
    )
    response = admin_client.post(reverse(CHANGELIST), {"action": "move_up", "_selected_action": [first.pk]})
    assert "is already first" in messages_of(response)[0]


def test_deleting_a_policy_asks_for_confirmation_then_retires_it_and_deletes_it_in_dots(
    admin_client, dots, approvers, administrator
):
    policy = policies.policy_create(
        actor=administrator, description="Large bills", priority=1, steps=[(1, [approvers["alex"].pk])]
    )
    url = reverse("admin:payables_approvalpolicy_delete", args=[policy.pk])
    assert "deletes it in Dots" in admin_client.get(url).content.decode()
    response = admin_client.post(url, {"reason": "merged into another policy"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.retired_at is not None and policy.dots_id not in dots_policies()


def test_when_dots_is_down_the_admin_saves_the_policy_says_so_and_sending_again_creates_it(
    admin_client, dots, approvers
):
    dots.add_fault(method="POST", path=POLICIES, kind="status", status=503, count=1)
    response = admin_client.post(reverse(ADD), policy_form(approvers=approvers))
    assert response.status_code == 302
    assert any("Dots does not reflect it yet" in m and "could not be reached" in m for m in messages_of(response))
    policy = ApprovalPolicy.objects.get()
    assert policy.dots_id is None
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Not in Dots" in page

    response = admin_client.post(reverse(CHANGELIST), {"action": "send_to_dots", "_selected_action": [policy.pk]})
    policy.refresh_from_db()
    assert policy.dots_id in dots_policies()


def test_a_policy_with_two_vendors_added_in_the_admin_lists_both_and_is_in_dots_as_two_copies(
    admin_client, dots, approvers, administrator, forgive_vendor_value_quirk
):
    acme, globex = make_vendor(administrator), make_vendor(administrator, "Globex")
    response = admin_client.post(reverse(ADD), policy_form(approvers=approvers, vendors=(acme.pk, globex.pk)))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ApprovalPolicy.objects.count() == 1
    assert len(dots_policies()) == 2
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Acme Supplies, Globex" in page and "In Dots (2 copies, one per vendor)" in page


def test_the_page_of_a_policy_whose_second_copy_failed_names_that_vendor_and_offers_sending_again(
    admin_client, dots, approvers, administrator, forgive_vendor_value_quirk
):
    acme, globex = make_vendor(administrator), make_vendor(administrator, "Globex")
    dots.add_fault(method="POST", path=POLICIES, kind="latency", ms=0, count=1)
    dots.add_fault(method="POST", path=POLICIES, kind="status", status=503, count=1)
    admin_client.post(reverse(ADD), policy_form(approvers=approvers, vendors=(acme.pk, globex.pk)))
    policy = ApprovalPolicy.objects.get()
    page = admin_client.get(reverse("admin:payables_approvalpolicy_change", args=[policy.pk])).content.decode()
    assert "In Dots for 1 of 2 vendors; the copy for Globex failed" in page
    assert "Send to Dots again" in page

    admin_client.post(reverse("admin:payables_approvalpolicy_send_to_dots", args=[policy.pk]))
    assert len(dots_policies()) == 2


# --- approvers ----------------------------------------------------------------------------------------------------


def test_the_sync_button_brings_the_dots_dashboard_users_and_links_them_by_email(admin_client, dots, dashboard):
    payer = make_user("pat")
    payer.email = dashboard["payer"]["email"]
    payer.save(update_fields=["email"])
    page = admin_client.get(reverse("admin:payables_approver_changelist")).content.decode()
    assert "Sync approvers from Dots" in page
    response = admin_client.post(reverse("admin:payables_approver_sync"))
    assert response.status_code == 302
    # The six seeded, and the account's owner a fresh Dots account already has.
    assert messages_of(response)[0].startswith("Approvers synced from Dots: 7 new")
    assert Approver.objects.get(dots_user_id=dashboard["payer"]["id"]).user == payer
    listing = admin_client.get(reverse("admin:payables_approver_changelist")).content.decode()
    assert "pat" in listing and "not linked" in listing


def test_a_clerk_cannot_sync_approvers(client, dots, dashboard):
    login_verified(client, make_user("clerk", role=roles.AP_CLERK))
    assert client.post(reverse("admin:payables_approver_sync")).status_code == 403
    assert Approver.objects.count() == 0


def test_an_administrator_links_an_approver_to_a_user_by_choosing_them(admin_client, approvers):
    person = make_user("person")
    url = reverse("admin:payables_approver_change", args=[approvers["alex"].pk])
    response = admin_client.post(url, {"user": person.pk})
    assert response.status_code == 302
    assert Approver.objects.get(pk=approvers["alex"].pk).user == person


def test_choosing_a_user_linked_to_another_approver_is_refused_on_the_field(admin_client, approvers, administrator):
    person = make_user("person")
    approver_sync.approver_link(actor=administrator, approver_id=approvers["blair"].pk, user_id=person.pk)
    url = reverse("admin:payables_approver_change", args=[approvers["alex"].pk])
    before = Approver.objects.get(pk=approvers["alex"].pk).user
    response = admin_client.post(url, {"user": person.pk})
    assert response.status_code == 200
    assert "already linked to" in " ".join(response.context["adminform"].form.errors["user"])
    assert Approver.objects.get(pk=approvers["alex"].pk).user == before  # unchanged


@pytest.mark.django_db(transaction=True)
def test_the_admin_creates_the_policy_in_dots_outside_any_database_transaction(
    client, dots, openapi_checker, dashboard
):
    """The admin's add view normally runs in transaction.atomic; the Dots call must not."""
    administrator = make_user("policy-admin-tx", role=roles.ADMINISTRATOR)
    approver_sync.approvers_sync(actor=administrator)
    found = {a.first_name.lower(): a for a in Approver.objects.all()}
    for name in ("alex", "blair"):  # the form accepts only approvers linked to a user in the Approver role
        user = make_user(f"{name}-tx", role=roles.APPROVER)
        approver_sync.approver_link(actor=administrator, approver_id=found[name].pk, user_id=user.pk)
    seen = []

    def factory():
        session = checked_session(openapi_checker)
        session.hooks["response"].append(
            lambda response, **_: seen.append((response.request.method, connection.in_atomic_block))
        )
        return session

    dots_gateway.set_session_factory(factory)
    login_verified(client, administrator)
    response = client.post(reverse(ADD), policy_form(approvers=found))
    assert response.status_code == 302
    assert ("POST", False) in seen
    assert all(in_atomic is False for _, in_atomic in seen)


def test_a_policy_page_offers_send_to_dots_again_while_dots_is_behind_and_the_button_creates_it(
    admin_client, dots, approvers, administrator
):
    dots.add_fault(method="POST", path=POLICIES, kind="status", status=503, count=1)
    with pytest.raises(errors.PolicyNotInDots):
        policies.policy_create(
            actor=administrator, description="Large bills", priority=1, steps=[(1, [approvers["alex"].pk])]
        )
    policy = ApprovalPolicy.objects.get()
    change_url = reverse("admin:payables_approvalpolicy_change", args=[policy.pk])
    assert "Send to Dots again" in admin_client.get(change_url).content.decode()

    response = admin_client.post(reverse("admin:payables_approvalpolicy_send_to_dots", args=[policy.pk]))
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.dots_id in dots_policies()
    assert "Send to Dots again" not in admin_client.get(change_url).content.decode()


# --- who a step may name ---------------------------------------------------------------------------------------


def test_a_step_offers_only_dots_approvers_linked_to_a_user_in_the_approver_role(admin_client, approvers):
    clerk = make_user("a-clerk", role=roles.AP_CLERK)
    approver_sync.approver_link(
        actor=make_user("linker", role=roles.ADMINISTRATOR), approver_id=approvers["pat"].pk, user_id=clerk.pk
    )
    response = admin_client.get(reverse(ADD))
    formset = next(f for f in response.context["inline_admin_formsets"]).formset
    offered = {value for value, _ in formset.forms[0].fields["approvers"].choices}
    assert offered == {approvers[name].pk for name in ("alex", "blair", "casey")}


def test_a_step_naming_a_clerk_is_refused_on_the_approvers_field_and_nothing_reaches_dots(
    admin_client, dots, approvers, administrator
):
    clerk = make_user("a-clerk", role=roles.AP_CLERK, first_name="Casey", last_name="Clerk")
    approver_sync.approver_link(actor=administrator, approver_id=approvers["pat"].pk, user_id=clerk.pk)
    response = admin_client.post(reverse(ADD), policy_form(approvers=approvers, steps=[(1, ("alex", "pat"))]))
    assert response.status_code == 200
    formset = next(f for f in response.context["inline_admin_formsets"]).formset
    assert formset.forms[0].errors["approvers"] == [
        "Step 1: Casey Clerk cannot approve here. Choose Dots approvers linked to a user in the Approver role "
        "(Payables → Approvers links them; Users gives the role)."
    ]
    assert ApprovalPolicy.objects.count() == 0
    assert dots.received("POST", POLICIES) == []


def test_a_step_naming_an_unlinked_dots_user_is_refused(admin_client, dots, approvers):
    response = admin_client.post(reverse(ADD), policy_form(approvers=approvers, steps=[(1, ("pat",))]))
    formset = next(f for f in response.context["inline_admin_formsets"]).formset
    assert "not linked" in formset.forms[0].errors["approvers"][0]
    assert "cannot approve here" in formset.forms[0].errors["approvers"][0]
    assert ApprovalPolicy.objects.count() == 0


def test_the_policy_page_finds_vendors_by_typing_and_lists_only_the_chosen(
    admin_client, administrator, approvers, forgive_vendor_value_quirk
):
    acme = make_vendor(administrator)
    globex = make_vendor(administrator, name="Globex Corporation")
    html = admin_client.get(reverse(ADD)).content.decode()
    assert acme.name not in html and globex.name not in html, "no menu of every vendor"
    query = {"app_label": "payables", "model_name": "approvalpolicy", "field_name": "vendors", "term": "glob"}
    found = admin_client.get(reverse("admin:autocomplete"), query).json()["results"]
    assert found == [{"id": str(globex.pk), "text": globex.name}]
    response = admin_client.post(reverse(ADD), policy_form(vendors=[globex.pk], approvers=approvers), follow=True)
    policy = ApprovalPolicy.objects.get(description="Large bills")
    assert list(policy.vendors.all()) == [globex]
    change = admin_client.get(reverse("admin:payables_approvalpolicy_change", args=[policy.pk])).content.decode()
    assert response.status_code == 200 and acme.name not in change
