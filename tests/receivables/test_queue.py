"""Money-in actions during a Dots outage: queued as the clerk, sent once when Dots answers again."""

import pytest

from core import action_queue
from core.errors import ActionQueued
from core.models import QueuedDotsAction
from receivables.models import CheckoutSession, Payment
from receivables.services import payments, sessions
from tests.outage_support import end_outage, start_outage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outage_settings")]


def test_a_checkout_session_asked_for_during_an_outage_is_created_once_when_dots_answers(dots, clerk):
    start_outage(dots)
    with pytest.raises(ActionQueued):
        sessions.checkout_session_create(
            actor=clerk, line_items=[{"name": "Pie", "unit_amount_cents": 900, "quantity": 1}],
            success_url="https://example.com/ok",
        )  # fmt: skip
    session = CheckoutSession.objects.get()
    assert session.status == "pending" and QueuedDotsAction.objects.get().actor == clerk
    end_outage(dots)
    assert action_queue.drain().done == 1
    session.refresh_from_db()
    assert session.status == "open" and session.url
    assert len(dots.received("POST", "/v2/checkout-sessions")) == 1


def test_a_payment_on_a_typed_account_is_never_queued(dots, clerk, customer):
    start_outage(dots)
    with pytest.raises(Exception) as refused:
        payments.payment_collect(
            actor=clerk, customer_id=customer.pk, amount_cents=900, routing_number="021000021",
            account_number="000123456789",
        )  # fmt: skip
    assert not isinstance(refused.value, ActionQueued)
    assert Payment.objects.get().status == "refused" and not QueuedDotsAction.objects.exists()
