"""Payments: POST /v2/payments (a user or payment customer pays the app by ACH).

The body names exactly one payer (`user_id` or `customer_id`) and exactly one
bank account: `account_id` (a payout method of that user, or a payment method
attached to that customer) or `ach_info` (account and routing number), as the
spec's oneOf rules say. The answer (201) is a `payment` transfer, status
`created`: an ACH debit takes days, so the app wallet is credited only when the
transfer completes (the transfer control or lifecycle setting), and a failed
one credits nothing.
"""

from __future__ import annotations

import re

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import payment_customers, payment_methods, transfers
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route

ACCOUNT_TYPES = ("checking", "savings")


def create_payment(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    amount = ctx.require_int(body, "amount", min=1)
    ctx.require_choice(body, "platform", ("ach",))
    has_user, has_customer = body.get("user_id") is not None, body.get("customer_id") is not None
    if has_user == has_customer:
        raise ApiError(400, "invalid-input", "exactly one of user_id or customer_id is required")
    has_account, has_ach = body.get("account_id") is not None, body.get("ach_info") is not None
    if has_account == has_ach:
        raise ApiError(400, "invalid-input", "exactly one of account_id or ach_info is required for ach")

    if has_user:
        user = users_resource.get_user(ctx, body["user_id"])
        payer_id, payer_name, user_id = user["id"], f"{user['first_name']} {user['last_name']}", user["id"]
    else:
        customer = payment_customers.get_payment_customer(ctx, body["customer_id"])
        payer_id, user_id = customer["id"], customer.get("user_id")
        payer_name = " ".join(filter(None, (customer.get("first_name"), customer.get("last_name")))) or "Customer"

    if has_account:
        method = payment_methods.get_payment_method(ctx, body["account_id"])
        owner = method.get("_user_id") if has_user else method.get("_customer_id")
        if owner != payer_id or method["platform"] != "ach":
            raise ApiError(400, "invalid-input", f"account_id {method['id']} is not an ACH account of this payer")
        external = {"platform": "ach", "account_id": method["id"]}
        mask = method.get("mask", "")
    else:
        ach = _ach_info(body["ach_info"])
        external = {"platform": "ach"}
        mask = ach["account_number"][-4:]

    metadata = body.get("metadata")
    transfer = transfers.create_transfer(
        ctx,
        amount=amount,
        type="payment",
        user_id=user_id,
        external_data=external,
        metadata=metadata if isinstance(metadata, (str, dict)) else None,
        source_name=f"{payer_name} (account ending {mask})",
        destination_name="App wallet",
        wallet_credit_on_complete=amount,
    )
    return 201, transfers.serialize_transfer(transfer)


def _ach_info(info: object) -> Doc:
    if not isinstance(info, dict):
        raise ApiError(400, "invalid-input", "ach_info must be an object")
    account = info.get("account_number")
    routing = info.get("routing_number")
    if not isinstance(account, str) or not re.fullmatch(r"[0-9]{7,17}", account):
        raise ApiError(400, "invalid-input", "ach_info.account_number must be 7 to 17 digits")
    if not isinstance(routing, str) or not re.fullmatch(r"[0-9]{9}", routing):
        raise ApiError(400, "invalid-input", "ach_info.routing_number must be 9 digits")
    if info.get("account_type") is not None and info["account_type"] not in ACCOUNT_TYPES:
        raise ApiError(400, "invalid-input", "ach_info.account_type must be checking or savings")
    return info


ROUTES = [
    Route("POST", "/v2/payments", create_payment),
]
