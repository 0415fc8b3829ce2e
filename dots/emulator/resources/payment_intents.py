"""Payment intents (January 2026 spec): /v2/payment-intents (list, create, retrieve, confirm).

An intent collects money into the app. Its status follows what it is missing:
- no payment method yet: `requires_payment_method`
- a method but not confirmed: `requires_confirmation`
- confirmed (create with `confirm: true` and a method, or the confirm route):
  `succeeded` at once; the emulator does not model card authorisation delays.
Success creates a `payment` transfer (emulator-core's `create_transfer`); the
money lands when that transfer completes (control `POST /_emulator/transfers/<id>/advance`
or the `transfer` lifecycle setting): in the app wallet, or, with
`transfer_data.destination_user_id`, the amount less `application_fee_amount` in
that user's wallet and the fee in the app's. A failed transfer fails the intent.
Confirming an intent that already succeeded, or was canceled, is 400
invalid-state-transition. Every change emits `payment_intent.updated`.

The list is a bare JSON array (as the spec documents); a missing intent is 404
with the spec's exact message "PaymentIntent not found".
"""

from __future__ import annotations

import secrets

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import payment_customers, payment_methods, transfers
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route

KIND = "payment_intent"
TRANSFER_PURPOSE = "payment_intent"
CONFIRMABLE = frozenset({"requires_payment_method", "requires_confirmation"})
_CREATE_FIELDS = frozenset(
    {
        "amount", "currency", "confirm", "user_id", "customer_id", "payment_method_id", "payment_method_types",
        "setup_future_usage", "metadata", "transfer_data", "application_fee_amount",
    }
)  # fmt: skip


def get_payment_intent(ctx: Ctx, intent_id: object) -> Doc:
    if not isinstance(intent_id, str) or ctx.store.app_id_of(KIND, intent_id) != ctx.app_id:
        raise ApiError(404, "not-found", "PaymentIntent not found")
    return ctx.store.load(KIND, intent_id)


def create_payment_intent(
    ctx: Ctx,
    *,
    amount: int,
    user_id: str | None = None,
    customer_id: str | None = None,
    payment_method_id: str | None = None,
    metadata: Doc | None = None,
    destination_user_id: str | None = None,
    application_fee_amount: int = 0,
) -> Doc:
    """Store a new intent (not yet confirmed); checkout sessions use this too."""
    intent_id = ctx.store.new_uuid()
    doc = {
        "id": intent_id,
        "amount": amount,
        "currency": "usd",
        "status": "requires_confirmation" if payment_method_id else "requires_payment_method",
        "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
        "_app_id": ctx.app_id,
        "_customer_id": customer_id,
        "_destination_user_id": destination_user_id,
        "_application_fee_amount": application_fee_amount,
        "_created": ctx.now_iso(),
    }
    if user_id is not None:
        doc["user_id"] = user_id
    if payment_method_id is not None:
        doc["payment_method_id"] = payment_method_id
    if metadata is not None:
        doc["metadata"] = metadata
    ctx.store.insert(KIND, intent_id, doc, app_id=ctx.app_id)
    return doc


def confirm_payment_intent(ctx: Ctx, doc: Doc, *, payment_method_id: str | None) -> Doc:
    """Move a confirmable intent to `succeeded` and start its payment transfer; 400 from any other status."""
    if doc["status"] not in CONFIRMABLE:
        raise ApiError(
            400, "invalid-state-transition", f"payment intent {doc['id']} is {doc['status']}; it cannot be confirmed"
        )
    if payment_method_id is not None:
        doc["payment_method_id"] = payment_method_id
    # The payment succeeded; the money settles when its transfer completes (control or the
    # `transfer` lifecycle setting): the app's part then lands in the wallet, and the
    # destination user's part in that user's wallet (see _follow_transfer).
    share = doc["amount"] - doc["_application_fee_amount"] if doc["_destination_user_id"] else 0
    # Stored as succeeded before the transfer exists: a transfer that completes or fails in
    # the same request (lifecycle setting "immediate") calls _follow_transfer, which reads it.
    doc["status"] = "succeeded"
    ctx.store.put(KIND, doc["id"], doc)
    transfer = transfers.create_transfer(
        ctx,
        amount=doc["amount"],
        type="payment",
        user_id=doc.get("user_id"),
        metadata=doc.get("metadata"),
        source_name="Card payment",
        destination_name="App wallet",
        wallet_credit_on_complete=doc["amount"] - share,
        purpose=TRANSFER_PURPOSE,
        purpose_id=doc["id"],
    )
    doc = ctx.store.load(KIND, doc["id"])
    doc["transfer_id"] = transfer["id"]
    ctx.store.put(KIND, doc["id"], doc)
    ctx.emit("payment_intent.updated", {"payment_intent_id": doc["id"]})
    return doc


