"""Property-based run of Dots' OpenAPI documents against the running emulator (schemathesis 4).

Every operation the emulator serves is generated from the spec that documents it
(v2.yaml; the January 2026 file only for the routes v2.yaml dropped), sent over
HTTP to the session's emulator, and checked for two things: no 5xx, and no 2xx
body that breaks the documented schema. Generated ids are mostly unknown, so two
of three path ids (and `user_id` / `customer_id` / `payment_method_id` in bodies)
are swapped for objects seeded at the start (`real_ids`), so calls reach past the
404 into the real rules.

SCHEMATHESIS_MODE=all (default positive) also sends data that breaks the spec:
still no 5xx allowed.

Bounded for speed: SCHEMATHESIS_MAX_EXAMPLES (default 8) examples per operation in
the fuzzing phase, plus the spec's own examples; the coverage and stateful phases
are off. Run longer with, for example:

    SCHEMATHESIS_MAX_EXAMPLES=200 SCHEMATHESIS_MODE=all \
        .venv/bin/pytest -m schemathesis tests/dots/emulator/test_schemathesis.py

The spec is loaded with tests.openapi_check.load_spec, so this run and the
response checker read it with the same repairs.
"""

from __future__ import annotations

import os
import re
import uuid
import zlib

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from dots.emulator import controls
from dots.emulator.resources import RESOURCE_MODULES
from tests.openapi_check import load_spec

pytestmark = pytest.mark.schemathesis

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
METHODS = ("get", "post", "put", "patch", "delete")
CHECKS = [not_a_server_error, response_schema_conformance]


def _served_operations() -> set[tuple[str, str]]:
    """(method, spec path template) for every /api route the emulator mounts."""
    served = set()
    for module in RESOURCE_MODULES:
        for route in getattr(module, "ROUTES", []):
            template = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", route.path)
            served.add((route.method.lower(), _shape(template)))
    assert controls  # controls are never under /api; imported only to make that explicit here
    return served


def _shape(template: str) -> str:
    """A path with its parameter names erased, so /x/{id} in the spec matches /x/<x_id> in the emulator."""
    return re.sub(r"\{[^}]+\}", "{}", template)


def _load(name: str, *, skip: set[tuple[str, str]]) -> tuple[dict, set[tuple[str, str]]]:
    """The spec file restricted to served operations not in `skip`; returns it and what it kept."""
    document = load_spec(name)
    served = _served_operations()
    kept: set[tuple[str, str]] = set()
    paths = {}
    for template, item in document.get("paths", {}).items():
        operations = {}
        for method in METHODS:
            key = (method, _shape(template))
            if method in item and key in served and key not in skip:
                operations[method] = item[method]
                kept.add(key)
        if operations:
            shared = {k: v for k, v in item.items() if k not in METHODS}
            paths[template] = {**shared, **operations}
    document["paths"] = paths
    return document, kept


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "mode": os.environ.get("SCHEMATHESIS_MODE", "positive"),
                "database": "none",
            },
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
            "suppress-health-check": ["all"],
        }
    )


CURRENT_DOC, CURRENT_OPS = _load("v2.yaml", skip=set())
OLDER_DOC, _ = _load("v2-2026-01-14.yaml", skip=CURRENT_OPS)
current = schemathesis.openapi.from_dict(CURRENT_DOC, config=_config())
older = schemathesis.openapi.from_dict(OLDER_DOC, config=_config())


