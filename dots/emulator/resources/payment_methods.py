"""Payment methods (January 2026 spec): /v2/payment-methods (list, retrieve, attach, detach).

The API has no route that creates a payment method: Dots collects them in its
own UI (checkout, onboarding). In the emulator they come from two places:
- a user's payout methods (`PUT /v2/users/<id>/payout-methods`), stored as the
  same `payment_method` documents, and
- the control `POST /_emulator/payment-methods {"platform": "ach",
  "account_number", "routing_number", "account_type"?, "customer_id"?}`, which
  plays the part of the payer entering their bank details.

Attach ties a method to a payment customer (404 for an unknown customer, 400
payment-method-already-attached when it belongs to another customer; attaching
to the same customer again is a no-op). Detach unties it (400
invalid-state-transition when it is not attached, or attached to a different
customer than the one named). Both emit `payment_method.updated`.

The spec's payment-method shape has no customer field, so attachment shows only
through `GET /v2/payment-methods?customer_id=...`.
"""

from __future__ import annotations

import re

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import payment_customers
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route
from dots.emulator.store import lookup

KIND = users_resource.PAYMENT_METHOD_KIND
BY_CUSTOMER = lookup(KIND, "customer", "$._customer_id")


def get_payment_method(ctx: Ctx, method_id: object) -> Doc:
    if not isinstance(method_id, str) or ctx.store.app_id_of(KIND, method_id) != ctx.app_id:
        raise ApiError(404, "not-found", "payment method not found")
    return ctx.store.load(KIND, method_id)


def list_payment_methods(ctx: Ctx) -> tuple[int, object]:
    customer_id = ctx.query.get("customer_id")
    if customer_id:
        methods = ctx.store.find(BY_CUSTOMER, customer_id, app_id=ctx.app_id)
    else:
        methods = ctx.store.list(KIND, app_id=ctx.app_id)
    # The spec types `limit` as a number here; ctx.paginate accepts only integers 1-100.
    page = ctx.paginate(methods)
    page["data"] = [users_resource.serialize_payment_method(m) for m in page["data"]]
    return 200, page


def retrieve(ctx: Ctx, payment_method_id: str) -> tuple[int, object]:
    return 200, users_resource.serialize_payment_method(get_payment_method(ctx, payment_method_id))


def attach(ctx: Ctx, payment_method_id: str) -> tuple[int, object]:
    method = get_payment_method(ctx, payment_method_id)
    customer_id = ctx.require_str(ctx.json, "customer_id")
    payment_customers.get_payment_customer(ctx, customer_id)
    current = method.get("_customer_id")
    if current == customer_id:
        return 200, users_resource.serialize_payment_method(method)
    if current is not None:
        raise ApiError(
            400,
            "payment-method-already-attached",
            f"payment method {payment_method_id} is attached to another customer; detach it first",
        )
    method["_customer_id"] = customer_id
    ctx.store.put(KIND, payment_method_id, method)
    ctx.emit("payment_method.updated", {"payment_method_id": payment_method_id})
    return 200, users_resource.serialize_payment_method(method)


def detach(ctx: Ctx, payment_method_id: str) -> tuple[int, object]:
    method = get_payment_method(ctx, payment_method_id)
    named = ctx.optional_str(ctx.json, "customer_id")
    current = method.get("_customer_id")
    if current is None:
        raise ApiError(
            400, "invalid-state-transition", f"payment method {payment_method_id} is not attached to a customer"
        )
    if named is not None and named != current:
        raise ApiError(
            400, "invalid-state-transition", f"payment method {payment_method_id} is not attached to customer {named}"
        )
    method["_customer_id"] = None
    ctx.store.put(KIND, payment_method_id, method)
    ctx.emit("payment_method.updated", {"payment_method_id": payment_method_id})
    return 200, users_resource.serialize_payment_method(method)


def control_create(ctx: Ctx) -> tuple[int, object]:
    """POST /_emulator/payment-methods: a payer's bank account, as Dots' hosted form would collect it."""
    body = ctx.json
    ctx.require_choice(body, "platform", ("ach",))
    routing = ctx.require_str(body, "routing_number")
    account = ctx.require_str(body, "account_number")
    if not re.fullmatch(r"[0-9]{9}", routing):
        raise ApiError(400, "invalid-input", "routing_number must be 9 digits")
    if not re.fullmatch(r"[0-9]{4,17}", account):
        raise ApiError(400, "invalid-input", "account_number must be 4 to 17 digits")
    customer_id = ctx.optional_str(body, "customer_id")
    if customer_id is not None:
        payment_customers.get_payment_customer(ctx, customer_id)
    method = {
        "id": ctx.store.new_uuid(),
        "platform": "ach",
        "mask": account[-4:],
        "rtp_enabled": False,
        "_app_id": ctx.app_id,
        "_user_id": None,
        "_customer_id": customer_id,
        "_routing_number": routing,
        "_account_number": account,
        "_account_type": ctx.optional(body, "account_type", "checking", types=(str,), choices=("checking", "savings")),
    }
    ctx.store.insert(KIND, method["id"], method, app_id=ctx.app_id)
    return 201, users_resource.serialize_payment_method(method)


ROUTES = [
    Route("GET", "/v2/payment-methods", list_payment_methods),
    Route("GET", "/v2/payment-methods/<payment_method_id>", retrieve),
    Route("POST", "/v2/payment-methods/<payment_method_id>/attach", attach),
    Route("POST", "/v2/payment-methods/<payment_method_id>/detach", detach),
]

CONTROL_ROUTES = [
    Route("POST", "/payment-methods", control_create),
]
