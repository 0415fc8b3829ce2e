"""Payouts pages for an accountant: names in words, sorted choices, dollars, no help text or save
buttons on pages where nothing can be changed, plain messages (issue #15 items 10, 11 and 16)."""

import re

import pytest
from django.apps import apps

from payouts import forms
from payouts.models import Payee, PayoutLink, PayoutRequest, Transfer
from payouts.services import payees
from tests.support import login_verified

from .conftest import phone

pytestmark = pytest.mark.django_db


def test_the_payouts_app_and_every_model_have_names_a_person_would_use():
    config = apps.get_app_config("payouts")
    assert config.verbose_name == "Payouts"
    for model in config.get_models():
        assert "verbose_name" in model._meta.original_attrs, model
        assert "verbose_name_plural" in model._meta.original_attrs or "verbose_name" in model._meta.original_attrs


@pytest.mark.parametrize("model", list(apps.get_app_config("payouts").get_models()), ids=lambda m: m.__name__)
def test_no_payouts_field_label_is_a_code(model):
    for field in model._meta.fields:
        label = str(field.verbose_name)
        assert "cents" not in label and "e164" not in label, (model, field.name, label)
        assert not re.search(r"\bdots\b", label), (model, field.name, label)  # "Dots", the company


@pytest.mark.parametrize("model", [PayoutLink, PayoutRequest])
def test_no_status_reads_like_a_code(model):
    for value, label in model.Status.choices:
        assert "(local)" not in label and "_" not in label, (value, label)


def test_the_payee_choice_on_payout_links_and_requests_is_sorted_by_name(operator):
    for first, last in (("Zoe", "Adams"), ("Aaron", "Young"), ("Mary", "Brown")):
        Payee.objects.create(
            first_name=first,
            last_name=last,
            email=f"{first}@example.com",
            phone_e164=f"+1201555{len(first)}{len(last)}00",
        )
    for form in (forms.PayoutLinkForm(), forms.PayoutRequestForm()):
        names = [label.split(" (")[0] for value, label in form.fields["payee"].choices if value]
        assert names == ["Aaron Young", "Mary Brown", "Zoe Adams"]
    delivery = [label for _, label in forms.PayoutLinkForm().fields["delivery_method"].choices]
    assert delivery == sorted(delivery)


def test_after_creating_a_payout_link_the_message_says_in_words_what_happens_next(
    dots, operator, client, django_capture_on_commit_callbacks
):
    payee = payees.payee_create(
        first_name="Jane", last_name="Doe", email="j@example.com", phone=phone(), actor=operator
    )
    login_verified(client, operator)

    with django_capture_on_commit_callbacks(execute=False):  # the worker has not sent it yet
        response = client.post(
            "/admin/payouts/payoutlink/add/",
            {"payee": payee.pk, "amount": "25.00", "delivery_method": "link"},
            follow=True,
        )

    text = [str(m) for m in response.context["messages"]]
    assert text == ["Payout link for $25.00 to Jane Doe saved; it will be sent to Dots in a moment."]
    page = response.content.decode()
    assert "Waiting to be sent to Dots" in page and "Not yet sent" not in page


def test_after_creating_a_payout_request_to_a_phone_the_message_names_the_amount_and_the_phone(
    dots, operator, client, django_capture_on_commit_callbacks
):
    number = phone()
    login_verified(client, operator)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/admin/payouts/payoutrequest/add/", {"phone": number, "country": "US", "amount": "20.00"}, follow=True
        )

    (message,) = [str(m) for m in response.context["messages"]]
    assert message == f"Payout request for $20.00 to +1{number} saved; it will be sent to Dots in a moment."


def _pages(operator):
    payee = payees.payee_create(
        first_name="Jane", last_name="Doe", email="j@example.com", phone=phone(), actor=operator
    )
    link = PayoutLink.objects.create(
        payee=payee,
        amount_cents=2500,
        created_by=operator,
        timeline=[{"status": "created", "seen_at": "2026-03-02T14:02:03.123456+00:00"}],
    )
    request = PayoutRequest.objects.create(amount_cents=2500, created_by=operator, phone_e164="+12015550100")
    transfer = Transfer.objects.create(dots_id="tr-9", type="payout", status="completed", amount_cents=2500)
    return {
        "payout link": f"/admin/payouts/payoutlink/{link.pk}/change/",
        "payout request": f"/admin/payouts/payoutrequest/{request.pk}/change/",
        "transfer": f"/admin/payouts/transfer/{transfer.pk}/change/",
        "payee": f"/admin/payouts/payee/{payee.pk}/change/",
    }


def test_pages_to_read_show_dollars_words_and_no_save_button_or_help_text(dots, operator, client):
    login_verified(client, operator)
    for name, url in _pages(operator).items():
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200, name
        assert "$25.00" in page or name == "payee", name
        assert "2500" not in page.split("Details for support")[0], name
        assert 'name="_save"' not in page and 'name="_continue"' not in page, name
        assert 'class="help' not in page, name
        assert "Amount cents" not in page and "Phone e164" not in page and "Last Dots error" not in page, name
        assert "Details for support</h2>" in page and "<details>" in page, name


def test_a_payout_links_times_are_in_the_local_format_without_microseconds(dots, operator, client, settings):
    settings.TIME_ZONE = "America/Chicago"
    login_verified(client, operator)
    page = client.get(_pages(operator)["payout link"]).content.decode()
    main = page.split("Details for support")[0]
    assert "March 2, 2026, 8:02 a.m.: Created in Dots" in main
    assert ".123456" not in main and "2026-03-02T" not in main
