"""Accounts payable: vendors, payment methods, approval policies and the payable lifecycle."""

import base64
import threading

import pytest

from tests.openapi_check import BaseUrlSession

AP = "/v2/accounts-payable"
ADDRESS = {"line_1": "1 Main St", "city": "Springfield", "state": "CA", "postcode": "90001", "country": "US"}
PDF = (
    b"%PDF-1.4\n1 0 obj << /Length 80 >> stream\nBT /F1 12 Tf (ACME Supplies) Tj (Invoice Number: INV-1001) Tj "
    b"(Total Due: $1,234.56) Tj ET\nendstream endobj\n%%EOF\n"
)


@pytest.fixture
def users(emulator):
    """name -> dashboard user: admin, alex/blair/casey (ap_approver), creator, payer."""
    seeded = emulator.seed_approvers()
    return dict(zip(["admin", "alex", "blair", "casey", "creator", "payer"], seeded, strict=False))


@pytest.fixture
def vendor(openapi_session):
    return openapi_session.post(f"{AP}/vendors", json={"name": "ACME Supplies", "address": ADDRESS}).json()


@pytest.fixture
def method(openapi_session, vendor):
    return openapi_session.post(
        f"{AP}/vendors/{vendor['id']}/payment-methods",
        json={
            "name": "ACME checking",
            "ach_account_number": "123456789012",
            "ach_routing_number": "021000021",
            "ach_account_type": "checking",
        },
    ).json()


@pytest.fixture
def payable(openapi_session, users, vendor, method):
    """A complete payable in `created`, $500.00, paid from the Dots balance."""
    return create_payable(openapi_session, users, vendor, method, amount=50_000)


