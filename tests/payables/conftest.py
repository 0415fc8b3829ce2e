"""Fixtures shared by the payables tests: the Dots dashboard users and the approvers synced from them."""

import re

import pytest

from core import roles
from payables import approver_sync
from payables.models import Approver
from tests.support import make_user

# The emulator answers a vendor_id condition's value as the vendor id string it was sent, which
# the spec's response schema types as a number (emulator resources/approval_policies.py). Only
# that one violation is forgiven, and only in tests that use vendor conditions.
VENDOR_VALUE_QUIRK = re.compile(r"approval-policies.*payable_conditions.*value.*is not of type 'number'", re.S)


@pytest.fixture
def administrator(db):
    return make_user("policy-admin", role=roles.ADMINISTRATOR)


@pytest.fixture
def dashboard(dots):
    """The six seeded Dots dashboard users: admin, three ap_approvers, ap_creator, payer."""
    users = dots.seed_approvers()
    return {
        "admin": users[0],
        "alex": users[1],
        "blair": users[2],
        "casey": users[3],
        "creator": users[4],
        "payer": users[5],
    }


@pytest.fixture
def approvers(dashboard, administrator):
    """Approver rows synced from Dots, by first name (lower case)."""
    approver_sync.approvers_sync(actor=administrator)
    return {a.first_name.lower(): a for a in Approver.objects.all()}


@pytest.fixture
def forgive_vendor_value_quirk(dots, openapi_checker):
    yield
    kept = [v for v in openapi_checker.take() if not VENDOR_VALUE_QUIRK.search(v)]
    openapi_checker.violations.extend(kept)
