"""Checkout sessions (January 2026 spec): /v2/checkout-sessions (list, create, retrieve).

A session is a hosted payment page for a list of line items. Creating one
creates its payment intent (status `requires_payment_method`) for the total
(sum of amount x quantity) and answers the session `open`, with an `expiry`
`expires_in` seconds (default and maximum 10800) ahead on the emulator clock.

What the payer does on the page is a control:
`POST /_emulator/checkout-sessions/<id>/complete {"payment_method_id"?}` confirms
the intent (money into the app wallet) and makes the session `complete`. An open
session read after its expiry becomes `expired` and its intent `canceled`;
completing an expired or completed session is 400 invalid-state-transition.
`checkout_session_url` points at `GET /_emulator/checkout-sessions/<id>/page`,
a JSON stand-in for the hosted page.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import payment_customers, payment_intents, payment_methods
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route

KIND = "checkout_session"
MAX_EXPIRES_IN = 10_800
_CREATE_FIELDS = frozenset(
    {
        "line_items", "customer_email", "client_reference_id", "success_url", "cancel_url", "mode", "user_id",
        "customer_id", "expires_in", "metadata",
    }
)  # fmt: skip
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def get_checkout_session(ctx: Ctx, session_id: str) -> Doc:
    if ctx.store.app_id_of(KIND, session_id) != ctx.app_id:
        raise ApiError(404, "not-found", "checkout session not found")
    return _expire_if_due(ctx, ctx.store.load(KIND, session_id))


def serialize_checkout_session(doc: Doc) -> Doc:
    return {key: value for key, value in doc.items() if not key.startswith("_") and value is not None}


# -- handlers ------------------------------------------------------------------------------------------


def list_checkout_sessions(ctx: Ctx) -> tuple[int, object]:
    docs = [_expire_if_due(ctx, d) for d in ctx.store.list(KIND, app_id=ctx.app_id)]
    page = ctx.paginate(docs)
    page["data"] = [serialize_checkout_session(d) for d in page["data"]]
    return 200, page


def create(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    unknown = sorted(set(body) - _CREATE_FIELDS)
    if unknown:
        raise ApiError(400, "invalid-input", f"unknown field(s): {', '.join(unknown)}")
    success_url = _require_url(ctx, body, "success_url")
    cancel_url = _require_url(ctx, body, "cancel_url") if body.get("cancel_url") is not None else None
    ctx.require_choice(body, "mode", ("payment",))
    line_items, total = _line_items(ctx, body.get("line_items"))
    customer_email = ctx.optional_str(body, "customer_email")
    if customer_email is not None and not _EMAIL.match(customer_email):
        raise ApiError(400, "invalid-input", "customer_email must be an email address")
    user_id = users_resource.get_user(ctx, body["user_id"])["id"] if body.get("user_id") is not None else None
    customer_id = None
    if body.get("customer_id") is not None:
        customer_id = payment_customers.get_payment_customer(ctx, body["customer_id"])["id"]
    expires_in = ctx.optional_int(body, "expires_in", MAX_EXPIRES_IN, min=0, max=MAX_EXPIRES_IN)
    metadata = ctx.optional(body, "metadata", None, types=(dict,))

    intent = payment_intents.create_payment_intent(
        ctx, amount=total, user_id=user_id, customer_id=customer_id, metadata=metadata
    )
    session_id = ctx.store.new_uuid()
    now = ctx.now()
    doc = {
        "id": session_id,
        "status": "open",
        "payment_intent_id": intent["id"],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "checkout_session_url": f"{_root_url(ctx)}/_emulator/checkout-sessions/{session_id}/page",
        "client_reference_id": ctx.optional_str(body, "client_reference_id"),
        "expiry": ctx.iso(now + timedelta(seconds=expires_in)),
        "metadata": metadata,
        "line_items": line_items,
        "created": ctx.iso(now),
        "updated": ctx.iso(now),
        "customer_id": customer_id,
        "customer_email": customer_email,
        "amount_total": total,
        "_app_id": ctx.app_id,
    }
    ctx.store.insert(KIND, session_id, doc, app_id=ctx.app_id)
    return 200, serialize_checkout_session(doc)


def retrieve(ctx: Ctx, checkout_session_id: str) -> tuple[int, object]:
    return 200, serialize_checkout_session(get_checkout_session(ctx, checkout_session_id))


# -- controls --------------------------------------------------------------------------------------------


def control_complete(ctx: Ctx, session_id: str) -> tuple[int, object]:
    """POST /_emulator/checkout-sessions/<id>/complete {"payment_method_id"?}: the payer pays on the page."""
    doc = ctx.store.get_or_404(KIND, session_id, what="checkout session")
    users_resource.act_for_app(ctx, doc["_app_id"])
    doc = _expire_if_due(ctx, doc)
    if doc["status"] != "open":
        raise ApiError(
            400, "invalid-state-transition", f"checkout session {session_id} is {doc['status']}; it cannot complete"
        )
    method_id = ctx.optional_str(ctx.json, "payment_method_id")
    if method_id is not None:
        payment_methods.get_payment_method(ctx, method_id)
    intent = ctx.store.load(payment_intents.KIND, doc["payment_intent_id"])
    payment_intents.confirm_payment_intent(ctx, intent, payment_method_id=method_id)
    doc["status"] = "complete"
    doc["updated"] = ctx.now_iso()
    ctx.store.put(KIND, session_id, doc)
    return 200, serialize_checkout_session(doc)


def control_page(ctx: Ctx, session_id: str) -> tuple[int, object]:
    """What `checkout_session_url` shows: the items and total (paying is the complete control)."""
    doc = ctx.store.get_or_404(KIND, session_id, what="checkout session")
    return 200, {"id": doc["id"], "status": doc["status"], "amount_total": doc["amount_total"],
                 "line_items": doc["line_items"]}  # fmt: skip


# -- helpers ------------------------------------------------------------------------------------------------


def _expire_if_due(ctx: Ctx, doc: Doc) -> Doc:
    if doc["status"] == "open" and ctx.now() >= datetime.fromisoformat(doc["expiry"].replace("Z", "+00:00")):
        doc["status"] = "expired"
        doc["updated"] = ctx.now_iso()
        ctx.store.put(KIND, doc["id"], doc)
        intent = ctx.store.get(payment_intents.KIND, doc["payment_intent_id"])
        if intent is not None:
            payment_intents.cancel_payment_intent(ctx, intent)
    return doc


def _line_items(ctx: Ctx, items: object) -> tuple[list[Doc], int]:
    if not isinstance(items, list) or not items:
        raise ApiError(400, "invalid-input", "line_items must be a non-empty array")
    out, total = [], 0
    for index, item in enumerate(items):
        where = f"line_items[{index}]"
        if not isinstance(item, dict) or set(item) - {"price_data", "quantity"}:
            raise ApiError(400, "invalid-input", f"{where} must be an object with price_data and quantity only")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise ApiError(400, "invalid-input", f"{where}.quantity must be a positive integer")
        price = item.get("price_data")
        if not isinstance(price, dict) or set(price) - {"currency", "amount", "product_data"}:
            raise ApiError(400, "invalid-input", f"{where}.price_data must have currency, amount and product_data only")
        if price.get("currency") != "usd":
            raise ApiError(400, "invalid-input", f"{where}.price_data.currency must be usd")
        amount = price.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise ApiError(400, "invalid-input", f"{where}.price_data.amount must be a positive integer (cents)")
        product = price.get("product_data")
        if (
            not isinstance(product, dict)
            or set(product) - {"name", "images", "metadata"}
            or not isinstance(product.get("name"), str)
            or not product["name"]
        ):
            raise ApiError(
                400, "invalid-input", f"{where}.price_data.product_data needs a name (and images, metadata only)"
            )
        total += amount * quantity
        out.append({"quantity": quantity, "price_id": f"price_{ctx.store.new_uuid().replace('-', '')[:24]}"})
    return out, total


def _require_url(ctx: Ctx, body: Doc, name: str) -> str:
    value = ctx.require_str(body, name)
    if not _URL.match(value):
        raise ApiError(400, "invalid-input", f"{name} must be an http(s) URL")
    return value


def _root_url(ctx: Ctx) -> str:
    return ctx.request.host_url.rstrip("/") if ctx.request is not None else "http://127.0.0.1"


ROUTES = [
    Route("GET", "/v2/checkout-sessions", list_checkout_sessions),
    Route("POST", "/v2/checkout-sessions", create),
    Route("GET", "/v2/checkout-sessions/<checkout_session_id>", retrieve),
]

CONTROL_ROUTES = [
    Route("POST", "/checkout-sessions/<session_id>/complete", control_complete),
    Route("GET", "/checkout-sessions/<session_id>/page", control_page),
]
