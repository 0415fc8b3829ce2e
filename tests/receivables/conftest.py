"""Helpers for money-in tests: a receivables clerk, a customer in Dots, a bank account the customer added in Dots."""

import pytest

from core import roles
from receivables.services import customers
from tests.support import make_user


@pytest.fixture
def clerk(db):
    return make_user("rita", role=roles.RECEIVABLES_CLERK)


@pytest.fixture
def customer(dots, clerk):
    return customers.payment_customer_create(
        actor=clerk,
        first_name="Carla",
        last_name="Customer",
        business_name="Carla's Bakery",
        email="carla@example.com",
        phone="(201) 555-0142",
        address={"line_1": "1 Main St", "city": "Newark", "state": "NJ", "postcode": "07102", "country": "US"},
    )


def bank_account_in_dots(dots, customer=None, account_number="000123456789") -> str:
    """A bank account as Dots' own form would collect it (the emulator control); its Dots id."""
    body = {"platform": "ach", "routing_number": "021000021", "account_number": account_number}
    if customer is not None:
        body["customer_id"] = customer.dots_id
    return dots.control("payment-methods", body)["id"]
