"""Finding documents by a field through an index (store.Lookup) and the bulk user seed (issue #18 §3).

What a caller notices: a phone number already used is refused whoever holds it (seeded or
created, before or after a restart on an older data file), only within the app; payout
methods stay their user's; seeded users read like created ones. And the one property the
speed depends on: each lookup's query is answered from its own index, never by reading
every document of the kind.
"""

import sqlite3

import pytest
import requests

from dots.emulator.resources import payment_methods, users, vendors
from dots.emulator.store import Lookup, Store, lookup
from tests.fixtures_emulator import start_emulator, stop_emulator

ACH = {"platform": "ach", "routing_number": "021000021", "account_number": "000123456789", "account_type": "checking"}


def user_body(phone: str, **overrides) -> dict:
    return {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.com",
        "country_code": "1",
        "phone_number": phone,
        **overrides,
    }


def seed_users(emulator, **body) -> requests.Response:
    return requests.post(f"{emulator.root}/_emulator/seed/users", json=body, timeout=120)


# -- phone numbers ----------------------------------------------------------------------------------


def test_a_phone_number_held_by_a_seeded_user_is_refused_with_that_users_id(emulator, openapi_session):
    seeded = seed_users(emulator, count=2000, sample=4).json()
    answer = openapi_session.post("/v2/users", json=user_body(seeded["first_phone_number"]))
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "user-already-exists"
    assert answer.json()["user_id"] == seeded["first_id"]


def test_the_same_phone_number_in_another_app_is_a_new_user(emulator, openapi_session):
    other = emulator.control("seed/apps", {"name": "Other"})["data"][0]
    first = openapi_session.post("/v2/users", json=user_body("4155559001"))
    second = openapi_session.post("/v2/users", json=user_body("4155559001"), headers={"Api-App-Id": other["id"]})
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


def test_a_deleted_users_phone_number_may_be_used_again(emulator, openapi_session):
    gone = openapi_session.post("/v2/users", json=user_body("4155559002")).json()
    assert openapi_session.delete(f"/v2/users/{gone['id']}").status_code == 200
    again = openapi_session.post("/v2/users", json=user_body("4155559002"))
    assert again.status_code == 201 and again.json()["id"] != gone["id"]


def test_a_user_changed_after_creation_is_still_found_by_phone(emulator, openapi_session):
    user = openapi_session.post("/v2/users", json=user_body("4155559003")).json()
    openapi_session.patch(f"/v2/users/{user['id']}", json={"metadata": {"ref": "A-1"}})
    answer = openapi_session.post("/v2/users", json=user_body("4155559003", email="other@example.com"))
    assert answer.status_code == 400 and answer.json()["user_id"] == user["id"]


def test_send_payout_to_a_phone_number_finds_the_seeded_user(emulator, openapi_session):
    seeded = seed_users(emulator, count=50, status="verified").json()
    openapi_session.put(f"/v2/users/{seeded['first_id']}/payout-methods", json=ACH)
    body = {"amount": 500, "payee": {"country_code": "1", "phone_number": seeded["first_phone_number"]}}
    link = openapi_session.post("/v2/payouts/send-payout", json=body)
    assert link.status_code == 201, link.text
    assert (link.json()["status"], link.json()["claimed_user_id"]) == ("claimed", seeded["first_id"])


def test_users_stored_before_the_index_existed_are_found_after_a_restart(tmp_path):
    data = tmp_path / "emulator.sqlite3"
    first = start_emulator(data)
    try:
        made = requests.post(f"{first.base_url}/v2/users", json=user_body("4155559004"), auth=first.auth).json()
    finally:
        stop_emulator(first)
    with sqlite3.connect(data) as conn:  # a data file from before the lookup indexes
        conn.execute("DROP INDEX docs_by_user_phone")
    second = start_emulator(data)
    try:
        answer = requests.post(f"{second.base_url}/v2/users", json=user_body("4155559004"), auth=second.auth)
        assert answer.status_code == 400 and answer.json()["user_id"] == made["id"]
    finally:
        stop_emulator(second)


# -- payout and payment methods ---------------------------------------------------------------------------


def test_payout_methods_are_listed_per_user_oldest_first(emulator, openapi_session):
    ada = openapi_session.post("/v2/users", json=user_body("4155559005")).json()
    bob = openapi_session.post("/v2/users", json=user_body("4155559006")).json()
    openapi_session.put(f"/v2/users/{ada['id']}/payout-methods", json=ACH)
    openapi_session.put(f"/v2/users/{bob['id']}/payout-methods", json={"platform": "cash_app", "cash_tag": "$bob"})
    openapi_session.put(f"/v2/users/{ada['id']}/payout-methods", json={"platform": "venmo", "handle": "@ada"})
    listed = openapi_session.get(f"/v2/users/{ada['id']}/payout-methods").json()
    assert [m["platform"] for m in listed] == ["ach", "venmo"]


