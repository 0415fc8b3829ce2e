"""Payment customers: /v2/payment-customers (list, create, retrieve).

A payment customer is someone who pays the app (the inbound side; users are the
payees). Nothing in the create body is required by the spec; the emulator checks
the types it documents, that `email` looks like an address, and that `user_id`
(when given) is a user of the app (404 otherwise). Create answers 200, as the
spec documents (not 201).
"""

from __future__ import annotations

import re

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route

KIND = "payment_customer"
_STRING_FIELDS = ("email", "country_code", "phone_number", "first_name", "middle_name", "last_name", "business_name")
_ADDRESS_REQUIRED = ("country", "city", "state", "postcode", "line_1")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def get_payment_customer(ctx: Ctx, customer_id: object) -> Doc:
    if not isinstance(customer_id, str) or ctx.store.app_id_of(KIND, customer_id) != ctx.app_id:
        raise ApiError(404, "not-found", "payment customer not found")
    return ctx.store.load(KIND, customer_id)


def serialize_payment_customer(doc: Doc) -> Doc:
    return {key: value for key, value in doc.items() if not key.startswith("_") and value is not None}


def list_payment_customers(ctx: Ctx) -> tuple[int, object]:
    page = ctx.paginate(ctx.store.list(KIND, app_id=ctx.app_id))
    page["data"] = [serialize_payment_customer(d) for d in page["data"]]
    return 200, page


def create(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    doc: Doc = {"id": ctx.store.new_uuid()}
    if body.get("user_id") is not None:
        doc["user_id"] = users_resource.get_user(ctx, body["user_id"])["id"]
    for name in _STRING_FIELDS:
        value = ctx.optional_str(body, name)
        if value is not None:
            doc[name] = value
    if "email" in doc and not _EMAIL.match(doc["email"]):
        raise ApiError(400, "invalid-input", "email must be an email address")
    address = body.get("address")
    if address is not None:
        doc["address"] = _address(address)
    metadata = ctx.optional(body, "metadata", None, types=(dict,))
    if metadata is not None:
        doc["metadata"] = metadata
    doc["created"] = doc["updated"] = ctx.now_iso()
    doc["_app_id"] = ctx.app_id
    ctx.store.insert(KIND, doc["id"], doc, app_id=ctx.app_id)
    return 200, serialize_payment_customer(doc)


def retrieve(ctx: Ctx, payment_customer_id: str) -> tuple[int, object]:
    return 200, serialize_payment_customer(get_payment_customer(ctx, payment_customer_id))


def _address(address: object) -> Doc:
    if not isinstance(address, dict):
        raise ApiError(400, "invalid-input", "address must be an object")
    for key in _ADDRESS_REQUIRED:
        if not isinstance(address.get(key), str) or not address[key].strip():
            raise ApiError(400, "invalid-input", f"address.{key} is required")
    out = {}
    for key in (*_ADDRESS_REQUIRED, "line_2"):
        if key in address:
            if not isinstance(address[key], str):
                raise ApiError(400, "invalid-input", f"address.{key} must be a string")
            out[key] = address[key]
    return out


ROUTES = [
    Route("GET", "/v2/payment-customers", list_payment_customers),
    Route("POST", "/v2/payment-customers", create),
    Route("GET", "/v2/payment-customers/<payment_customer_id>", retrieve),
]
