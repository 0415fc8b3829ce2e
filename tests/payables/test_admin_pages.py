"""What a payable's pages show a person: money as money on read-only pages, the bank accounts a bill may
name, the status while a payment is under way, and the way to an authenticator before paying."""

import re

import pytest
from django.urls import reverse

from payables import services
from payables.models import Payable
from tests.support import login_verified

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
