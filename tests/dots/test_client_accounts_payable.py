"""DotsClient accounts-payable operations against the emulator, and `pay`'s never-retry rule."""

import uuid
from urllib.parse import parse_qs

import pytest

from dots.client import DotsClient
from dots.errors import DotsInsufficientFunds, DotsInvalidRequest, DotsNotFound, DotsOutcomeUnknown, DotsServerError
from dots.retry import RetryPolicy
from dots.types import ApprovalPolicy, Approver, Deleted, Payable, Vendor, VendorPaymentMethod

ADDRESS = {"line_1": "500 Market St", "city": "San Francisco", "state": "CA", "postcode": "94105", "country": "US"}
ACCOUNT = "000987654321"
ROUTING = "021000021"
# A tiny but well-formed PDF; the emulator does not read its contents.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(emulator, openapi_session, sleeps):
    return DotsClient(
        emulator.base_url,
        emulator.client_id,
        emulator.api_key,
        session=openapi_session,
        retry=RetryPolicy(sleep=sleeps, rand=lambda: 0.0),
    )


@pytest.fixture
def approvers(emulator):
    return emulator.seed_approvers()


@pytest.fixture
def actor(approvers):
    """An integer dashboard user id allowed to act on payables."""
    return approvers[0]["id"]


def new_vendor(client, name="Acme Supplies") -> Vendor:
    return client.create_vendor(
        name=name, address=ADDRESS, contact_email="ap@acme.example", external_id=f"ext-{uuid.uuid4().hex[:8]}"
    )


def new_payable(client, actor, *, amount=1_250_00, number=None) -> Payable:
    vendor = new_vendor(client)
    method = client.create_vendor_payment_method(
        vendor_id=vendor.id,
        name="Operating",
        ach_account_number=ACCOUNT,
        ach_routing_number=ROUTING,
        ach_account_type="checking",
    )
    return client.create_payable(
        acting_user_id=actor,
        number=number or f"INV-{uuid.uuid4().hex[:6]}",
        amount=amount,
        ap_vendor_id=vendor.id,
        ap_payment_method_id=method.id,
        funding_source="dots_balance",
        description="October supplies",
        items=[{"name": "Paper", "unit_price": amount, "quantity": 1, "amount": amount}],
    )


def approved_payable(client, actor, approvers, **kwargs) -> Payable:
    payable = new_payable(client, actor, **kwargs)
    client.submit_payable_for_approval(payable_id=payable.id, acting_user_id=actor)
    for approver in approvers:
        current = client.retrieve_payable(payable_id=payable.id)
        if current.status == "approved":
            break
        if approver.get("role") in ("ap_approver", "admin"):
            try:
                client.approve_payable(payable_id=payable.id, acting_user_id=approver["id"], comment="ok")
            except DotsInvalidRequest:
                continue  # e.g. the creator may not approve their own payable
    payable = client.retrieve_payable(payable_id=payable.id)
    assert payable.status == "approved", payable.raw
    return payable


# --- vendors --------------------------------------------------------------------------------------


def test_vendor_create_retrieve_list_delete(client):
    vendor = new_vendor(client)
    assert isinstance(vendor, Vendor) and vendor.name == "Acme Supplies"
    assert vendor.address["city"] == "San Francisco"
    assert client.retrieve_vendor(vendor_id=vendor.id).id == vendor.id
    page = client.list_vendors(limit=10)
    assert [v.id for v in page.items] == [vendor.id] and page.has_more is False
    deleted = client.delete_vendor(vendor_id=vendor.id)
    assert isinstance(deleted, Deleted) and deleted.deleted is True and deleted.id == vendor.id


def test_iterating_250_vendors_sends_limit_100_and_keeps_order(client, emulator):
    created = [client.create_vendor(name=f"Vendor {i:03d}", address=ADDRESS).id for i in range(250)]
    seen = [v.id for v in client.iter_vendors()]
    assert seen == list(reversed(created))
    assert len(set(seen)) == 250
    queries = [parse_qs(r["query"]) for r in reversed(emulator.received("GET", "/v2/accounts-payable/vendors"))]
    assert len(queries) == 3
    assert all(q["limit"] == ["100"] for q in queries)
    assert [q.get("starting_after") for q in queries] == [None, [created[-100]], [created[-200]]]


