"""The vendors admin pages, as clerks, approvers and payers use them (Dots is the emulator)."""

import pytest
from django.urls import reverse

from core import roles
from core.models import AuditEvent
from tests.support import login_verified, make_user
from tests.vendors.helpers import (
    ACCOUNT_NUMBER,
    BAD_CHECKSUM_ROUTING,
    GOOD_ROUTING,
    create_bank_account,
    create_vendor,
    local_bank_account,
    local_vendor,
    vendor_fields,
)
from vendors import services
from vendors.models import Vendor, VendorBankAccount

pytestmark = pytest.mark.django_db

VENDORS_PATH = "/v2/accounts-payable/vendors"
METHODS_PATH = "/v2/accounts-payable/vendors/*/payment-methods"


@pytest.fixture
def clerk(db):
    return make_user("clerk", role=roles.AP_CLERK)


@pytest.fixture
def clerk_client(client, clerk):
    login_verified(client, clerk)
    return client


def add_vendor_form(**overrides):
    data = {**vendor_fields(), "active": "on"}
    data.update(overrides)
    return data


def bank_form(vendor, **overrides):
    data = {
        "vendor": vendor.pk,
        "name": "Operating account",
        "routing_number": GOOD_ROUTING,
        "account_number": ACCOUNT_NUMBER,
        "account_type": "checking",
    }
    data.update(overrides)
    return data


def test_adding_a_vendor_in_the_admin_creates_it_in_dots(dots, clerk_client, clerk):
    response = clerk_client.post(reverse("admin:vendors_vendor_add"), add_vendor_form(), follow=True)

    assert response.status_code == 200
    vendor = Vendor.objects.get()
    assert vendor.dots_id and vendor.created_by == clerk
    assert [v.id for v in services.client().iter_vendors()] == [vendor.dots_id]
    assert AuditEvent.objects.filter(action="vendor.created", actor=clerk).count() == 1


def test_adding_a_vendor_while_dots_is_down_says_so_and_send_again_creates_it(dots, clerk_client):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="status", status=503, count=1)

    response = clerk_client.post(reverse("admin:vendors_vendor_add"), add_vendor_form(), follow=True)

    vendor = Vendor.objects.get()
    assert "is not in Dots yet" in response.content.decode()
    assert "Send to Dots again" in response.content.decode()
    clerk_client.post(reverse("admin:vendors_vendor_send_to_dots", args=[vendor.pk]))
    vendor.refresh_from_db()
    assert vendor.dots_id and len(list(services.client().iter_vendors())) == 1


def test_vendor_page_says_dots_has_no_vendor_update_and_locks_dots_fields(dots, clerk_client, clerk):
    vendor = create_vendor(clerk)

    page = clerk_client.get(reverse("admin:vendors_vendor_change", args=[vendor.pk])).content.decode()

    assert "Dots has no vendor update" in page
    assert 'name="name"' not in page and 'name="description"' in page


def test_vendor_search_matches_name_prefix_and_exact_external_id_only(dots, clerk_client):
    local_vendor(name="Acme Paper", external_id="V-1")
    local_vendor(name="Paper Acme", external_id="V-2")
    url = reverse("admin:vendors_vendor_changelist")

    by_prefix = clerk_client.get(url, {"q": "acme"}).context["cl"].result_list
    by_id = clerk_client.get(url, {"q": "V-2"}).context["cl"].result_list

    assert [v.name for v in by_prefix] == ["Acme Paper"]
    assert [v.name for v in by_id] == ["Paper Acme"]


