"""Users: create/list/retrieve/update/delete, verification by token, compliance, payout methods, addresses."""

import itertools
import uuid

import pytest

ACH = {"platform": "ach", "routing_number": "021000021", "account_number": "000123456789", "account_type": "checking"}

# A distinct phone number per user: a repeated one is refused (user-already-exists).
PHONES = itertools.count(4155551000)


def new_user(session, **overrides):
    body = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "country_code": "1",
        "phone_number": str(next(PHONES)),
        **overrides,
    }
    response = session.post("/v2/users", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def verify(session, emulator, user_id):
    assert session.post(f"/v2/users/{user_id}/send-verification-token", json={}).status_code == 202
    token = emulator.control_get(f"users/{user_id}/verification-token")["token"]
    return session.post(f"/v2/users/{user_id}/verify", json={"token": token})


# -- create / read -------------------------------------------------------------------------------


def test_create_user_answers_201_unverified(emulator, openapi_session):
    user = new_user(openapi_session)
    assert user["status"] == "unverified"
    assert user["phone_number"]["country_code"] == "1"
    assert user["wallet"] == {"amount": 0, "withdrawable_amount": 0, "credit_balance": 0}


def test_create_user_without_email_names_the_field(emulator, openapi_session):
    response = openapi_session.post(
        "/v2/users", json={"first_name": "A", "last_name": "B", "country_code": "1", "phone_number": "4155550101"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "email is required", "error_code": "invalid-input"}


def test_create_user_with_a_phone_number_already_used_is_refused_with_the_existing_id(emulator, openapi_session):
    first = new_user(openapi_session, phone_number="4155550199")
    response = openapi_session.post(
        "/v2/users",
        json={"first_name": "B", "last_name": "C", "email": "b@example.com", "country_code": "1",
              "phone_number": "4155550199"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error_code"] == "user-already-exists"
    assert response.json()["user_id"] == first["id"]


def test_retrieve_user_returns_the_created_user(emulator, openapi_session):
    user = new_user(openapi_session)
    assert openapi_session.get(f"/v2/users/{user['id']}").json() == user


def test_retrieve_unknown_user_is_404(emulator, openapi_session):
    response = openapi_session.get(f"/v2/users/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not-found"


def test_list_users_filters_by_status(emulator, openapi_session):
    verified = new_user(openapi_session)
    new_user(openapi_session)
    verify(openapi_session, emulator, verified["id"])
    page = openapi_session.get("/v2/users", params={"status": "verified"}).json()
    assert [u["id"] for u in page["data"]] == [verified["id"]]
    assert page["has_more"] is False


def test_list_users_pages_newest_first(emulator, openapi_session):
    ids = [new_user(openapi_session)["id"] for _ in range(3)]
    first = openapi_session.get("/v2/users", params={"limit": 2}).json()
    assert [u["id"] for u in first["data"]] == [ids[2], ids[1]] and first["has_more"] is True
    rest = openapi_session.get("/v2/users", params={"limit": 2, "starting_after": ids[1]}).json()
    assert [u["id"] for u in rest["data"]] == [ids[0]] and rest["has_more"] is False


# -- update / delete ----------------------------------------------------------------------------------


def test_patch_user_sets_metadata(emulator, openapi_session):
    user = new_user(openapi_session)
    response = openapi_session.patch(f"/v2/users/{user['id']}", json={"metadata": {"vendor": "v-1"}})
    assert response.status_code == 200
    assert response.json()["metadata"] == {"vendor": "v-1"}


def test_patch_default_payout_method_the_user_lacks_is_refused(emulator, openapi_session):
    user = new_user(openapi_session)
    response = openapi_session.patch(f"/v2/users/{user['id']}", json={"default_payout_method": "paypal"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-input"


def test_delete_user_answers_the_user_and_then_404(emulator, openapi_session):
    user = new_user(openapi_session)
    response = openapi_session.delete(f"/v2/users/{user['id']}")
    assert response.status_code == 200 and response.json()["id"] == user["id"]
    assert openapi_session.get(f"/v2/users/{user['id']}").status_code == 404


# -- verification ------------------------------------------------------------------------------------------


def test_verify_with_the_sent_token_makes_the_user_verified(emulator, openapi_session):
    user = new_user(openapi_session)
    response = verify(openapi_session, emulator, user["id"])
    assert response.status_code == 200
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["status"] == "verified"


def test_verify_with_a_wrong_token_is_400_and_user_stays_unverified(emulator, openapi_session):
    user = new_user(openapi_session)
    openapi_session.post(f"/v2/users/{user['id']}/send-verification-token", json={})
    token = emulator.control_get(f"users/{user['id']}/verification-token")["token"]
    wrong = "111111" if token != "111111" else "222222"
    response = openapi_session.post(f"/v2/users/{user['id']}/verify", json={"token": wrong})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-verification-token"
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["status"] == "unverified"


@pytest.mark.parametrize("token", ["１２３４５６", "12345é", "🔑"])
def test_verify_with_a_non_ascii_token_is_400_invalid_input_not_500(emulator, openapi_session, token):
    user = new_user(openapi_session)
    openapi_session.post(f"/v2/users/{user['id']}/send-verification-token", json={})
    response = openapi_session.post(f"/v2/users/{user['id']}/verify", json={"token": token})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-input"
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["status"] == "unverified"


def test_verify_before_any_token_was_sent_is_400(emulator, openapi_session):
    user = new_user(openapi_session)
    response = openapi_session.post(f"/v2/users/{user['id']}/verify", json={"token": "123456"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid-verification-token"


def test_verification_token_expires_after_ten_minutes(emulator, openapi_session):
    user = new_user(openapi_session)
    openapi_session.post(f"/v2/users/{user['id']}/send-verification-token", json={})
    token = emulator.control_get(f"users/{user['id']}/verification-token")["token"]
    emulator.control("clock", {"offset_seconds": 11 * 60})
    response = openapi_session.post(f"/v2/users/{user['id']}/verify", json={"token": token})
    assert response.status_code == 400
    assert "expired" in response.json()["error"]


# -- compliance, addresses ---------------------------------------------------------------------------------------


def test_submit_w9_marks_tax_id_collected(emulator, openapi_session):
    user = new_user(openapi_session)
    w9 = {
        "entity_type": "individual",
        "date_of_birth": "1990-01-31",
        "tin": "123456789",
        "address": {"line_1": "1 Main St", "city": "Austin", "state": "TX", "country": "US", "postcode": "78701"},
    }
    response = openapi_session.put(f"/v2/users/{user['id']}/compliance", json={"w9": w9})
    assert response.status_code == 200
    compliance = openapi_session.get(f"/v2/users/{user['id']}").json()["compliance"]
    assert compliance["tax_id_collected"] is True and compliance["w9"]["entity_type"] == "individual"


def test_submit_w9_with_a_short_tin_is_refused(emulator, openapi_session):
    user = new_user(openapi_session)
    w9 = {"entity_type": "individual", "date_of_birth": "1990-01-31", "tin": "123",
          "address": {"line_1": "1", "city": "c", "state": "s", "country": "US", "postcode": "1"}}  # fmt: skip
    response = openapi_session.put(f"/v2/users/{user['id']}/compliance", json={"w9": w9})
    assert response.status_code == 400
    assert response.json() == {"error": "w9.tin must be 9 digits", "error_code": "invalid-input"}


W8BEN = {
    "name": "Anna Schmidt",
    "citizenship_country": "DE",
    "date_of_birth": "1985-06-01",
    "foreign_tax_id": "65929970489",
    "tax_treaty_country": "DE",
    "tax_treaty_citation": "Article 12(1)",
    "tax_treaty_rate": 0.15,
    "tax_treaty_income_type": "copyright12",
    "address": {"line_1": "Unter den Linden 1", "city": "Berlin", "country": "DE", "postcode": "10117"},
    "signature": {"consent": True, "name": "Anna Schmidt", "email": "anna@example.com"},
}


def test_submit_w8ben_marks_the_w8_collected(emulator, openapi_session):
    user = new_user(openapi_session)
    response = openapi_session.put(f"/v2/users/{user['id']}/compliance", json={"w8ben": W8BEN})
    assert response.status_code == 200
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["compliance"]["w8_ben_collected"] is True


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"foreign_tax_id": None}, "w8ben.foreign_tax_id is required for this citizenship_country"),
        ({"signature": {"consent": False, "name": "A", "email": "a@example.com"}}, "w8ben.signature must be"),
        ({"tax_treaty_income_type": "royalties"}, "w8ben.tax_treaty_income_type must be one of interest1"),
        ({"tax_treaty_rate": "15%"}, "w8ben.tax_treaty_rate must be a number"),
    ],
)
def test_submit_w8ben_refusals_name_the_field(emulator, openapi_session, change, error):
    user = new_user(openapi_session)
    w8ben = {key: value for key, value in {**W8BEN, **change}.items() if value is not None}
    response = openapi_session.put(f"/v2/users/{user['id']}/compliance", json={"w8ben": w8ben})
    assert response.status_code == 400 and response.json()["error"].startswith(error)
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["compliance"]["w8_ben_collected"] is False


def test_add_address_marks_address_collected(emulator, openapi_session):
    user = new_user(openapi_session)
    address = {"line_1": "1 Main St", "city": "Austin", "state": "TX", "country": "US", "postcode": "78701"}
    response = openapi_session.put(f"/v2/users/{user['id']}/addresses", json=address)
    assert response.status_code == 200
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["compliance"]["address_collected"] is True


def test_add_address_without_city_names_the_field(emulator, openapi_session):
    user = new_user(openapi_session)
    response = openapi_session.put(
        f"/v2/users/{user['id']}/addresses", json={"line_1": "1", "state": "TX", "country": "US", "postcode": "1"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "address.city is required"


# -- payout methods --------------------------------------------------------------------------------------------------


def test_add_ach_payout_method_masks_the_account_number(emulator, openapi_session):
    user = new_user(openapi_session)
    response = openapi_session.put(f"/v2/users/{user['id']}/payout-methods", json=ACH)
    assert response.status_code == 200
    assert response.json()["account_number"] == "********6789"
    assert "000123456789" not in response.text


def test_list_payout_methods_is_a_bare_array_with_the_mask(emulator, openapi_session):
    user = new_user(openapi_session)
    openapi_session.put(f"/v2/users/{user['id']}/payout-methods", json=ACH)
    methods = openapi_session.get(f"/v2/users/{user['id']}/payout-methods").json()
    assert isinstance(methods, list)
    assert [(m["platform"], m["mask"]) for m in methods] == [("ach", "6789")]


def test_first_payout_method_becomes_the_default(emulator, openapi_session):
    user = new_user(openapi_session)
    openapi_session.put(f"/v2/users/{user['id']}/payout-methods", json={"platform": "paypal", "email": "a@b.co"})
    assert openapi_session.get(f"/v2/users/{user['id']}").json()["default_payout_method"] == "paypal"


def test_ach_payout_method_without_routing_number_is_refused(emulator, openapi_session):
    user = new_user(openapi_session)
    response = openapi_session.put(
        f"/v2/users/{user['id']}/payout-methods", json={"platform": "ach", "account_number": "123456789"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "routing_number is required", "error_code": "invalid-input"}


@pytest.mark.parametrize("path", ["payout-methods", "verify"])
def test_sub_resources_of_an_unknown_user_are_404(emulator, openapi_session, path):
    method = openapi_session.get if path == "payout-methods" else openapi_session.post
    response = method(f"/v2/users/{uuid.uuid4()}/{path}", json={"token": "123456"})
    assert response.status_code == 404
