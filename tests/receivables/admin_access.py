"""Role matrix for the money-in admin pages (merged by tests/core/test_roles.py)."""

import itertools

from core import roles
from tests.support import make_user

VIEW = {"changelist", "change", "history"}
CLERK = roles.RECEIVABLES_CLERK

EXPECTED = {
    "receivables.paymentcustomer": {CLERK: VIEW | {"add"}, roles.MANAGER: VIEW},
    "receivables.paymentmethod": {CLERK: VIEW, roles.MANAGER: VIEW},
    "receivables.paymentintent": {CLERK: VIEW | {"add"}, roles.MANAGER: VIEW},
    "receivables.checkoutsession": {CLERK: VIEW | {"add"}, roles.MANAGER: VIEW},
    "receivables.payment": {CLERK: VIEW | {"add"}, roles.MANAGER: VIEW},
}

_n = itertools.count(1)


def _user():
    return make_user(f"receivables-owner-{next(_n)}")


def _customer():
    from receivables.models import PaymentCustomer

    n = next(_n)
    return PaymentCustomer.objects.create(
        first_name="Carla",
        last_name=f"Customer {n}",
        business_name="Carla's Bakery",
        email=f"carla{n}@example.com",
        phone_e164="+12015550142",
        status="created",
        dots_id=f"pc-{n}",
        created_by=_user(),
    )


def _method():
    from receivables.models import PaymentMethod

    return PaymentMethod.objects.create(
        dots_id=f"pm-{next(_n)}", customer=_customer(), platform="ach", mask="6789", attached=True
    )


def _intent():
    from receivables.models import PaymentIntent

    customer = _customer()
    return PaymentIntent.objects.create(
        customer=customer,
        amount_cents=12_500,
        status="requires_payment_method",
        dots_id=f"pi-{next(_n)}",
        created_by=customer.created_by,
    )


def _session():
    from receivables.models import CheckoutSession

    return CheckoutSession.objects.create(
        line_items=[{"name": "Bread", "unit_amount_cents": 450, "quantity": 2}],
        amount_total_cents=900,
        success_url="https://example.com/thanks",
        status="open",
        url="https://pay.example.com/s/1",
        dots_id=f"cs-{next(_n)}",
        created_by=_user(),
    )


def _payment():
    from receivables.models import Payment

    customer = _customer()
    return Payment.objects.create(
        customer=customer,
        amount_cents=25_000,
        account_last4="6789",
        status="created",
        dots_transfer_id=f"tr-in-{next(_n)}",
        created_by=customer.created_by,
    )


INSTANCE_FACTORIES = {
    "receivables.paymentcustomer": _customer,
    "receivables.paymentmethod": _method,
    "receivables.paymentintent": _intent,
    "receivables.checkoutsession": _session,
    "receivables.payment": _payment,
}
