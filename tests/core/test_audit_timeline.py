"""Issue #15 item 1: an object's "Audit timeline" lists that object's events and no other's.

The link used to search "exact id or start of name", so payable 1's timeline also listed every
payable whose bill number starts with "1" (and a vendor 1's events under another type's page).
"""

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from core import audit, roles
from core.models import AuditEvent
from payables.models import Payable
from payouts.models import PayoutLink
from tests.support import login_verified, make_user
from tests.vendors.helpers import local_bank_account, local_vendor
from vendors.models import Vendor, VendorBankAccount

pytestmark = pytest.mark.django_db

TIMELINE_LINK = re.compile(r'<a href="([^"]+)" class="historylink audit-timeline">Audit timeline</a>')


@pytest.fixture
def manager(client):
    user = make_user("morgan", role=roles.MANAGER)
    login_verified(client, user)
    return user


def _event(obj, *, repr_=None):
    return audit.record(actor=audit.system_user(), action="record.updated", target=obj, object_repr=repr_ or "")


def _pair(model):
    """Two objects of `model` whose names and ids collide, and a third of another type with the first's id."""
    if model is Vendor:
        first = local_vendor(name="Acme")
        second = local_vendor(name=f"{first.pk}0 Widgets", external_id="V-2")
    elif model is VendorBankAccount:
        vendor = local_vendor(name="Acme")
        first = local_bank_account(vendor, name="Main")
        second = local_bank_account(vendor, name=f"{first.pk} savings", account_last4="2222")
    elif model is Payable:
        vendor = local_vendor(name="Acme")
        account = local_bank_account(vendor)
        creator = make_user("clerk-x")
        first = Payable.objects.create(
            bill_number="INV-9", vendor=vendor, bank_account=account, amount_cents=100, created_by=creator
        )
        second = Payable.objects.create(
            bill_number=f"{first.pk}00", vendor=vendor, bank_account=account, amount_cents=200, created_by=creator
        )
    else:
        creator = make_user("operator-x")
        first = PayoutLink.objects.create(amount_cents=500, created_by=creator)
        second = PayoutLink.objects.create(amount_cents=700, created_by=creator)
    return first, second


@pytest.mark.parametrize("model", [Payable, Vendor, VendorBankAccount, PayoutLink], ids=lambda m: m.__name__)
def test_each_objects_timeline_link_lists_only_its_own_events(client, manager, model):
    first, second = _pair(model)
    mine = _event(first)
    # Another object whose name starts with the first one's id, and whose id is a prefix match too.
    theirs = _event(second, repr_=f"{first.pk} {second}")
    # Another kind of record with the same id.
    same_id_other_type = audit.record(
        actor=audit.system_user(),
        action="record.updated",
        object_type="auth.group",
        object_id=str(first.pk),
        object_repr=str(first.pk),
    )
    assert model in admin.site._registry
    page = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk]))
    assert page.status_code == 200
    links = TIMELINE_LINK.findall(page.content.decode())
    assert len(links) == 1, "the change page has one Audit timeline link"
    url = links[0].replace("&amp;", "&")
    response = client.get(url)
    assert response.status_code == 200
    shown = [e.pk for e in response.context["cl"].result_list]
    assert mine.pk in shown
    assert theirs.pk not in shown
    assert same_id_other_type.pk not in shown
    assert all(
        (e.object_type, e.object_id) == (model._meta.label_lower, str(first.pk))
        for e in AuditEvent.objects.filter(pk__in=shown)
    )
    body = response.content.decode()
    assert "Audit timeline of" in body and "only its own events" in body


def test_every_change_page_with_a_timeline_link_filters_by_type_and_exact_id(client):
    """Wherever the link is built (every change page's object tools), it names type and id, never q=."""
    admin_user = make_user("ada", role=roles.ADMINISTRATOR)
    login_verified(client, admin_user)
    alice = make_user("alice")
    page = client.get(reverse("admin:auth_user_change", args=[alice.pk])).content.decode()
    assert f"?object_type=auth.user&amp;object_id={alice.pk}" in page
    assert "&amp;q=" not in page
