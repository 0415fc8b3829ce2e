"""Payouts: POST /v2/payouts (to a user's saved payout method) and POST /v2/payouts/send-payout.

POST /v2/payouts pays an existing, verified user of the app through one of the
payout methods they saved (`platform`: one of theirs, `default` for their
default, `bank_transfer` meaning their ACH account; or `account_id`, a payout
method id). Refusals, all 400 and with nothing moved:
- `user-not-verified` when the user is not `verified`,
- `payout-method-not-found` when they have no such method,
- `transaction-insufficient-funds` when the money is not there.
Where the money comes from is `fund`: `true` takes it from the app wallet,
`false` (the default) from the user's own Dots wallet. The answer (201) is the
payout transfer (emulator-core's `create_transfer`), status `created`; it
completes or fails by the transfer control or lifecycle setting, and a failure
gives the money back to where it came from.

send-payout pays a person by user id or phone number (201, a payout link): a
verified user with a default payout method is paid at once (the link is created
and claimed by them in the same request); anyone else gets the link by SMS.

Idempotency (`idempotency_key`) is app.py's, generic for every POST.
"""

from __future__ import annotations

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc, Metadata
from dots.emulator.resources import payout_links, transfers
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route

PLATFORMS = ("paypal", "venmo", "ach", "bank_transfer", "cash_app", "default")
FEE_PARTIES = ("user", "platform")
PAYOUT_FIELDS = frozenset(
    {"user_id", "amount", "platform", "account_id", "fund", "tax_exempt", "idempotency_key", "metadata",
     "payout_fee_party"}
)  # fmt: skip
SEND_PAYOUT_FIELDS = frozenset(
    {
        "amount", "user_id", "payee", "delivery", "force_collect_compliance_information", "additional_steps",
        "tax_exempt", "metadata", "memo", "idempotency_key", "payout_fee_party", "accounting_data",
    }
)  # fmt: skip
# A payout funded from the user's own wallet gives the money back to that wallet if it fails.
USER_WALLET_PURPOSE = "user_wallet_payout"


def validate_payout_request(ctx: Ctx, body: Doc, *, where: str = "") -> Doc:
    """Check a payout-create-request body's shape; returns the parsed fields. 400 invalid-input naming the field."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid-input", f"{where or 'body'} must be an object")
    unknown = sorted(set(body) - PAYOUT_FIELDS)
    if unknown:
        raise ApiError(400, "invalid-input", f"{where}unknown field(s): {', '.join(unknown)}")
    try:
        user_id = ctx.require_str(body, "user_id")
        amount = ctx.require_int(body, "amount", min=1)
        platform = ctx.require_choice(body, "platform", PLATFORMS)
        account_id = ctx.optional_str(body, "account_id")
        fund = ctx.optional(body, "fund", False, types=(bool,))
        tax_exempt = ctx.optional(body, "tax_exempt", False, types=(bool,))
        metadata = ctx.optional(body, "metadata", None, types=(str, dict))
        fee_party = ctx.optional(body, "payout_fee_party", None, types=(str,), choices=FEE_PARTIES)
        idempotency_key = ctx.optional_str(body, "idempotency_key")
    except ApiError as exc:
        if where:
            exc.message = f"{where}{exc.message}"
        raise
    return {
        "user_id": user_id,
        "amount": amount,
        "platform": platform,
        "account_id": account_id,
        "fund": fund,
        "tax_exempt": tax_exempt,
        "metadata": metadata,
        "payout_fee_party": fee_party,
        "idempotency_key": idempotency_key,
    }


def execute_payout(
    ctx: Ctx,
    *,
    user_id: str,
    amount: int,
    platform: str,
    account_id: str | None = None,
    fund: bool = False,
    metadata: Metadata = None,
    **_ignored: object,
) -> Doc:
    """Pay a user through a saved payout method; returns the transfer doc. Checks everything before moving money."""
    user = users_resource.get_user(ctx, user_id)
    if user["status"] != "verified":
        raise ApiError(400, "user-not-verified", f"user {user_id} is {user['status']}; only verified users can be paid")
    method = _payout_method(ctx, user, platform=platform, account_id=account_id)
    if not fund:
        users_resource.user_wallet_debit(ctx, user_id=user_id, cents=amount)
    external = {"platform": method["platform"], "account_id": method["id"]}
    transfer = transfers.create_transfer(
        ctx,
        amount=amount,
        type="payout",
        user_id=user_id,
        external_data=external,
        metadata=metadata,
        source_name="App wallet" if fund else f"{user['first_name']} {user['last_name']} wallet",
        destination_name=_method_name(method),
        wallet_debit=amount if fund else 0,
        purpose=None if fund else USER_WALLET_PURPOSE,
        purpose_id=None if fund else user_id,
    )
    users_resource.record_paid_out(ctx, user_id=user_id, cents=amount)
    return transfer


def _follow_user_wallet_payout(ctx: Ctx, transfer: Doc, previous: str, reason: str | None) -> None:
    """transfers.FOLLOWERS hook: a payout from the user's wallet that fails returns to that wallet."""
    if transfer["status"] in ("failed", "canceled", "reversed") and ctx.store.get(
        users_resource.USER_KIND, transfer["_purpose_id"]
    ):
        users_resource.user_wallet_credit(ctx, user_id=transfer["_purpose_id"], cents=transfer["amount"])


