"""What a payable's pages show a person: money as money on read-only pages, the bank accounts a bill may
name, the status while a payment is under way, and the way to an authenticator before paying."""

import re

import pytest
from django.urls import reverse

from core import roles
from payables import services
from payables.models import Payable
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db
S = Payable.Status


def _page(client, payable):
    return client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()


def _visible_text(html: str) -> str:
    """The page's text a person reads (no tags, attributes, scripts or hidden inputs)."""
    html = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- money on read-only pages -------------------------------------------------------------------------------


def test_a_submitted_payables_line_items_show_their_prices_as_money(client, people, make_payable):
    payable = make_payable(items=[("Widgets", 2_500, 3)])
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    login_verified(client, people.approver)
    text = _visible_text(_page(client, payable))
    assert "$25.00" in text and "$75.00" in text
    assert not re.search(r"\b2500\b", text), text


def test_a_submitted_payable_with_an_amount_shows_it_as_money(client, people, make_payable):
    payable = make_payable(amount_cents=6_600)
    services.payable_submit(payable_id=payable.pk, actor=people.clerk)
    login_verified(client, people.clerk)
    text = _visible_text(_page(client, payable))
    assert re.search(r"Amount:?\s+\$66\.00", text), text
    assert not re.search(r"\b6600\b", text), text


# --- the bank account a payable names ------------------------------------------------------------------------


@pytest.fixture
def two_vendors(people, vendor_account):
    """Acme (its verified account, and a new unverified one) and Globex with an account of its own."""
    from vendors import bank_accounts
    from vendors import services as vendor_services

    acme, verified = vendor_account
    unverified = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=acme.pk,
        name="Acme payroll",
        routing_number="011000015",
        account_number="55554444",
        account_type="checking",
    )
    globex = vendor_services.vendor_create(
        actor=people.clerk,
        name="Globex Corporation",
        address_line_1="100 Industrial Way",
        city="Cypress Creek",
        state="OR",
        postcode="97401",
        contact_email="ap@globex.example",
    )
    theirs = bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=globex.pk,
        name="Globex operating",
        routing_number="021000021",
        account_number="000987654321",
        account_type="checking",
    )
    return acme, verified, unverified, globex, theirs


def _choices(response):
    field = response.context["adminform"].form.fields["bank_account"]
    return [(str(value), str(label)) for value, label in field.choices if value != ""]


def test_a_drafts_bank_account_choice_offers_only_its_vendors_accounts_said_verified_or_not(
    client, people, make_payable, two_vendors
):
    acme, verified, unverified, _globex, _theirs = two_vendors
    payable = make_payable()
    login_verified(client, people.clerk)
    response = client.get(reverse("admin:payables_payable_change", args=[payable.pk]))
    assert _choices(response) == [
        (str(verified.pk), "Acme operating ••••6789 (verified)"),
        (str(unverified.pk), "Acme payroll ••••4444 (unverified: cannot be paid until a second person verifies it)"),
    ]


@pytest.mark.parametrize("page", ["admin:payables_payable_add", "admin:payables_payable_from_file"])
def test_before_a_vendor_is_chosen_the_page_lists_no_vendor_and_no_account(client, people, two_vendors, page):
    """A company has thousands of vendors and accounts: the page lists none of them (the vendor is found
    by typing, the accounts follow it), so it stays light and usable."""
    acme, _verified, _unverified, globex, _theirs = two_vendors
    login_verified(client, people.clerk)
    response = client.get(reverse(page))
    html = response.content.decode()
    assert response.status_code == 200
    assert acme.name not in html and globex.name not in html
    assert "••••" not in html, "no bank account is offered before the vendor"
    assert "Choose the vendor first" in html
    assert "Type the start of the vendor" in html
    assert 'class="admin-autocomplete' in html