def create_payable(session, users, vendor, method, *, amount, number="INV-1", funding_source="dots_balance"):
    response = session.post(
        f"{AP}/payables",
        json={
            "acting_user_id": users["creator"]["id"],
            "number": number,
            "amount": amount,
            "ap_vendor_id": vendor["id"],
            "ap_payment_method_id": method["id"],
            "funding_source": funding_source,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def act(session, payable_id, action, user, **extra):
    return session.post(f"{AP}/payables/{payable_id}/{action}", json={"acting_user_id": user["id"], **extra})


def approved(session, users, payable):
    act(session, payable["id"], "submit-for-approval", users["creator"])
    response = act(session, payable["id"], "approve", users["alex"])
    assert response.json()["status"] == "approved", response.text
    return response.json()


def balance(session, emulator):
    return session.get(f"/v2/apps/{emulator.app_id}").json()["metrics"]["wallet_balance"]


def add_policy(session, *, conditions, steps):
    response = session.post(
        f"{AP}/approval-policies",
        json={
            "payable_conditions": conditions,
            "approval_conditions": [{"approver_list": ids, "num_approvals_required": n} for ids, n in steps],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


# -- vendors and payment methods -------------------------------------------------------------------


def test_create_vendor_answers_201_and_is_retrievable(emulator, openapi_session, vendor):
    fetched = openapi_session.get(f"{AP}/vendors/{vendor['id']}").json()
    assert fetched["name"] == "ACME Supplies" and fetched["api_app_id"] == emulator.app_id


def test_create_vendor_without_address_is_refused(emulator, openapi_session):
    response = openapi_session.post(f"{AP}/vendors", json={"name": "No Address"})
    assert response.status_code == 400
    assert "address" in response.json()["error"]


def test_deleted_vendor_is_404(emulator, openapi_session, vendor):
    assert openapi_session.delete(f"{AP}/vendors/{vendor['id']}").json()["deleted"] is True
    assert openapi_session.get(f"{AP}/vendors/{vendor['id']}").status_code == 404


def test_payment_method_account_number_is_masked_in_every_response(emulator, openapi_session, vendor, method):
    listed = openapi_session.get(f"{AP}/vendors/{vendor['id']}/payment-methods")
    fetched = openapi_session.get(f"{AP}/vendors/{vendor['id']}/payment-methods/{method['id']}")
    assert method["ach_account_number"].endswith("9012")
    for text in (str(method), listed.text, fetched.text):
        assert "123456789012" not in text


def test_payment_method_with_an_eight_digit_routing_number_is_refused(emulator, openapi_session, vendor):
    response = openapi_session.post(
        f"{AP}/vendors/{vendor['id']}/payment-methods",
        json={
            "name": "bad",
            "ach_account_number": "123456789",
            "ach_routing_number": "02100002",
            "ach_account_type": "checking",
        },
    )
    assert response.status_code == 400
    assert "ach_routing_number" in response.json()["error"]


def test_request_log_masks_the_payment_method_account_number(emulator, openapi_session, method):
    [entry] = emulator.received("POST", "/v2/accounts-payable/vendors/*/payment-methods")
    assert "123456789012" not in str(entry["body"])
    assert entry["body"]["ach_account_number"].endswith("9012")


# -- payables: creation and edits ------------------------------------------------------------------------------


def test_create_payable_records_the_acting_user(emulator, openapi_session, users, payable):
    assert payable["status"] == "created"
    [action] = payable["action_history"]
    assert action == {
        "action": "create",
        "timestamp": action["timestamp"],
        "user_id": users["creator"]["id"],
        "user_name": "Cory Creator",
        "user_role": "ap_creator",
    }
    assert [s["status"] for s in payable["status_history"]] == ["created"]


def test_create_payable_without_acting_user_is_refused(emulator, openapi_session):
    response = openapi_session.post(f"{AP}/payables", json={"number": "INV-9"})
    assert response.status_code == 400
    assert response.json() == {"error": "acting_user_id is required", "error_code": "invalid-input"}


def test_create_payable_by_an_unknown_dashboard_user_is_refused(emulator, openapi_session, users):
    response = openapi_session.post(f"{AP}/payables", json={"acting_user_id": 999, "number": "INV-9"})
    assert response.status_code == 400
    assert "999" in response.json()["error"]


def test_upload_from_file_reads_number_and_amount_from_the_pdf(emulator, openapi_session, users):
    response = openapi_session.post(
        f"{AP}/payables/upload-from-file",
        data={"acting_user_id": str(users["creator"]["id"])},
        files={"file": ("invoice.pdf", PDF, "application/pdf")},
    )
    assert response.status_code == 200
    draft = response.json()
    assert (draft["status"], draft["number"], draft["amount"]) == ("created", "INV-1001", 123456)
    assert draft["file_url"]


def test_upload_from_file_refuses_a_file_that_is_not_a_pdf(emulator, openapi_session, users):
    response = openapi_session.post(
        f"{AP}/payables/upload-from-file",
        data={"acting_user_id": str(users["creator"]["id"])},
        files={"file": ("invoice.txt", b"hello", "text/plain")},
    )
    assert response.status_code == 400
    assert "PDF" in response.json()["error"]


def test_patch_before_submission_changes_the_amount(emulator, openapi_session, payable):
    response = openapi_session.patch(f"{AP}/payables/{payable['id']}", json={"amount": 777})
    assert response.json()["amount"] == 777


def test_patch_after_submission_is_refused_and_changes_nothing(emulator, openapi_session, users, payable):
    act(openapi_session, payable["id"], "submit-for-approval", users["creator"])
    response = openapi_session.patch(f"{AP}/payables/{payable['id']}", json={"amount": 777})
    assert response.status_code == 400
    assert response.json()["error_code"] == "payable-not-editable"
    assert openapi_session.get(f"{AP}/payables/{payable['id']}").json()["amount"] == 50_000


def test_file_upload_after_submission_is_refused(emulator, openapi_session, users, payable):
    act(openapi_session, payable["id"], "submit-for-approval", users["creator"])
    response = openapi_session.post(
        f"{AP}/payables/{payable['id']}/file", json={"file": base64.b64encode(PDF).decode()}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "payable-not-editable"


def test_file_upload_then_delete_before_submission(emulator, openapi_session, payable):
    uploaded = openapi_session.post(
        f"{AP}/payables/{payable['id']}/file", json={"file": base64.b64encode(PDF).decode()}
    )
    assert uploaded.json() == {"id": payable["id"], "updated": True, "object": "payable"}
    assert openapi_session.delete(f"{AP}/payables/{payable['id']}/file").json()["deleted"] is True
    assert "file_url" not in openapi_session.get(f"{AP}/payables/{payable['id']}").json()


def test_cancel_from_created_records_status_and_action(emulator, openapi_session, users, payable):
    canceled = act(openapi_session, payable["id"], "cancel", users["creator"], comment="duplicate").json()
    assert canceled["status"] == "canceled"
    assert canceled["action_history"][-1]["action"] == "cancel"
    assert canceled["action_history"][-1]["comment"] == "duplicate"


def test_cancel_after_submission_is_refused(emulator, openapi_session, users, payable):
    act(openapi_session, payable["id"], "submit-for-approval", users["creator"])
    response = act(openapi_session, payable["id"], "cancel", users["creator"])
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"
    assert "submitted_for_approval" in response.json()["error"]


def test_submit_without_a_vendor_is_refused(emulator, openapi_session, users):
    draft = openapi_session.post(
        f"{AP}/payables", json={"acting_user_id": users["creator"]["id"], "number": "X", "amount": 100}
    ).json()
    response = act(openapi_session, draft["id"], "submit-for-approval", users["creator"])
    assert response.status_code == 400
    assert "ap_vendor_id" in response.json()["error"]


# -- approval --------------------------------------------------------------------------------------


def test_without_a_policy_one_approval_by_any_approver_approves(emulator, openapi_session, users, payable):
    submitted = act(openapi_session, payable["id"], "submit-for-approval", users["creator"]).json()
    assert [s["num_approvals_required"] for s in submitted["approval_steps"]] == [1]
    approved_payable = act(openapi_session, payable["id"], "approve", users["blair"]).json()
    assert approved_payable["status"] == "approved"
    assert approved_payable["approval_steps"][0]["completed"] is True


def test_without_a_policy_a_creator_cannot_approve(emulator, openapi_session, users, payable):
    act(openapi_session, payable["id"], "submit-for-approval", users["creator"])
    response = act(openapi_session, payable["id"], "approve", users["creator"])
    assert response.status_code == 400
    assert response.json()["error_code"] == "approver-not-allowed"


@pytest.fixture
def two_step_policy(openapi_session, users):
    """Step 1: two of alex/blair/casey; step 2: the admin."""
    ids = [users["alex"]["id"], users["blair"]["id"], users["casey"]["id"]]
    return add_policy(
        openapi_session,
        conditions=[{"type": "amount", "comparator": ">=", "value": 10_000}],
        steps=[(ids, 2), ([users["admin"]["id"]], 1)],
    )


def test_matching_policy_makes_one_step_per_approval_condition(
    emulator, openapi_session, users, payable, two_step_policy
):
    submitted = act(openapi_session, payable["id"], "submit-for-approval", users["creator"]).json()
    assert [s["num_approvals_required"] for s in submitted["approval_steps"]] == [2, 1]


def test_two_step_policy_approves_only_after_both_steps(emulator, openapi_session, users, payable, two_step_policy):
    act(openapi_session, payable["id"], "submit-for-approval", users["creator"])
    after_one = act(openapi_session, payable["id"], "approve", users["alex"]).json()
    assert after_one["status"] == "submitted_for_approval" and after_one["approval_steps"][0]["completed"] is False
    after_step_one = act(openapi_session, payable["id"], "approve", users["casey"]).json()
    assert after_step_one["approval_steps"][0]["completed"] is True
    assert after_step_one["status"] == "submitted_for_approval"
    final = act(openapi_session, payable["id"], "approve", users["admin"]).json()
    assert final["status"] == "approved"
    assert [a["user_id"] for a in final["approval_steps"][0]["user_approvals"]] == [
        users["alex"]["id"],
        users["casey"]["id"],
    ]


def test_same_approver_twice_in_a_step_is_refused(emulator, openapi_session, users, payable, two_step_policy):
    act(openapi_session, payable["id"], "submit-for-approval", users["creator"])
    act(openapi_session, payable["id"], "approve", users["alex"])
    response = act(openapi_session, payable["id"], "approve", users["alex"])
    assert response.status_code == 400
    assert response.json()["error_code"] == "duplicate-approval"
    fetched = openapi_session.get(f"{AP}/payables/{payable['id']}").json()
    assert len(fetched["approval_steps"][0]["user_approvals"]) == 1


def test_approver_of_a_later_step_cannot_approve_the_current_one(
    emulator, openapi_session, users, payable, two_step_policy
):
    act(openapi_session, payable["id"], "submit-for-approval", users["creator"])
    response = act(openapi_session, payable["id"], "approve", users["admin"])
    assert response.status_code == 400
    assert response.json()["error_code"] == "approver-not-in-step"


def test_one_rejection_rejects_the_payable(emulator, openapi_session, users, payable, two_step_policy):
    act(openapi_session, payable["id"], "submit-for-approval", users["creator"])
    act(openapi_session, payable["id"], "approve", users["alex"])
    rejected = act(openapi_session, payable["id"], "reject", users["blair"], comment="wrong amount").json()
    assert rejected["status"] == "rejected"
    assert rejected["approval_steps"][0]["user_approvals"][-1]["approval_given"] is False


def test_policy_whose_conditions_fail_is_skipped(emulator, openapi_session, users, vendor, method, two_step_policy):
    small = create_payable(openapi_session, users, vendor, method, amount=500)
    submitted = act(openapi_session, small["id"], "submit-for-approval", users["creator"]).json()
    assert [s["num_approvals_required"] for s in submitted["approval_steps"]] == [1]


def test_policies_are_tried_in_ascending_priority(emulator, openapi_session, users, payable):
    amount_rule = [{"type": "amount", "comparator": ">=", "value": 1}]
    first = add_policy(openapi_session, conditions=amount_rule, steps=[([users["alex"]["id"]], 1)])
    second = add_policy(
        openapi_session, conditions=amount_rule, steps=[([users["alex"]["id"], users["blair"]["id"]], 2)]
    )
    openapi_session.patch(f"{AP}/approval-policies/{second['id']}", json={"priority": 0})
    assert [p["id"] for p in openapi_session.get(f"{AP}/approval-policies").json()] == [second["id"], first["id"]]
    submitted = act(openapi_session, payable["id"], "submit-for-approval", users["creator"]).json()
    assert [s["num_approvals_required"] for s in submitted["approval_steps"]] == [2]


def test_policy_needing_more_approvals_than_approvers_is_refused(emulator, openapi_session, users):
    response = openapi_session.post(
        f"{AP}/approval-policies",
        json={
            "payable_conditions": [{"type": "amount", "comparator": ">=", "value": 1}],
            "approval_conditions": [{"approver_list": [users["alex"]["id"]], "num_approvals_required": 2}],
        },
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-input"
    assert openapi_session.get(f"{AP}/approval-policies").json() == []


def test_policy_patch_of_anything_but_priority_is_refused(emulator, openapi_session, two_step_policy):
    response = openapi_session.patch(
        f"{AP}/approval-policies/{two_step_policy['id']}", json={"priority": 3, "description": "new"}
    )
    assert response.status_code == 400
    assert "description" in response.json()["error"]


def test_deleted_policy_no_longer_applies(emulator, openapi_session, users, payable, two_step_policy):
    openapi_session.delete(f"{AP}/approval-policies/{two_step_policy['id']}")
    submitted = act(openapi_session, payable["id"], "submit-for-approval", users["creator"]).json()
    assert [s["num_approvals_required"] for s in submitted["approval_steps"]] == [1]


def test_approvers_are_the_seeded_dashboard_users_with_integer_ids(emulator, openapi_session, users):
    listed = openapi_session.get(f"{AP}/approvers").json()
    # The account's owner (an admin, there before any seed), then the seeded users.
    owner, *seeded = listed
    assert owner["role"] == "admin" and owner["email"] == "owner@dots-account.example"
    assert [a["id"] for a in seeded] == sorted(u["id"] for u in users.values())
    assert all(isinstance(a["id"], int) for a in listed)


# -- paying ----------------------------------------------------------------------------------------


def test_pay_debits_the_wallet_and_initiates_a_transfer(emulator, openapi_session, users, payable):
    approved(openapi_session, users, payable)
    paid = act(openapi_session, payable["id"], "pay", users["payer"]).json()
    assert paid["status"] == "payment_initiated"
    assert paid["transfer_history"][0]["transfer_id"] == paid["transfer_id"]
    assert paid["action_history"][-1]["action"] == "initiate_payment"
    assert balance(openapi_session, emulator) == "99500.00"
    transfer = openapi_session.get(f"/v2/transfers/{paid['transfer_id']}").json()
    assert (transfer["type"], transfer["amount"]) == ("payable", 50_000)


def test_pay_with_insufficient_funds_is_refused_and_changes_nothing(emulator, openapi_session, users, payable):
    approved(openapi_session, users, payable)
    emulator.control(f"apps/{emulator.app_id}/balance", {"balance": 49_999})
    response = act(openapi_session, payable["id"], "pay", users["payer"])
    assert response.status_code == 400
    assert response.json()["error_code"] == "transaction-insufficient-funds"
    fetched = openapi_session.get(f"{AP}/payables/{payable['id']}").json()
    assert fetched["status"] == "approved" and fetched["transfer_history"] == []
    assert balance(openapi_session, emulator) == "499.99"


def test_pay_before_approval_is_refused(emulator, openapi_session, users, payable):
    response = act(openapi_session, payable["id"], "pay", users["payer"])
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"


def test_completed_payment_completes_the_payable(emulator, openapi_session, users, payable):
    approved(openapi_session, users, payable)
    act(openapi_session, payable["id"], "pay", users["payer"])
    emulator.control(f"payables/{payable['id']}/payment", {"status": "payment_completed"})
    fetched = openapi_session.get(f"{AP}/payables/{payable['id']}").json()
    assert fetched["status"] == "payment_completed"
    assert openapi_session.get(f"/v2/transfers/{fetched['transfer_id']}").json()["status"] == "completed"


def test_failed_payment_refunds_the_wallet(emulator, openapi_session, users, payable):
    approved(openapi_session, users, payable)
    act(openapi_session, payable["id"], "pay", users["payer"])
    emulator.control(f"payables/{payable['id']}/payment", {"status": "payment_failed", "reason": "R03"})
    assert openapi_session.get(f"{AP}/payables/{payable['id']}").json()["status"] == "payment_failed"
    assert balance(openapi_session, emulator) == "100000.00"


def test_failed_payment_can_be_retried_with_a_new_transfer(emulator, openapi_session, users, payable):
    approved(openapi_session, users, payable)
    first = act(openapi_session, payable["id"], "pay", users["payer"]).json()
    emulator.control(f"payables/{payable['id']}/payment", {"status": "payment_failed"})
    retried = act(openapi_session, payable["id"], "pay", users["payer"]).json()
    assert retried["status"] == "payment_initiated"
    assert retried["action_history"][-1]["action"] == "retry_payment"
    assert [t["transfer_id"] for t in retried["transfer_history"]][0] == first["transfer_id"]
    assert len(retried["transfer_history"]) == 2 and retried["transfer_id"] != first["transfer_id"]
    assert [s["status"] for s in retried["status_history"]][-3:] == [
        "payment_initiated",
        "payment_failed",
        "payment_initiated",
    ]


def test_pay_twice_is_refused_the_second_time(emulator, openapi_session, users, payable):
    approved(openapi_session, users, payable)
    act(openapi_session, payable["id"], "pay", users["payer"])
    response = act(openapi_session, payable["id"], "pay", users["payer"])
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-state-transition"
    assert balance(openapi_session, emulator) == "99500.00"


def test_on_read_setting_completes_the_payment_when_polled(emulator, openapi_session, users, payable):
    emulator.settings(payable_payment={"mode": "on_read", "reads": 1})
    approved(openapi_session, users, payable)
    act(openapi_session, payable["id"], "pay", users["payer"])
    assert openapi_session.get(f"{AP}/payables/{payable['id']}").json()["status"] == "payment_completed"


def test_ach_funded_payment_leaves_the_wallet_alone(emulator, openapi_session, users, vendor, method):
    payable = create_payable(openapi_session, users, vendor, method, amount=70_000, funding_source="ach")
    approved(openapi_session, users, payable)
    assert act(openapi_session, payable["id"], "pay", users["payer"]).json()["status"] == "payment_initiated"
    assert balance(openapi_session, emulator) == "100000.00"


# -- listing ---------------------------------------------------------------------------------------


def test_payables_page_newest_first_across_pages(emulator, openapi_session, users, vendor, method):
    created = [
        create_payable(openapi_session, users, vendor, method, amount=100 + i, number=f"N{i}")["id"] for i in range(12)
    ]
    newest_first = list(reversed(created))
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5, **({"starting_after": cursor} if cursor else {})}
        page = openapi_session.get(f"{AP}/payables", params=params).json()
        seen += [p["id"] for p in page["data"]]
        pages += 1
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]
    assert seen == newest_first and pages == 3


def test_payables_ending_before_returns_the_newer_page(emulator, openapi_session, users, vendor, method):
    created = [
        create_payable(openapi_session, users, vendor, method, amount=100 + i, number=f"N{i}")["id"] for i in range(4)
    ]
    page = openapi_session.get(f"{AP}/payables", params={"limit": 2, "ending_before": created[1]}).json()
    assert [p["id"] for p in page["data"]] == [created[3], created[2]]


def test_concurrent_pay_calls_initiate_exactly_one_payment(emulator, openapi_session, users, payable):
    approved(openapi_session, users, payable)
    statuses, barrier = [], threading.Barrier(8)

    def pay():
        session = BaseUrlSession(emulator.base_url)
        session.auth = emulator.auth
        barrier.wait()
        statuses.append(act(session, payable["id"], "pay", users["payer"]).status_code)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 7
    assert balance(openapi_session, emulator) == "99500.00"