def test_a_vendors_payment_methods_go_with_the_vendor(emulator, openapi_session):
    address = {"line_1": "1 Main St", "city": "Austin", "state": "TX", "postcode": "78701", "country": "US"}
    vendors_url = "/v2/accounts-payable/vendors"
    keep = openapi_session.post(vendors_url, json={"name": "Keep", "address": address}).json()
    drop = openapi_session.post(vendors_url, json={"name": "Drop", "address": address}).json()
    method = {
        "name": "Operating",
        "ach_account_number": "000123456789",
        "ach_routing_number": "021000021",
        "ach_account_type": "checking",
    }
    for vendor in (keep, drop, keep):
        assert openapi_session.post(f"{vendors_url}/{vendor['id']}/payment-methods", json=method).status_code == 201
    assert openapi_session.delete(f"{vendors_url}/{drop['id']}").status_code == 200
    assert len(openapi_session.get(f"{vendors_url}/{keep['id']}/payment-methods").json()) == 2


# -- the seed control ---------------------------------------------------------------------------------------


def test_seeded_users_read_like_created_ones(emulator, openapi_session):
    seeded = seed_users(emulator, count=25, sample=5, status="verified")
    assert seeded.status_code == 201
    answer = seeded.json()
    assert answer["created"] == 25 and len(answer["sample_ids"]) == 5 and answer["sample_ids"][0] == answer["first_id"]
    for user_id in answer["sample_ids"]:  # every answer is checked against the OpenAPI document
        user = openapi_session.get(f"/v2/users/{user_id}").json()
        assert user["status"] == "verified" and user["phone_number"]["phone_number"].startswith("5")
    listed = openapi_session.get("/v2/users", params={"limit": 100}).json()["data"]
    assert len(listed) == 25 and listed[0]["id"] == answer["last_id"]


def test_seeding_twice_never_repeats_a_phone_number(emulator, openapi_session):
    first = seed_users(emulator, count=10).json()
    second = seed_users(emulator, count=10).json()
    assert first["first_phone_number"] != second["first_phone_number"]
    phones = [u["phone_number"]["phone_number"] for u in openapi_session.get("/v2/users?limit=100").json()["data"]]
    assert len(set(phones)) == 20


@pytest.mark.parametrize("body", [{}, {"count": 0}, {"count": 1_000_001}, {"count": 5, "status": "happy"}])
def test_seed_users_refuses_a_bad_request_naming_the_field(emulator, body):
    answer = seed_users(emulator, **body)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "invalid-input"
    assert ("status" if "status" in body else "count") in answer.json()["error"]


# -- the property the speed rests on -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "declared", [users.BY_PHONE, users.BY_USER, vendors.BY_VENDOR, payment_methods.BY_CUSTOMER], ids=lambda d: d.name
)
@pytest.mark.parametrize("app_id", [None, "app-1"])
def test_each_lookup_is_answered_from_its_own_index(tmp_path, declared, app_id):
    store = Store(str(tmp_path / "plan.sqlite3"))
    plans: list[str] = []
    store.conn.set_trace_callback(plans.append)
    store.find(declared, *["x"] * len(declared.paths), app_id=app_id)
    store.conn.set_trace_callback(None)
    query = next(q for q in plans if q.startswith("SELECT"))
    plan = " ".join(row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + query))
    assert f"SEARCH docs USING INDEX {declared.index_name}" in plan


def test_find_matches_strings_only_as_python_would(tmp_path):
    store = Store(str(tmp_path / "types.sqlite3"))
    by_ref = Lookup("test_doc", "ref", ("$.ref",))  # not declared: find() indexes it on first use
    store.insert("test_doc", "a", {"ref": "12"})
    store.insert("test_doc", "b", {"ref": 12})
    store.insert("test_doc", "c", {"other": "12"})
    assert [d["ref"] for d in store.find(by_ref, "12")] == ["12"]
    assert [d["ref"] for d in store.find(by_ref, "12", oldest_first=True)] == ["12"]


@pytest.mark.parametrize(
    "args", [("user", "phone; DROP", "$.x"), ("user", "x", "$.a'b"), ("User", "x", "$.a"), ("user", "x")]
)
def test_a_lookup_with_anything_but_plain_names_is_refused(args):
    with pytest.raises(ValueError):
        Lookup(args[0], args[1], tuple(args[2:]))


def test_the_same_lookup_name_with_other_paths_is_refused():
    with pytest.raises(ValueError):
        lookup(users.USER_KIND, "phone", "$.email")