def test_add_bank_account_with_a_bad_routing_number_shows_the_field_error_and_keeps_what_was_typed_but_the_number(
    dots, clerk_client, clerk
):
    vendor = create_vendor(clerk)

    response = clerk_client.post(
        reverse("admin:vendors_vendorbankaccount_add"), bank_form(vendor, routing_number=BAD_CHECKSUM_ROUTING)
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["routing_number"]
    page = response.content.decode()
    assert "check digit" in page
    assert f'value="{BAD_CHECKSUM_ROUTING}"' in page and 'value="Operating account"' in page
    # The full account number is never sent back to the browser: the page asks for it again.
    assert ACCOUNT_NUMBER not in page
    assert "For your security, type the account number again." in page
    assert dots.received("POST", METHODS_PATH) == []
    assert not VendorBankAccount.objects.exists()


def test_add_bank_account_refused_by_dots_shows_why_and_keeps_what_was_typed(dots, clerk_client, clerk):
    vendor = create_vendor(clerk)
    services.client().delete_vendor(vendor_id=vendor.dots_id)

    response = clerk_client.post(reverse("admin:vendors_vendorbankaccount_add"), bank_form(vendor))

    page = response.content.decode()
    assert "Dots refused to add the bank account" in page and "vendor not found" in page
    assert 'value="Operating account"' in page
    assert ACCOUNT_NUMBER not in page
    assert "For your security, type the account number again." in page
    assert not VendorBankAccount.objects.exists()


def test_add_bank_account_shows_it_masked_and_unverified_on_the_vendor_page(dots, clerk_client, clerk):
    vendor = create_vendor(clerk)

    response = clerk_client.post(reverse("admin:vendors_vendorbankaccount_add"), bank_form(vendor), follow=True)

    page = response.content.decode()
    assert "••••" + ACCOUNT_NUMBER[-4:] in page
    assert "Waiting for verification" in page
    assert ACCOUNT_NUMBER not in page
    assert VendorBankAccount.objects.get().account_last4 == ACCOUNT_NUMBER[-4:]


@pytest.mark.parametrize("bad", [{"name": ""}, {"account_type": "brokerage"}, {"routing_number": "12"}])
def test_add_bank_account_never_sends_the_full_number_back_after_an_error_on_another_field(
    dots, clerk_client, clerk, bad
):
    vendor = create_vendor(clerk)

    response = clerk_client.post(reverse("admin:vendors_vendorbankaccount_add"), bank_form(vendor, **bad))

    assert response.status_code == 200 and response.context["form"].errors
    page = response.content.decode()
    assert ACCOUNT_NUMBER not in page
    assert 'name="account_number"' in page and "For your security, type the account number again." in page


def test_add_bank_account_page_asks_for_no_retyping_before_anything_was_typed(dots, clerk_client, clerk):
    page = clerk_client.get(reverse("admin:vendors_vendorbankaccount_add")).content.decode()

    assert "type the account number again" not in page


def test_verify_page_refuses_the_creator_with_a_clear_message(dots, clerk_client, clerk):
    account = create_bank_account(clerk, create_vendor(clerk))
    url = reverse("admin:vendors_vendorbankaccount_verify", args=[account.pk])

    shown = clerk_client.get(url).content.decode()
    posted = clerk_client.post(url, {"how_confirmed": "trust me"}).content.decode()

    assert "a second person must" in shown
    assert "second person must verify it" in posted
    account.refresh_from_db()
    assert not account.is_verified


def test_verify_page_by_a_second_person_records_how_it_was_confirmed(dots, client, clerk):
    account = create_bank_account(clerk, create_vendor(clerk))
    approver = make_user("approver", role=roles.APPROVER)
    login_verified(client, approver)
    url = reverse("admin:vendors_vendorbankaccount_verify", args=[account.pk])

    empty = client.post(url, {"how_confirmed": ""})
    response = client.post(url, {"how_confirmed": "called the vendor on the number we already had"}, follow=True)

    assert "how_confirmed" in empty.context["form"].errors
    account.refresh_from_db()
    assert account.verified_by == approver
    assert account.verification_note == "called the vendor on the number we already had"
    assert "is verified" in response.content.decode()


def test_a_payer_sees_accounts_waiting_for_verification(dots, client, clerk):
    vendor = local_vendor(dots_id="v-1")
    local_bank_account(vendor, clerk, name="Waiting account", dots_id="pm-1")
    local_bank_account(
        vendor,
        clerk,
        name="Checked account",
        account_last4="2222",
        dots_id="pm-2",
        verified_by=make_user("approver", role=roles.APPROVER),
        verified_at="2026-11-01T10:00Z",
        verification_note="called",
    )
    login_verified(client, make_user("payer", role=roles.PAYER))

    response = client.get(reverse("admin:vendors_vendorbankaccount_changelist"), {"verification": "waiting"})

    assert response.status_code == 200
    assert [a.name for a in response.context["cl"].result_list] == ["Waiting account"]
    page = response.content.decode()
    assert "Waiting for verification" in page and 'class="ll-badge ll-badge-unverified">Unverified' in page
    vendor_list = client.get(reverse("admin:vendors_vendor_changelist")).content.decode()
    assert "1 unverified" in vendor_list


def test_pages_with_bank_details_are_not_cached(dots, clerk_client, clerk):
    account = create_bank_account(clerk, create_vendor(clerk))

    for url in (
        reverse("admin:vendors_vendorbankaccount_add"),
        reverse("admin:vendors_vendorbankaccount_change", args=[account.pk]),
        reverse("admin:vendors_vendorbankaccount_changelist"),
        reverse("admin:vendors_vendorbankaccount_verify", args=[account.pk]),
        reverse("admin:vendors_vendor_change", args=[account.vendor_id]),
    ):
        response = clerk_client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_deleting_a_bank_account_in_the_admin_deletes_it_in_dots_and_audits_it(dots, clerk_client, clerk):
    vendor = create_vendor(clerk)
    account = create_bank_account(clerk, vendor)
    url = reverse("admin:vendors_vendorbankaccount_delete", args=[account.pk])

    confirm = clerk_client.get(url).content.decode()
    clerk_client.post(url, {"reason": "closed by the vendor"})

    assert "will be deleted in Dots and here" in confirm
    assert not VendorBankAccount.objects.exists()
    assert services.client().list_vendor_payment_methods(vendor_id=vendor.dots_id) == []
    event = AuditEvent.objects.get(action="vendor_bank_account.deleted")
    assert (event.actor, event.reason) == (clerk, "closed by the vendor")


def test_deleting_a_vendor_in_the_admin_deletes_it_in_dots(dots, clerk_client, clerk):
    vendor = create_vendor(clerk)

    clerk_client.post(reverse("admin:vendors_vendor_delete", args=[vendor.pk]), {"reason": ""})

    assert not Vendor.objects.exists()
    assert list(services.client().iter_vendors()) == []


def test_an_approver_finds_the_verify_link_on_an_unverified_account(dots, client, clerk):
    account = create_bank_account(clerk, create_vendor(clerk))
    login_verified(client, make_user("approver", role=roles.APPROVER))

    page = client.get(reverse("admin:vendors_vendorbankaccount_change", args=[account.pk])).content.decode()

    assert reverse("admin:vendors_vendorbankaccount_verify", args=[account.pk]) in page
    assert "Waiting for verification" in page


def test_a_payer_may_not_open_the_verify_page(dots, client, clerk):
    account = create_bank_account(clerk, create_vendor(clerk))
    login_verified(client, make_user("payer", role=roles.PAYER))

    response = client.get(reverse("admin:vendors_vendorbankaccount_verify", args=[account.pk]))

    assert response.status_code == 403


def test_send_to_dots_again_on_the_list_reports_each_vendor(dots, clerk_client, clerk):
    dots.add_fault(method="POST", path=VENDORS_PATH, kind="status", status=503, count=2)
    waiting = [
        create_vendor(clerk, name="Beta Inc", external_id="V-2"),
        create_vendor(clerk, name="Gamma LLC", external_id="V-3"),
    ]
    done = create_vendor(clerk)

    response = clerk_client.post(
        reverse("admin:vendors_vendor_changelist"),
        {"action": "send_to_dots", "_selected_action": [v.pk for v in [*waiting, done]]},
        follow=True,
    )

    texts = [str(m) for m in response.context["messages"]]
    assert "2 sent to Dots." in texts
    assert any(t.startswith("1 skipped: Acme Paper Supply: Acme Paper Supply is already in Dots") for t in texts)
    assert Vendor.objects.filter(dots_id__isnull=False).count() == 3


def test_changing_a_vendor_in_the_admin_saves_local_fields_and_audits_them(dots, clerk_client, clerk):
    vendor = create_vendor(clerk)
    create_bank_account(clerk, vendor)
    url = reverse("admin:vendors_vendor_change", args=[vendor.pk])
    form = clerk_client.get(url).context["adminform"].form
    data = {
        "description": "Paper and toner",
        "active": "on",
        "bank_accounts-TOTAL_FORMS": "1",
        "bank_accounts-INITIAL_FORMS": "1",
        "bank_accounts-MIN_NUM_FORMS": "0",
        "bank_accounts-MAX_NUM_FORMS": "0",
    }
    assert sorted(form.fields) == ["active", "description"]

    response = clerk_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    vendor.refresh_from_db()
    assert vendor.description == "Paper and toner" and vendor.name == "Acme Paper Supply"
    event = AuditEvent.objects.get(action="vendor.updated")
    assert event.changes == {"description": {"before": "Office paper", "after": "Paper and toner"}}


AUTOCOMPLETE = "admin:autocomplete"


def vendor_menu(client, model_name: str, term: str, app_label: str = "vendors") -> list[str]:
    """The names a form's vendor menu offers for what was typed (the admin's autocomplete)."""
    query = {"app_label": app_label, "model_name": model_name, "field_name": "vendor", "term": term}
    response = client.get(reverse(AUTOCOMPLETE), query)
    assert response.status_code == 200
    return [result["text"] for result in response.json()["results"]]


def test_vendor_menus_offer_only_the_vendors_their_form_accepts(dots, clerk_client, clerk):
    """An inactive vendor, or one not in Dots, is not offered for a new bank account or a new bill (the
    form would refuse it after it was picked); the page lists no vendor before anything is typed."""
    active = create_vendor(clerk, name="Northwind Traders")
    inactive = create_vendor(clerk, name="Northwind Archive")
    Vendor.objects.filter(pk=inactive.pk).update(active=False)
    local_vendor(name="Northwind Local")  # not in Dots
    page = clerk_client.get(reverse("admin:vendors_vendorbankaccount_add")).content.decode()
    assert "Northwind" not in page and 'class="admin-autocomplete' in page
    assert vendor_menu(clerk_client, "vendorbankaccount", "north") == [active.name]
    assert vendor_menu(clerk_client, "payable", "north", app_label="payables") == [active.name]
    # The vendor list's own search is not narrowed: every vendor is found there.
    listed = clerk_client.get(reverse("admin:vendors_vendor_changelist"), {"q": "north"}).content.decode()
    assert all(name in listed for name in ("Northwind Traders", "Northwind Archive", "Northwind Local"))


def test_the_add_page_opened_from_a_vendor_shows_that_vendor_chosen(dots, clerk_client, clerk):
    vendor = create_vendor(clerk, name="Northwind Traders")
    page = clerk_client.get(reverse("admin:vendors_vendorbankaccount_add"), {"vendor": vendor.pk}).content.decode()
    assert f'<option value="{vendor.pk}" selected>Northwind Traders</option>' in page


@pytest.mark.parametrize("role", roles.ALL_ROLES)
@pytest.mark.parametrize(
    "source",
    [
        ("payables", "payable", "vendor"),
        ("vendors", "vendorbankaccount", "vendor"),
        ("payables", "approvalpolicy", "vendors"),
    ],
)
def test_each_vendor_menu_answers_only_who_may_see_vendors(dots, client, clerk, role, source):
    """Every role against every vendor menu: names come back only to those who may view vendors."""
    create_vendor(clerk, name="Northwind Traders")
    user = make_user(f"menu-{role.lower().replace(' ', '-')}", role=role)
    login_verified(client, user)
    app_label, model_name, field_name = source
    query = {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": "north"}
    response = client.get(reverse(AUTOCOMPLETE), query)
    if user.has_perm("vendors.view_vendor"):
        assert response.status_code == 200 and [r["text"] for r in response.json()["results"]] == ["Northwind Traders"]
    else:
        assert response.status_code == 403 and b"Northwind" not in response.content
