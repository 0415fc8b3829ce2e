"""Accounts-payable vendors and their ACH payment methods.

Account numbers are kept and answered masked to the last four digits only
(NOTES.md decision 9): the emulator never needs the full number, so it never
stores it. Dots has no vendor update endpoint, so there is none here.
"""

from __future__ import annotations

import re

from dots.addresses import US_STATES
from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.routing import Route
from dots.emulator.store import lookup
from dots.redact import mask_account_number

KIND = "ap_vendor"
PAYMENT_METHOD_KIND = "ap_vendor_payment_method"
ACCOUNT_TYPES = ("checking", "savings")
BY_VENDOR = lookup(PAYMENT_METHOD_KIND, "vendor", "$._vendor_id")


def get_vendor(ctx: Ctx, vendor_id: str) -> Doc:
    """The calling app's vendor, or 404 (another app's vendor is not found either)."""
    vendor = ctx.store.get(KIND, vendor_id)
    if vendor is None or vendor.get("api_app_id") != ctx.app_id:
        raise ApiError(404, "not-found", "vendor not found")
    return vendor


def get_payment_method(ctx: Ctx, vendor_id: str | None, payment_method_id: str) -> Doc:
    method = ctx.store.get(PAYMENT_METHOD_KIND, payment_method_id)
    if method is None or method.get("_vendor_id") != vendor_id or method.get("_app_id") != ctx.app_id:
        raise ApiError(404, "not-found", "payment method not found")
    return method


def serialize_payment_method(method: Doc) -> Doc:
    return {key: value for key, value in method.items() if not key.startswith("_")}


# -- vendors ---------------------------------------------------------------------------------------------


def list_vendors(ctx: Ctx) -> tuple[int, object]:
    return 200, ctx.paginate_kind(KIND, app_id=ctx.app_id)


def create_vendor(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    name = ctx.require_str(body, "name", max_len=200)
    contact_email = ctx.optional_str(body, "contact_email")
    if contact_email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact_email):
        raise ApiError(400, "invalid-input", "contact_email must be an email address")
    external_id = ctx.optional_str(body, "external_id")
    description = ctx.optional_str(body, "description")
    address = body.get("address")
    if not isinstance(address, dict):
        raise ApiError(400, "invalid-input", "address is required and must be an object")
    for field in ("line_1", "city", "postcode"):
        ctx.require_str(address, field)
    if address.get("country") != "US":
        raise ApiError(400, "invalid-input", "address.country must be US")
    if address.get("state") not in US_STATES:
        raise ApiError(400, "invalid-input", "address.state must be a US state code")
    clean_address = {
        k: address[k]
        for k in ("line_1", "line_2", "city", "state", "postcode", "country")
        if isinstance(address.get(k), str)
    }
    vendor: Doc = {
        "id": ctx.store.new_uuid(),
        "name": name,
        "active": True,
        "address": clean_address,
        "api_app_id": ctx.app_id,
        "created": ctx.now_iso(),
    }
    if description is not None:
        vendor["description"] = description
    if contact_email is not None:
        vendor["contact_email"] = contact_email
    if external_id is not None:
        vendor["external_id"] = external_id
    ctx.store.insert(KIND, vendor["id"], vendor, app_id=ctx.app_id)
    return 201, vendor


def retrieve_vendor(ctx: Ctx, vendor_id: str) -> tuple[int, object]:
    return 200, get_vendor(ctx, vendor_id)


def delete_vendor(ctx: Ctx, vendor_id: str) -> tuple[int, object]:
    get_vendor(ctx, vendor_id)
    for method in ctx.store.find(BY_VENDOR, vendor_id, app_id=ctx.app_id):
        ctx.store.delete(PAYMENT_METHOD_KIND, method["id"])
    ctx.store.delete(KIND, vendor_id)
    return 200, {"deleted": True, "id": vendor_id, "object": "vendor"}


# -- payment methods -----------------------------------------------------------------------------------------


def list_payment_methods(ctx: Ctx, vendor_id: str) -> tuple[int, object]:
    get_vendor(ctx, vendor_id)
    methods = ctx.store.find(BY_VENDOR, vendor_id, app_id=ctx.app_id)
    return 200, [serialize_payment_method(m) for m in methods]  # a bare array, as the spec says


def create_payment_method(ctx: Ctx, vendor_id: str) -> tuple[int, object]:
    get_vendor(ctx, vendor_id)
    body = ctx.json
    name = ctx.require_str(body, "name", max_len=200)
    account_number = ctx.require_str(body, "ach_account_number")
    if not re.fullmatch(r"[0-9]{4,17}", account_number):
        raise ApiError(400, "invalid-input", "ach_account_number must be 4 to 17 digits")
    routing_number = ctx.require_str(body, "ach_routing_number")
    if not re.fullmatch(r"[0-9]{9}", routing_number):
        raise ApiError(400, "invalid-input", "ach_routing_number must be 9 digits")
    account_type = ctx.require_choice(body, "ach_account_type", ACCOUNT_TYPES)
    method = {
        "id": ctx.store.new_uuid(),
        "name": name,
        "ach_account_number": mask_account_number(account_number),  # only the last four are ever kept
        "ach_routing_number": routing_number,
        "ach_account_type": account_type,
        "_vendor_id": vendor_id,
        "_app_id": ctx.app_id,
    }
    ctx.store.insert(PAYMENT_METHOD_KIND, method["id"], method, app_id=ctx.app_id)
    return 201, serialize_payment_method(method)


def retrieve_payment_method(ctx: Ctx, vendor_id: str, payment_method_id: str) -> tuple[int, object]:
    get_vendor(ctx, vendor_id)
    return 200, serialize_payment_method(get_payment_method(ctx, vendor_id, payment_method_id))


def delete_payment_method(ctx: Ctx, vendor_id: str, payment_method_id: str) -> tuple[int, object]:
    get_vendor(ctx, vendor_id)
    get_payment_method(ctx, vendor_id, payment_method_id)
    ctx.store.delete(PAYMENT_METHOD_KIND, payment_method_id)
    return 200, {"deleted": True, "id": payment_method_id, "object": "payment_method"}


ROUTES = [
    Route("GET", "/v2/accounts-payable/vendors", list_vendors),
    Route("POST", "/v2/accounts-payable/vendors", create_vendor),
    Route("GET", "/v2/accounts-payable/vendors/<vendor_id>", retrieve_vendor),
    Route("DELETE", "/v2/accounts-payable/vendors/<vendor_id>", delete_vendor),
    Route("GET", "/v2/accounts-payable/vendors/<vendor_id>/payment-methods", list_payment_methods),
    Route("POST", "/v2/accounts-payable/vendors/<vendor_id>/payment-methods", create_payment_method),
    Route(
        "GET", "/v2/accounts-payable/vendors/<vendor_id>/payment-methods/<payment_method_id>", retrieve_payment_method
    ),
    Route(
        "DELETE", "/v2/accounts-payable/vendors/<vendor_id>/payment-methods/<payment_method_id>", delete_payment_method
    ),
]