def _follow_transfer(ctx: Ctx, transfer: Doc, previous: str, reason: str | None) -> None:
    """transfers.FOLLOWERS hook: settle the destination user's share, or fail the intent."""
    doc = ctx.store.get(KIND, transfer["_purpose_id"])
    if doc is None:
        return
    if transfer["status"] == "completed" and doc["_destination_user_id"]:
        share = doc["amount"] - doc["_application_fee_amount"]
        if share > 0 and ctx.store.get(users_resource.USER_KIND, doc["_destination_user_id"]) is not None:
            users_resource.user_wallet_credit(ctx, user_id=doc["_destination_user_id"], cents=share)
    elif transfer["status"] == "failed" and doc["status"] == "succeeded":
        doc["status"] = "failed"
        ctx.store.put(KIND, doc["id"], doc)
        ctx.emit("payment_intent.updated", {"payment_intent_id": doc["id"]})


transfers.FOLLOWERS[TRANSFER_PURPOSE] = _follow_transfer


def cancel_payment_intent(ctx: Ctx, doc: Doc) -> Doc:
    if doc["status"] in CONFIRMABLE:
        doc["status"] = "canceled"
        ctx.store.put(KIND, doc["id"], doc)
        ctx.emit("payment_intent.updated", {"payment_intent_id": doc["id"]})
    return doc


def serialize_payment_intent(doc: Doc) -> Doc:
    return {key: value for key, value in doc.items() if not key.startswith("_")}


# -- handlers -----------------------------------------------------------------------------------------


def list_payment_intents(ctx: Ctx) -> tuple[int, object]:
    # A bare JSON array, as the spec documents for this route (no pagination parameters either).
    return 200, [serialize_payment_intent(d) for d in ctx.store.list(KIND, app_id=ctx.app_id)]


def create(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    unknown = sorted(set(body) - _CREATE_FIELDS)
    if unknown:
        raise ApiError(400, "invalid-input", f"unknown field(s): {', '.join(unknown)}")
    amount = ctx.require_int(body, "amount", min=1)
    ctx.require_choice(body, "currency", ("usd",))
    confirm = ctx.optional(body, "confirm", False, types=(bool,))
    user_id = users_resource.get_user(ctx, body["user_id"])["id"] if body.get("user_id") is not None else None
    customer_id = None
    if body.get("customer_id") is not None:
        customer_id = payment_customers.get_payment_customer(ctx, body["customer_id"])["id"]
    method_id = None
    if body.get("payment_method_id") is not None:
        method_id = payment_methods.get_payment_method(ctx, body["payment_method_id"])["id"]
    types = ctx.optional(body, "payment_method_types", ["card"], types=(list,))
    if any(t != "card" for t in types):
        raise ApiError(400, "invalid-input", "payment_method_types must contain only card")
    ctx.optional(body, "setup_future_usage", None, types=(str,), choices=("on_session",))
    # The spec types the request's metadata as a boolean and the answer's as an object;
    # only an object can be echoed back within the answer's schema.
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
    transfer_data = ctx.optional(body, "transfer_data", {}, types=(dict,))
    destination = None
    if transfer_data.get("destination_user_id") is not None:
        destination = users_resource.get_user(ctx, transfer_data["destination_user_id"])["id"]
    fee = ctx.optional_int(body, "application_fee_amount", 0, min=0, max=amount)
    doc = create_payment_intent(
        ctx,
        amount=amount,
        user_id=user_id,
        customer_id=customer_id,
        payment_method_id=method_id,
        metadata=metadata,
        destination_user_id=destination,
        application_fee_amount=fee,
    )
    if confirm:
        if method_id is None:
            raise ApiError(400, "invalid-input", "confirm: true needs payment_method_id")
        doc = confirm_payment_intent(ctx, doc, payment_method_id=method_id)
    else:
        ctx.emit("payment_intent.updated", {"payment_intent_id": doc["id"]})
    return 200, serialize_payment_intent(doc)


def retrieve(ctx: Ctx, payment_intent_id: str) -> tuple[int, object]:
    return 200, serialize_payment_intent(get_payment_intent(ctx, payment_intent_id))


def confirm(ctx: Ctx, payment_intent_id: str) -> tuple[int, object]:
    doc = get_payment_intent(ctx, payment_intent_id)
    method_id = payment_methods.get_payment_method(ctx, ctx.require_str(ctx.json, "payment_method_id"))["id"]
    doc = confirm_payment_intent(ctx, doc, payment_method_id=method_id)
    return 200, serialize_payment_intent(doc)


ROUTES = [
    Route("GET", "/v2/payment-intents", list_payment_intents),
    Route("POST", "/v2/payment-intents", create),
    Route("GET", "/v2/payment-intents/<payment_intent_id>", retrieve),
    Route("POST", "/v2/payment-intents/<payment_intent_id>/confirm", confirm),
]