# --- vendor payment methods ---------------------------------------------------------------------


def test_vendor_payment_method_create_list_retrieve_delete_masked(client):
    vendor = new_vendor(client)
    method = client.create_vendor_payment_method(
        vendor_id=vendor.id,
        name="Operating",
        ach_account_number=ACCOUNT,
        ach_routing_number=ROUTING,
        ach_account_type="checking",
    )
    assert isinstance(method, VendorPaymentMethod)
    assert method.id and method.ach_account_number.endswith("4321")
    assert ACCOUNT not in method.ach_account_number
    listed = client.list_vendor_payment_methods(vendor_id=vendor.id)
    assert isinstance(listed, list) and [m.id for m in listed] == [method.id]
    got = client.retrieve_vendor_payment_method(vendor_id=vendor.id, payment_method_id=method.id)
    assert got.ach_routing_number == ROUTING
    assert client.delete_vendor_payment_method(vendor_id=vendor.id, payment_method_id=method.id).deleted is True
    with pytest.raises(DotsNotFound):
        client.retrieve_vendor_payment_method(vendor_id=vendor.id, payment_method_id=method.id)


# --- payables -------------------------------------------------------------------------------------


def test_payable_create_retrieve_update_and_list(client, actor):
    payable = new_payable(client, actor, amount=99_00)
    assert isinstance(payable, Payable)
    assert payable.status == "created" and payable.amount == 9900
    assert payable.created is not None and payable.created.tzinfo is not None
    updated = client.update_payable(
        payable_id=payable.id,
        description="Revised",
        amount=98_00,
        items=[{"name": "Paper", "unit_price": 9800, "quantity": 1, "amount": 9800}],
    )
    assert updated.description == "Revised" and updated.amount == 9800
    assert client.retrieve_payable(payable_id=payable.id).amount == 9800
    items, has_more = client.list_payables(limit=5)
    assert [p.id for p in items] == [payable.id] and has_more is False
    assert [p.id for p in client.iter_payables()] == [payable.id]


def test_payable_file_upload_and_delete(client, actor):
    payable = new_payable(client, actor)
    uploaded = client.upload_payable_file(payable_id=payable.id, file=PDF)
    assert uploaded["id"] == payable.id
    assert client.retrieve_payable(payable_id=payable.id).file_url
    assert client.delete_payable_file(payable_id=payable.id).deleted is True


def test_payable_from_file_is_multipart(client, actor, emulator):
    payable = client.create_payable_from_file(acting_user_id=actor, file=PDF, filename="invoice.pdf")
    assert isinstance(payable, Payable) and payable.id
    assert client.retrieve_payable(payable_id=payable.id).status == "created"


def test_cancel_payable(client, actor):
    payable = new_payable(client, actor)
    canceled = client.cancel_payable(payable_id=payable.id, acting_user_id=actor, comment="duplicate")
    assert canceled.status == "canceled"
    with pytest.raises(DotsInvalidRequest) as caught:
        client.submit_payable_for_approval(payable_id=payable.id, acting_user_id=actor)
    assert caught.value.error_code == "invalid-state-transition"


def test_submit_approve_and_pay(client, actor, approvers):
    payable = approved_payable(client, actor, approvers)
    paid = client.pay_payable(payable_id=payable.id, acting_user_id=actor)
    assert paid.status not in ("approved", "created")
    assert paid.status_history and paid.action_history


def test_reject_payable(client, actor, approvers):
    payable = new_payable(client, actor)
    client.submit_payable_for_approval(payable_id=payable.id, acting_user_id=actor, comment="please")
    approver = next(a for a in approvers if a["id"] != actor)
    rejected = client.reject_payable(payable_id=payable.id, acting_user_id=approver["id"], comment="wrong amount")
    assert rejected.status == "rejected"