def test_the_vendor_is_found_by_the_start_of_its_name(client, people, two_vendors):
    acme, _verified, _unverified, globex, _theirs = two_vendors
    login_verified(client, people.clerk)
    query = {"app_label": "payables", "model_name": "payable", "field_name": "vendor"}
    found = client.get(reverse("admin:autocomplete"), {**query, "term": "glo"}).json()
    assert [result["text"] for result in found["results"]] == [globex.name]
    assert found["results"][0]["id"] == str(globex.pk)
    assert client.get(reverse("admin:autocomplete"), {**query, "term": "supplies"}).json()["results"] == [], (
        "the start of the name, not any part of it (the index serves it)"
    )
    # The accounts then offered are that vendor's only, said verified or not.
    accounts = client.get(reverse("admin:payables_payable_bank_accounts"), {"vendor": globex.pk}).json()
    assert [a["label"] for a in accounts["accounts"]] == [
        "Globex operating ••••4321 (unverified: cannot be paid until a second person verifies it)"
    ]
    assert client.get(reverse("admin:payables_payable_bank_accounts")).json()["accounts"] == []


def test_who_may_not_see_vendors_gets_no_vendor_from_the_autocomplete(client, people, two_vendors):
    operator = make_user("operator-no-vendors", role=roles.PAYOUTS_OPERATOR)
    login_verified(client, operator)
    query = {"app_label": "payables", "model_name": "payable", "field_name": "vendor", "term": "a"}
    assert client.get(reverse("admin:autocomplete"), query).status_code == 403