transfers.FOLLOWERS[USER_WALLET_PURPOSE] = _follow_user_wallet_payout


# -- handlers -----------------------------------------------------------------------------------------


def create_payout(ctx: Ctx) -> tuple[int, object]:
    fields = validate_payout_request(ctx, ctx.json)
    transfer = execute_payout(ctx, **fields)
    return 201, transfers.serialize_transfer(transfer)


def send_payout(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    unknown = sorted(set(body) - SEND_PAYOUT_FIELDS)
    if unknown:
        raise ApiError(400, "invalid-input", f"unknown field(s): {', '.join(unknown)}")
    amount = ctx.require_int(body, "amount", min=1)
    payee = ctx.optional(body, "payee", None, types=(dict,))
    if payee is not None:
        for name in ("country_code", "phone_number"):
            value = payee.get(name)
            if not isinstance(value, str) or not value.isdigit():
                raise ApiError(400, "invalid-input", f"payee.{name} is required (digits)")
    user = None
    if body.get("user_id") is not None:
        user = users_resource.get_user(ctx, body["user_id"])
    elif payee is not None:
        user = users_resource.find_user_by_phone(
            ctx, country_code=payee["country_code"], phone_number=payee["phone_number"]
        )
    if user is None and payee is None:
        raise ApiError(400, "invalid-input", "user_id or payee is required")
    delivery = ctx.optional(body, "delivery", {}, types=(dict,))
    for flag in ("force_collect_compliance_information",):
        ctx.optional(body, flag, False, types=(bool,))
    steps = ctx.optional(body, "additional_steps", [], types=(list,))
    if any(step not in payout_links.STEP_NAMES for step in steps):
        raise ApiError(400, "invalid-input", f"additional_steps must be among {', '.join(payout_links.STEP_NAMES)}")
    accounting = ctx.optional(body, "accounting_data", None, types=(dict,))
    metadata = ctx.optional(body, "metadata", None, types=(str, dict))

    pays_at_once = (
        user is not None
        and user["status"] == "verified"
        and users_resource.default_payout_method_of(ctx, user) is not None
        and not steps
    )
    link = payout_links.create_payout_link(
        ctx,
        amount=amount,
        user=user,
        payee=None
        if user is not None
        else {"country_code": payee["country_code"], "phone_number": payee["phone_number"]},
        delivery_method="link" if pays_at_once else "sms",
        message=ctx.optional_str(delivery, "message"),
        tax_exempt=ctx.optional(body, "tax_exempt", False, types=(bool,)),
        metadata=metadata,
        memo=ctx.optional_str(body, "memo"),
        accounting_data=accounting,
        payout_fee_party=ctx.optional(body, "payout_fee_party", None, types=(str,), choices=FEE_PARTIES),
        additional_steps=steps,
    )
    if pays_at_once and user is not None and link["status"] != "claimed":
        link = payout_links.advance_payout_link(ctx, link, "claimed", claimant_user_id=user["id"])
    return 201, payout_links.serialize_payout_link(link)


# -- helpers -----------------------------------------------------------------------------------------------


def _payout_method(ctx: Ctx, user: Doc, *, platform: str, account_id: str | None) -> Doc:
    methods = users_resource.payout_methods_of(ctx, user["id"])
    if account_id is not None:
        method = next((m for m in methods if m["id"] == account_id), None)
        what = f"payout method {account_id}"
    elif platform == "default":
        method = users_resource.default_payout_method_of(ctx, user)
        what = "default payout method"
    else:
        wanted = "ach" if platform == "bank_transfer" else platform
        method = next((m for m in methods if m["platform"] == wanted), None)
        what = f"a {wanted} payout method"
    if method is None:
        raise ApiError(400, "payout-method-not-found", f"user {user['id']} has no {what}")
    return method


def _method_name(method: Doc) -> str:
    if method["platform"] == "ach":
        return f"Bank account ending {method.get('mask', '')}"
    platform: str = method["platform"]
    return platform


ROUTES = [
    Route("POST", "/v2/payouts", create_payout),
    Route("POST", "/v2/payouts/send-payout", send_payout),
]
