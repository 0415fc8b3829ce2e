"""Vendors pages for an accountant: names in words, sorted choices, ids under "Details for support"
and no help text on the bank account's page, where nothing can be changed (issue #15 item 16)."""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from core import roles
from tests.support import login_verified, make_user
from tests.vendors.helpers import create_bank_account, create_vendor
from vendors.forms import BankAccountAddForm
from vendors.models import Vendor


def test_the_vendors_app_and_every_model_have_names_a_person_would_use():
    config = apps.get_app_config("vendors")
    assert config.verbose_name == "Vendors"
    names = {model.__name__: str(model._meta.verbose_name_plural) for model in config.get_models()}
    assert names == {"Vendor": "vendors", "VendorBankAccount": "bank accounts"}
    for model in config.get_models():
        for field in model._meta.fields:
            assert not re.search(r"\bdots\b|_|^Dots$", str(field.verbose_name)), (model, field.name)


def test_every_vendors_choice_list_is_sorted():
    states = [value for value, _ in Vendor._meta.get_field("state").choices]
    assert states == sorted(states)
    types = [label for _, label in BankAccountAddForm(admin_site=admin.site).fields["account_type"].choices]
    assert types == sorted(types)


@pytest.mark.django_db
def test_vendor_and_bank_account_pages_say_last_error_from_dots_and_fold_the_dots_id_away(dots, client):
    clerk = make_user("clerk", role=roles.AP_CLERK)
    vendor = create_vendor(clerk)
    account = create_bank_account(clerk, vendor)
    login_verified(client, clerk)

    vendor_page = client.get(reverse("admin:vendors_vendor_change", args=[vendor.pk])).content.decode()
    account_page = client.get(reverse("admin:vendors_vendorbankaccount_change", args=[account.pk])).content.decode()

    assert "Last error from Dots" in vendor_page and "Last Dots error" not in vendor_page
    for page, dots_id in ((vendor_page, vendor.dots_id), (account_page, account.dots_id)):
        before, support = page.split("Details for support</h2>")
        assert dots_id not in before and dots_id in support
    assert 'class="help' not in account_page  # a page to read: no form help
    assert 'name="_save"' not in account_page