def test_an_account_of_another_vendor_is_refused_on_the_field_naming_both_vendors(
    client, people, make_payable, two_vendors
):
    acme, _verified, _unverified, globex, theirs = two_vendors
    payable = make_payable()
    login_verified(client, people.clerk)
    data = {
        "vendor": acme.pk,
        "bank_account": theirs.pk,
        "bill_number": payable.bill_number,
        "funding_source": "dots_balance",
        "items-TOTAL_FORMS": "0",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    response = client.post(reverse("admin:payables_payable_change", args=[payable.pk]), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["bank_account"]
    assert errors == ["“Globex operating ••••4321” belongs to Globex Corporation, not to Acme Supplies."]
    payable.refresh_from_db()
    assert payable.bank_account.vendor_id == acme.pk


def test_the_forms_script_gets_the_chosen_vendors_accounts(client, people, two_vendors):
    _acme, _verified, _unverified, globex, theirs = two_vendors
    login_verified(client, people.clerk)
    answer = client.get(reverse("admin:payables_payable_bank_accounts"), {"vendor": globex.pk}).json()
    assert answer["accounts"] == [
        {
            "id": theirs.pk,
            "label": "Globex operating ••••4321 (unverified: cannot be paid until a second person verifies it)",
        }
    ]


def test_only_who_may_enter_payables_gets_the_account_list(client, people, two_vendors):
    login_verified(client, people.approver)
    assert client.get(reverse("admin:payables_payable_bank_accounts")).status_code == 403


# --- paying without an authenticator (the demo payer) ------------------------------------------------------------


@pytest.fixture
def demo_payer_client(client, people, settings):
    """The payer signed in as a demo login does while DEBUG is on: password only, no authenticator."""
    from core.models import DemoAccount

    settings.DEBUG = True
    DemoAccount.objects.create(user=people.payer)
    client.force_login(people.payer)
    return client


def test_the_pay_page_of_a_payer_without_an_authenticator_links_to_the_set_up_and_offers_no_pay(
    demo_payer_client, approved_payable
):
    pay_url = reverse("admin:payables_payable_act", args=[approved_payable.pk, "pay"])
    response = demo_payer_client.get(pay_url)
    page = response.content.decode()
    assert "you have not set one up yet" in page
    setup = f"{reverse('admin:two_factor_setup')}?next={pay_url.replace('/', '%2F')}"
    assert f'href="{setup}"' in page
    assert 'value="Pay"' not in page and "otp_token" not in page
    demo_payer_client.post(pay_url, {"confirm": "1"})
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.APPROVED


def test_after_setting_up_an_authenticator_the_payer_goes_back_to_pay_without_a_second_code(
    demo_payer_client, people, approved_payable
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.support import current_code

    pay_url = reverse("admin:payables_payable_act", args=[approved_payable.pk, "pay"])
    setup_url = f"{reverse('admin:two_factor_setup')}?next={pay_url}"
    assert "Once it is set up you go back to the payment" in demo_payer_client.get(setup_url).content.decode()
    device = TOTPDevice.objects.get(user=people.payer, confirmed=False)
    response = demo_payer_client.post(setup_url, {"otp_token": current_code(device)})
    assert response["Location"] == pay_url
    page = demo_payer_client.get(pay_url).content.decode()
    assert 'value="Pay"' in page and "otp_token" not in page
    demo_payer_client.post(pay_url, {"confirm": "1"})
    approved_payable.refresh_from_db()
    assert approved_payable.status == S.PAYMENT_INITIATED


def test_the_set_up_page_never_sends_the_user_to_another_site(demo_payer_client, people):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.support import current_code

    url = f"{reverse('admin:two_factor_setup')}?next=https://evil.example/"
    demo_payer_client.get(url)
    device = TOTPDevice.objects.get(user=people.payer, confirmed=False)
    assert demo_payer_client.post(url, {"otp_token": current_code(device)})["Location"] == reverse("admin:index")


def test_readme_and_demo_data_say_the_demo_payer_sets_up_an_authenticator_at_the_first_payment(settings):
    from io import StringIO
    from pathlib import Path

    from django.core.management import call_command

    settings.DEBUG = True
    out = StringIO()
    call_command("load_demo_data", stdout=out)
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    assert "the demo payer sets up an authenticator the first time they pay" in readme
    assert "the demo payer sets up an authenticator the first time they pay" in " ".join(out.getvalue().split())
    assert "skip two-factor" not in out.getvalue()


# --- the status while a payment is under way -------------------------------------------------------------------


def test_a_payable_with_a_payment_under_way_says_its_page_follows_it_and_loads_the_static_script(
    client, people, approved_payable
):
    Payable.objects.filter(pk=approved_payable.pk).update(status=S.PAYMENT_INITIATED)
    login_verified(client, people.clerk)
    page = _page(client, approved_payable)
    assert 'data-in-flight="true"' in page
    assert "this page follows it and refreshes when it settles" in page
    assert "payables/payable_status.js" in page
    assert "<script>" not in page  # no inline script (CSP)


def test_a_settled_payable_is_not_followed(client, people, approved_payable):
    login_verified(client, people.clerk)
    page = _page(client, approved_payable)
    assert 'data-in-flight="false"' in page
    assert "refreshes when it settles" not in page


def test_the_status_answer_says_the_status_in_words_and_whether_a_payment_is_under_way(
    client, people, approved_payable
):
    url = reverse("admin:payables_payable_status", args=[approved_payable.pk])
    login_verified(client, people.clerk)
    Payable.objects.filter(pk=approved_payable.pk).update(status=S.PAYMENT_INITIATED)
    assert client.get(url).json() == {
        "status": "payment_initiated",
        "status_display": "Payment in progress",
        "in_flight": True,
        "next": "Dots: complete the payment",
    }
    Payable.objects.filter(pk=approved_payable.pk).update(status=S.PAYMENT_COMPLETED)
    answer = client.get(url).json()
    assert answer["status_display"] == "Paid" and answer["in_flight"] is False


def test_the_status_answer_is_refused_to_who_may_not_see_payables(client, approved_payable):
    from core import roles
    from tests.support import make_user

    login_verified(client, make_user("operator", role=roles.PAYOUTS_OPERATOR))
    url = reverse("admin:payables_payable_status", args=[approved_payable.pk])
    response = client.get(url)
    assert response.status_code == 403
    assert approved_payable.bill_number not in response.content.decode()