@pytest.fixture(scope="module")
def real_ids(emulator_server) -> dict[str, str]:
    """Ids of real objects, so generated calls reach past the 404 of an unknown id.

    Two of three generated path parameters with these names are swapped for the real id
    (chosen by a checksum of the generated value, so a run is repeatable with its seed).
    """
    emulator_server.reset()
    session = requests.Session()
    session.auth = emulator_server.auth
    api = emulator_server.base_url
    emulator_server.settings(user={"mode": "immediate"})  # seeded users are verified, so payouts can pass

    def post(path, body, method="post"):
        response = session.request(method, api + path, json=body, timeout=10)
        assert response.ok, f"seeding {path}: {response.status_code} {response.text}"
        return response.json()

    user = post("/v2/users", {"first_name": "Seed", "last_name": "User", "email": "seed@example.com",
                              "country_code": "1", "phone_number": "4155550999"})  # fmt: skip
    ach = {"platform": "ach", "routing_number": "021000021", "account_number": "000123456789"}
    post(f"/v2/users/{user['id']}/payout-methods", ach, method="put")
    link = post("/v2/payout-links", {"amount": 500, "user_id": user["id"], "delivery": {"method": "sms"}})
    request = post("/v2/payout-requests", {"amount": 700, "user_id": user["id"]})
    customer = post("/v2/payment-customers", {"first_name": "Seed", "email": "payer@example.com"})
    method = emulator_server.control("payment-methods", {"platform": "ach", "routing_number": "021000021",
                                                         "account_number": "000987654321"})  # fmt: skip
    intent = post("/v2/payment-intents", {"amount": 900, "currency": "usd"})
    checkout = post(
        "/v2/checkout-sessions",
        {
            "success_url": "https://shop.example.com/ok",
            "mode": "payment",
            "line_items": [
                {"quantity": 1, "price_data": {"currency": "usd", "amount": 100, "product_data": {"name": "x"}}}
            ],
        },
    )
    payment = post(
        "/v2/payments",
        {
            "customer_id": customer["id"],
            "amount": 300,
            "platform": "ach",
            "ach_info": {"account_number": "000123456789", "routing_number": "021000021"},
        },
    )
    token_user = post("/v2/users", {"first_name": "Seed", "last_name": "Two", "email": "two@example.com",
                                    "country_code": "1", "phone_number": "4155550998"})  # fmt: skip
    post(f"/v2/users/{token_user['id']}/payout-methods", ach, method="put")
    batch = post("/v2/payout-batches", {"items": [{"user_id": token_user["id"], "amount": 100, "platform": "ach",
                                                   "fund": True, "idempotency_key": str(uuid.uuid4())}]})  # fmt: skip
    return {
        "app_id": emulator_server.app_id,
        "user_id": user["id"],
        "payout_link_id": link["id"],
        "payout_request_id": request["id"],
        "payment_customer_id": customer["id"],
        "payment_method_id": method["id"],
        "payment_intent_id": intent["id"],
        "checkout_session_id": checkout["id"],
        "transfer_id": payment["id"],
        "transaction_id": str(payment["transactions"][0]["id"]),
        "payout_batch_id": batch["id"],
    }


# Body fields that name an object, and which seeded id they take.
BODY_IDS = {"user_id": "user_id", "customer_id": "payment_customer_id", "payment_method_id": "payment_method_id"}


def _with_real_ids(case, real_ids: dict[str, str]) -> None:
    for name, value in list((case.path_parameters or {}).items()):
        if name in real_ids and zlib.crc32(repr(value).encode()) % 3:
            case.path_parameters[name] = real_ids[name]
    if isinstance(case.body, dict):
        for field, seeded in BODY_IDS.items():
            value = case.body.get(field)
            if isinstance(value, str) and zlib.crc32(value.encode()) % 3:
                case.body[field] = real_ids[seeded]


def _call_and_check(case, emulator_server, real_ids) -> None:
    _with_real_ids(case, real_ids)
    response = case.call(base_url=emulator_server.base_url, auth=emulator_server.auth, timeout=10)
    case.validate_response(response, checks=CHECKS)


@current.parametrize()
def test_current_spec_operations(case, emulator_server, real_ids):
    _call_and_check(case, emulator_server, real_ids)


@older.parametrize()
def test_january_spec_operations(case, emulator_server, real_ids):
    _call_and_check(case, emulator_server, real_ids)
