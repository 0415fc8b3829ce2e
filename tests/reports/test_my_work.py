"""Each person's own work at the top of their home page."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core import roles
from payables import services
from payables.models import Payable
from reconciliation.models import AppWallet
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db
P = Payable.Status


def _home(client, user) -> str:
    login_verified(client, user)
    return client.get(reverse("admin:index")).content.decode()


def _section(page: str, name: str) -> str:
    start = page.index(f'id="panel-{name}"')
    return page[start : page.index("</section>", start)]


def test_a_clerk_sees_their_drafts_and_why_theirs_were_rejected(client, people, make_payable):
    make_payable(amount_cents=12_300, bill_number="MY-DRAFT")
    make_payable(amount_cents=45_600, bill_number="OTHERS-DRAFT", creator=people.clerk2)
    rejected = make_payable(amount_cents=78_900, bill_number="MY-REJECTED")
    Payable.objects.filter(pk=rejected.pk).update(
        status=P.REJECTED, closed_reason="Wrong vendor address", closed_at=timezone.now(), closed_by=people.approver
    )
    panel = _section(_home(client, people.clerk), "my_payables")
    assert "MY-DRAFT" in panel and "$123.00" in panel
    assert "OTHERS-DRAFT" not in panel
    assert "MY-REJECTED" in panel and "Wrong vendor address" in panel


def test_an_approver_sees_what_waits_for_them_oldest_first(client, people, make_payable):
    first = make_payable(amount_cents=10_000, bill_number="WAIT-OLD")
    services.payable_submit(payable_id=first.pk, actor=people.clerk)
    second = make_payable(amount_cents=20_000, bill_number="WAIT-NEW")
    services.payable_submit(payable_id=second.pk, actor=people.clerk)
    Payable.objects.filter(pk=first.pk).update(submitted_at=timezone.now() - dt.timedelta(days=3))
    panel = _section(_home(client, people.approver), "my_approvals")
    assert panel.index("WAIT-OLD") < panel.index("WAIT-NEW")
    assert "2 payables wait for your approval" in panel and "3\xa0days ago" in panel
    # The clerk who made them sees no approvals panel at all.
    assert 'id="panel-my_approvals"' not in _home(client, people.clerk)


def test_a_payer_sees_what_is_ready_to_pay_against_the_wallet(client, people, approved_payable, make_payable):
    AppWallet.objects.create(dots_app_id="app-1", balance_cents=10_000, synced_at=timezone.now())
    panel = _section(_home(client, people.payer), "ready_to_pay")
    assert approved_payable.bill_number in panel
    assert "1 approved payable with a verified bank account, <strong>$250.00</strong>" in panel
    assert "$100.00" in panel and "does not cover them all" in panel


def test_an_operator_sees_imports_and_runs_under_way(client):
    operator = make_user("op", role=roles.PAYOUTS_OPERATOR)
    panel = _section(_home(client, operator), "payouts_under_way")
    assert "No payee import or payout run is under way" in panel


def test_a_manager_sees_the_overview_not_someone_elses_work(client):
    page = _home(client, make_user("boss", role=roles.MANAGER))
    assert 'id="panel-cash_out"' in page
    for name in ("my_payables", "my_approvals", "ready_to_pay", "payouts_under_way"):
        assert f'id="panel-{name}"' not in page
