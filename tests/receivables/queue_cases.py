"""Money-in actions queued during a Dots outage, for tests/core/test_queue_permissions.py (one per queued kind)."""

from core import roles
from core.errors import ActionQueued
from core.models import QueuedDotsAction
from receivables.models import PaymentCustomer, PaymentMethod
from receivables.services import customers, intents, payments, sessions
from tests.support import make_user

# kind -> (the Dots path it would have called, what the role lets them do)
WHAT = {
    "payment_customer.push": ("/v2/payment-customers", "add payment customers"),
    "payment_intent.push": ("/v2/payment-intents", "create payment intents"),
    "payment_intent.confirm": ("/v2/payment-intents/*/confirm", "confirm payment intents"),
    "checkout_session.push": ("/v2/checkout-sessions", "create checkout sessions"),
    "payment.push": ("/v2/payments", "collect payments from customers"),
}
RECEIVABLES_KINDS = set(WHAT)


def _customer_in_dots(clerk) -> PaymentCustomer:
    customer = customers.payment_customer_create(actor=clerk, first_name="Queued", last_name="Customer")
    assert customer.dots_id
    return customer


def receivables_queued_by_a_clerk(dots, kind: str, *, start_outage):
    """The clerk's action of `kind` queued during an outage. Answers (clerk, what the role lets them do, Dots path)."""
    clerk = make_user("rita", role=roles.RECEIVABLES_CLERK)
    customer = None if kind == "payment_customer.push" else _customer_in_dots(clerk)
    method = None
    if kind in ("payment_intent.confirm", "payment.push"):
        body = {"platform": "ach", "routing_number": "021000021", "account_number": "000123456789"}
        dots_id = dots.control("payment-methods", {**body, "customer_id": customer.dots_id})["id"]
        method = PaymentMethod.objects.create(
            dots_id=dots_id, customer=customer, platform="ach", mask="6789", attached=True
        )
    intent = None
    if kind == "payment_intent.confirm":
        intent, _ = intents.payment_intent_create(actor=clerk, amount_cents=900, customer_id=customer.pk)
    sent_to, doing = WHAT[kind]
    act = {
        "payment_customer.push": lambda: customers.payment_customer_create(actor=clerk, first_name="Olga"),
        "payment_intent.push": lambda: intents.payment_intent_create(
            actor=clerk, amount_cents=700, customer_id=customer.pk
        ),
        "payment_intent.confirm": lambda: intents.payment_intent_confirm(
            payment_intent_id=intent.pk, payment_method_id=method.pk, actor=clerk
        ),
        "checkout_session.push": lambda: sessions.checkout_session_create(
            actor=clerk,
            line_items=[{"name": "Pie", "unit_amount_cents": 900, "quantity": 1}],
            success_url="https://example.com/ok",
        ),
        "payment.push": lambda: payments.payment_collect(
            actor=clerk, customer_id=customer.pk, amount_cents=900, payment_method_id=method.pk
        ),
    }[kind]
    start_outage(dots)
    try:
        act()
    except ActionQueued:
        pass
    else:
        raise AssertionError(f"{kind}: not queued during the outage")
    assert QueuedDotsAction.objects.get().kind == kind
    return clerk, doing, sent_to