def test_pay_with_a_dropped_answer_is_outcome_unknown_and_not_retried(client, actor, approvers, emulator, sleeps):
    payable = approved_payable(client, actor, approvers)
    emulator.add_fault(method="POST", path="/v2/accounts-payable/payables/*/pay", kind="drop", count=1)
    with pytest.raises(DotsOutcomeUnknown) as caught:
        client.pay_payable(payable_id=payable.id, acting_user_id=actor)
    assert caught.value.may_have_reached_dots is True
    assert len(emulator.received("POST", "/v2/accounts-payable/payables/*/pay")) == 1
    assert sleeps == []
    # Reconcile the way NOTES.md decision 5 says: the payable has left `approved`.
    assert client.retrieve_payable(payable_id=payable.id).status != "approved"


def test_pay_that_times_out_is_outcome_unknown(emulator, openapi_session, actor, approvers):
    client = DotsClient(
        emulator.base_url,
        emulator.client_id,
        emulator.api_key,
        session=openapi_session,
        timeout=0.3,
        retry=RetryPolicy(sleep=lambda s: None),
    )
    payable = approved_payable(client, actor, approvers)
    emulator.add_fault(method="POST", path="/v2/accounts-payable/payables/*/pay", kind="timeout", ms=1200, count=1)
    with pytest.raises(DotsOutcomeUnknown):
        client.pay_payable(payable_id=payable.id, acting_user_id=actor)


def test_pay_answered_503_is_a_server_error_and_not_retried(client, actor, approvers, emulator):
    payable = approved_payable(client, actor, approvers)
    emulator.add_fault(method="POST", path="/v2/accounts-payable/payables/*/pay", kind="status", status=503)
    with pytest.raises(DotsServerError) as caught:
        client.pay_payable(payable_id=payable.id, acting_user_id=actor)
    assert caught.value.status == 503
    assert len(emulator.received("POST", "/v2/accounts-payable/payables/*/pay")) == 1


def test_pay_with_insufficient_funds(client, actor, approvers, emulator):
    payable = approved_payable(client, actor, approvers)
    emulator.add_fault(method="POST", path="/v2/accounts-payable/payables/*/pay", kind="insufficient_funds", count=1)
    with pytest.raises(DotsInsufficientFunds) as caught:
        client.pay_payable(payable_id=payable.id, acting_user_id=actor)
    assert caught.value.status == 400
    assert caught.value.error_code == "transaction-insufficient-funds"
    assert client.retrieve_payable(payable_id=payable.id).status == "approved"


# --- approval policies and approvers ------------------------------------------------------------


def test_approval_policy_create_list_reprioritise_delete(client, approvers):
    ids = [a["id"] for a in approvers[:2]]
    policy = client.create_approval_policy(
        description="Large invoices",
        payable_conditions=[{"type": "amount", "comparator": ">=", "value": 10_000_00}],
        approval_conditions=[{"approver_list": ids, "num_approvals_required": 2}],
    )
    assert isinstance(policy, ApprovalPolicy) and policy.priority is not None
    assert [p.id for p in client.list_approval_policies()] == [policy.id]
    moved = client.update_approval_policy_priority(approval_policy_id=policy.id, priority=policy.priority + 5)
    assert moved.priority == policy.priority + 5
    assert client.delete_approval_policy(approval_policy_id=policy.id).deleted is True
    assert client.list_approval_policies() == []


def test_list_approvers_has_integer_ids(client, approvers):
    listed = client.list_approvers()
    assert all(isinstance(a, Approver) and isinstance(a.id, int) for a in listed)
    assert {a.id for a in listed} >= {a["id"] for a in approvers}


def test_list_page_defaults_to_limit_100(client, emulator):
    new_vendor(client)
    client.list_vendors()
    (request,) = emulator.received("GET", "/v2/accounts-payable/vendors")
    assert parse_qs(request["query"])["limit"] == ["100"]
