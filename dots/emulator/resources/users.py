"""Users: /v2/users and its sub-resources (compliance, verification, payout methods, addresses).

A user is the payee side of Dots: someone who receives payouts. Users start
`unverified` and become `verified` by the SMS token flow
(send-verification-token, then verify). The emulator does not send SMS: it keeps
the six-digit token it would have sent, and tests read it with the control
`GET /_emulator/users/<user_id>/verification-token`. A token is good for 10
minutes of emulator time and for one successful verify.

Duplicate phone numbers: the spec does not say what Dots answers when a user
with the same country code and phone number already exists in the app. We
answer 400 `user-already-exists` and put the existing user's id in the error
body (`"user_id"`) and the message, so a caller can link to that user instead of
guessing.

Payout methods are stored as `payment_method` documents (the same kind the
January 2026 `/v2/payment-methods` routes read), one per platform per user; a
newer method for a platform replaces the older one. Account numbers are never
returned whole: only the last four digits (NOTES.md decision 9).

The user's wallet (`wallet.amount`...) starts at zero; `user_wallet_credit` and
`user_wallet_debit` below are the only writers, for other resources (payouts
with `fund: false`, transfers to a user) to call.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from dots.emulator import lifecycles
from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc, Metadata
from dots.emulator.resources import user_fields as fields
from dots.emulator.routing import Route
from dots.emulator.store import lookup

USER_KIND = "user"
PAYMENT_METHOD_KIND = "payment_method"
TOKEN_TTL = timedelta(minutes=10)
# Indexed: a create looks the phone up, so it must not read every stored user (store.py, Lookup).
BY_PHONE = lookup(USER_KIND, "phone", "$.phone_number.country_code", "$.phone_number.phone_number")
BY_USER = lookup(PAYMENT_METHOD_KIND, "user", "$._user_id")

RAILS = fields.RAILS
USER_STATUSES = ("verified", "unverified", "in_review", "disabled")
PAYOUT_METHOD_PLATFORMS = ("paypal", "venmo", "cash_app", "ach")
ACCOUNT_TYPES = ("checking", "savings")

# Payouts above this per calendar year oblige the platform to collect a 1099 (US rule of thumb Dots applies).
MUST_COLLECT_1099_CENTS = 60_000

_COUNTRY_CODE = re.compile(r"^[0-9]{1,3}$")
_PHONE = re.compile(r"^[0-9]{1,20}$")
_CREATE_FIELDS = frozenset(
    {
        "first_name", "last_name", "email", "country_code", "phone_number", "username",
        "date_of_birth", "1099_adjustment", "metadata", "payout_options_exclude_list",
    }
)  # fmt: skip


class UserAlreadyExists(ApiError):
    """400 user-already-exists that also names the existing user, so callers can link to it."""

    def __init__(self, user_id: str) -> None:
        super().__init__(400, "user-already-exists", f"a user with this phone number already exists: {user_id}")
        self.user_id = user_id

    def body(self) -> Doc:
        return {**super().body(), "user_id": self.user_id}


# -- lookups shared by other resources -------------------------------------------------------


def get_user(ctx: Ctx, user_id: object, *, app_id: str | None = None) -> Doc:
    """The app's user or 404 "user not found" (another app's user is not found either)."""
    app_id = app_id or ctx.app_id
    if not isinstance(user_id, str) or ctx.store.app_id_of(USER_KIND, user_id) != app_id:
        raise ApiError(404, "not-found", "user not found")
    return ctx.store.load(USER_KIND, user_id)


def find_user_by_phone(ctx: Ctx, *, country_code: str, phone_number: str, app_id: str | None = None) -> Doc | None:
    found = ctx.store.find(BY_PHONE, country_code, phone_number, app_id=app_id or ctx.app_id)
    return found[0] if found else None


def payout_methods_of(ctx: Ctx, user_id: str) -> list[Doc]:
    """The user's payout methods (stored payment_method docs), oldest first."""
    return ctx.store.find(BY_USER, user_id, oldest_first=True)


def default_payout_method_of(ctx: Ctx, user: Doc) -> Doc | None:
    method_id = user.get("_default_payout_method_id")
    return ctx.store.get(PAYMENT_METHOD_KIND, method_id) if method_id else None


def insert_user(
    ctx: Ctx,
    *,
    first_name: str,
    last_name: str,
    email: str,
    country_code: str,
    phone_number: str,
    status: str = "unverified",
    app_id: str | None = None,
    date_of_birth: str | None = None,
    username: str | None = None,
    metadata: Metadata = None,
    adjustment_1099: Doc | None = None,
    payout_options_exclude_list: list[str] | None = None,
) -> Doc:
    """Store a new user; also used when a payout link is claimed by someone who had no user yet."""
    app_id = app_id or ctx.app_id
    user: Doc = {
        "id": ctx.store.new_uuid(),
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "phone_number": {"country_code": country_code, "phone_number": phone_number},
        "wallet": {"amount": 0, "withdrawable_amount": 0, "credit_balance": 0},
        "status": status,
        "compliance": _initial_compliance(date_of_birth_collected=date_of_birth is not None),
        "metadata": metadata,
        "payout_options_exclude_list": payout_options_exclude_list or [],
        "_created": ctx.now_iso(),
        "_app_id": app_id,
        "_username": username,
        "_date_of_birth": date_of_birth,
        "_auto_payout_enabled": False,
        "_default_payout_method_id": None,
        "_paid_out_by_year": {},
    }
    if adjustment_1099 is not None:
        user["1099_adjustment"] = adjustment_1099
    return ctx.store.insert(USER_KIND, user["id"], user, app_id=app_id)


def user_wallet_credit(ctx: Ctx, *, user_id: str, cents: int) -> Doc:
    user = ctx.store.get_or_404(USER_KIND, user_id, what="user")
    user["wallet"]["amount"] += cents
    user["wallet"]["withdrawable_amount"] += cents
    return ctx.store.put(USER_KIND, user_id, user)


def user_wallet_debit(ctx: Ctx, *, user_id: str, cents: int) -> Doc:
    """Take from the user's wallet; 400 transaction-insufficient-funds when the withdrawable amount is short."""
    user = ctx.store.get_or_404(USER_KIND, user_id, what="user")
    if cents > user["wallet"]["withdrawable_amount"]:
        raise ApiError(
            400,
            "transaction-insufficient-funds",
            f"insufficient funds: user {user_id} has {user['wallet']['withdrawable_amount']} cents withdrawable, "
            f"needed {cents}",
        )
    user["wallet"]["amount"] -= cents
    user["wallet"]["withdrawable_amount"] -= cents
    return ctx.store.put(USER_KIND, user_id, user)


def record_paid_out(ctx: Ctx, *, user_id: str, cents: int) -> Doc:
    """Count a payout toward the user's yearly total; crossing $600 makes a 1099 due."""
    user = ctx.store.get_or_404(USER_KIND, user_id, what="user")
    year = str(ctx.now().year)
    totals = user.setdefault("_paid_out_by_year", {})
    totals[year] = totals.get(year, 0) + cents
    if totals[year] >= MUST_COLLECT_1099_CENTS:
        user["compliance"]["must_collect_1099"] = True
    return ctx.store.put(USER_KIND, user_id, user)


def act_for_app(ctx: Ctx, app_id: str) -> None:
    """Make a control act as the app that owns the object (wallet, new rows, webhooks).

    Controls have no credentials, so app.py binds them to the default app (or the
    Api-App-Id header); an object's own app is the right one for its side effects.
    """
    ctx.app_id = app_id
    ctx._app = None  # Ctx.app loads lazily from app_id; drop a copy of the other app, if loaded


# -- serializers --------------------------------------------------------------------------------


def serialize_user(ctx: Ctx, user: Doc) -> Doc:
    out = {key: value for key, value in user.items() if not key.startswith("_")}
    method = default_payout_method_of(ctx, user)
    if method is not None:
        out["default_payout_method"] = method["platform"]
        out["default_payout_method_details"] = serialize_payment_method(method)
    return out


def serialize_payment_method(method: Doc) -> Doc:
    """The spec's payment-method shape: never the account number, only `mask` (last four)."""
    return {key: value for key, value in method.items() if not key.startswith("_")}


def serialize_added_payout_method(method: Doc) -> Doc:
    """PUT payout-methods answers with account/routing number fields: masked to the last four."""
    out = serialize_payment_method(method)
    out.pop("mask", None)
    if method["platform"] == "ach":
        out["account_number"] = mask_number(method["_account_number"])
        out["routing_number"] = method["_routing_number"]
        out["account_type"] = method["_account_type"]
    if method.get("_handle"):
        out["handle"] = method["_handle"]
    return out


def mask_number(number: str) -> str:
    return "*" * max(0, len(number) - 4) + number[-4:]


# -- handlers -------------------------------------------------------------------------------------


def list_users(ctx: Ctx) -> tuple[int, object]:
    status = ctx.query.get("status")
    if status is not None and status not in USER_STATUSES:
        raise ApiError(400, "invalid-input", f"status must be one of {', '.join(USER_STATUSES)}")
    users = ctx.store.list(USER_KIND, app_id=ctx.app_id)
    if status is not None:
        users = [u for u in users if u["status"] == status]
    page = ctx.paginate(users)
    page["data"] = [serialize_user(ctx, u) for u in page["data"]]
    return 200, page


def create_user(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    fields.reject_unknown_fields(body, _CREATE_FIELDS)
    first_name = ctx.require_str(body, "first_name", max_len=50)
    last_name = ctx.require_str(body, "last_name", max_len=50)
    email = fields.require_email(ctx, body, "email")
    country_code = ctx.require_str(body, "country_code")
    phone_number = ctx.require_str(body, "phone_number")
    if not _COUNTRY_CODE.match(country_code):
        raise ApiError(400, "invalid-input", "country_code must be 1 to 3 digits")
    if not _PHONE.match(phone_number):
        raise ApiError(400, "invalid-input", "phone_number must be 1 to 20 digits")
    username = ctx.optional_str(body, "username", max_len=50)
    date_of_birth = fields.optional_date(ctx, body, "date_of_birth")
    metadata = fields.optional_metadata(body)
    adjustment = fields.optional_1099_adjustment(body)
    exclude = fields.optional_rail_list(body, "payout_options_exclude_list")

    existing = find_user_by_phone(ctx, country_code=country_code, phone_number=phone_number)
    if existing is not None:
        raise UserAlreadyExists(existing["id"])

    user = insert_user(
        ctx,
        first_name=first_name,
        last_name=last_name,
        email=email,
        country_code=country_code,
        phone_number=phone_number,
        username=username,
        date_of_birth=date_of_birth,
        metadata=metadata,
        adjustment_1099=adjustment,
        payout_options_exclude_list=exclude,
    )
    auto = lifecycles.auto_outcome_on_create(ctx.store, "user")
    if auto is not None:
        user = _set_status(ctx, user, auto[0])
    return 201, serialize_user(ctx, user)


def retrieve_user(ctx: Ctx, user_id: str) -> tuple[int, object]:
    user = _maybe_advance_on_read(ctx, get_user(ctx, user_id))
    return 200, serialize_user(ctx, user)


def update_user(ctx: Ctx, user_id: str) -> tuple[int, object]:
    user = get_user(ctx, user_id)
    body = ctx.json
    fields.reject_unknown_fields(
        body,
        {"default_payout_method", "auto_payout_enabled", "date_of_birth", "1099_adjustment", "metadata",
         "payout_options_exclude_list"},
    )  # fmt: skip
    default_changed = False
    if body.get("default_payout_method") is not None:
        platform = ctx.require_choice(body, "default_payout_method", RAILS)
        method = next((m for m in payout_methods_of(ctx, user_id) if m["platform"] == platform), None)
        if method is None:
            raise ApiError(
                400, "invalid-input", f"default_payout_method {platform} is not a payout method this user has added"
            )
        default_changed = user["_default_payout_method_id"] != method["id"]
        user["_default_payout_method_id"] = method["id"]
    if "auto_payout_enabled" in body:
        user["_auto_payout_enabled"] = ctx.optional(body, "auto_payout_enabled", False, types=(bool,))
    if body.get("date_of_birth") is not None:
        user["_date_of_birth"] = fields.optional_date(ctx, body, "date_of_birth")
        user["compliance"]["date_of_birth_collected"] = True
    if body.get("1099_adjustment") is not None:
        user["1099_adjustment"] = fields.optional_1099_adjustment(body)
    if "metadata" in body:
        user["metadata"] = fields.optional_metadata(body)
    if body.get("payout_options_exclude_list") is not None:
        user["payout_options_exclude_list"] = fields.optional_rail_list(body, "payout_options_exclude_list")
    ctx.store.put(USER_KIND, user_id, user)
    ctx.emit("user.updated", {"user_id": user_id, "metadata": user["metadata"]})
    if default_changed:
        ctx.emit("user.updated.default_payout_method_changed", {"user_id": user_id, "metadata": user["metadata"]})
    return 200, serialize_user(ctx, user)


def delete_user(ctx: Ctx, user_id: str) -> tuple[int, object]:
    user = get_user(ctx, user_id)
    answer = serialize_user(ctx, user)
    for method in payout_methods_of(ctx, user_id):
        ctx.store.delete(PAYMENT_METHOD_KIND, method["id"])
    ctx.store.delete(USER_KIND, user_id)
    return 200, answer


def submit_compliance(ctx: Ctx, user_id: str) -> tuple[int, object]:
    """PUT compliance: a W-9 (US person) and/or a W-8BEN (foreign person). Answers the updated user."""
    user = get_user(ctx, user_id)
    body = ctx.json
    fields.reject_unknown_fields(body, {"w9", "w8ben"})
    w9 = ctx.optional(body, "w9", types=(dict,))
    w8ben = ctx.optional(body, "w8ben", types=(dict,))
    if w9 is None and w8ben is None:
        raise ApiError(400, "invalid-input", "w9 or w8ben is required")
    compliance = user["compliance"]
    if w9 is not None:
        entity_type = ctx.require_choice(w9, "entity_type", ("individual", "business"))
        fields.require_date(ctx, w9, "date_of_birth", prefix="w9.")
        tin = w9.get("tin")
        if not isinstance(tin, str) or not re.fullmatch(r"[0-9]{9}", tin):
            raise ApiError(400, "invalid-input", "w9.tin must be 9 digits")
        fields.require_address(w9.get("address"), "w9.address", ("line_1", "city", "state", "country", "postcode"))
        business_name = ctx.optional_str(w9, "business_name")
        if entity_type == "business" and not business_name:
            raise ApiError(400, "invalid-input", "w9.business_name is required for a business")
        compliance["w9"] = {"entity_type": entity_type, "tax_id_collected": True, "address_collected": True}
        if business_name:
            compliance["w9"]["business_name"] = business_name
        compliance["tax_id_collected"] = True
        # A real TIN match takes days at the IRS; the emulator matches at once.
        compliance["tax_id_verification"] = "matched"
        compliance["address_collected"] = True
        compliance["date_of_birth_collected"] = True
        compliance["1099_collected"] = True
        user["_tin_last4"] = tin[-4:]
    if w8ben is not None:
        fields.check_w8ben(ctx, w8ben)
        compliance["w8_ben_collected"] = True
        compliance["address_collected"] = True
        compliance["date_of_birth_collected"] = True
    ctx.store.put(USER_KIND, user_id, user)
    ctx.emit("user.updated", {"user_id": user_id, "metadata": user["metadata"]})
    return 200, serialize_user(ctx, user)


def send_verification_token(ctx: Ctx, user_id: str) -> tuple[int, object]:
    user = get_user(ctx, user_id)
    body = ctx.json
    use_voice = ctx.optional(body, "use_voice", False, types=(bool,))
    if user["status"] == "disabled":
        raise ApiError(400, "invalid-state-transition", f"user {user_id} is disabled; no token is sent")
    user["_verification"] = {
        "token": f"{secrets.randbelow(1_000_000):06d}",
        "expires": ctx.iso(ctx.now() + TOKEN_TTL),
        "channel": "voice" if use_voice else "sms",
    }
    ctx.store.put(USER_KIND, user_id, user)
    return 202, {"success": True, "channel": user["_verification"]["channel"]}


def verify_user(ctx: Ctx, user_id: str) -> tuple[int, object]:
    user = get_user(ctx, user_id)
    token = ctx.require_str(ctx.json, "token")
    if not token.isascii():
        # compare_digest takes ASCII text only; a token is digits, so anything else is bad input.
        raise ApiError(400, "invalid-input", "token must be the digits that were sent")
    pending = user.get("_verification")
    if pending is None:
        raise ApiError(400, "invalid-verification-token", "no verification token was sent to this user")
    if ctx.now() > fields.parse_iso(pending["expires"]):
        raise ApiError(400, "invalid-verification-token", "the verification token has expired; send a new one")
    if not secrets.compare_digest(token, pending["token"]):
        raise ApiError(400, "invalid-verification-token", "incorrect token")
    user["_verification"] = None
    ctx.store.put(USER_KIND, user_id, user)
    if user["status"] != "verified":
        user = _set_status(ctx, user, "verified")
    return 200, serialize_user(ctx, user)


def list_payout_methods(ctx: Ctx, user_id: str) -> tuple[int, object]:
    get_user(ctx, user_id)
    # A bare JSON array, as the spec documents for this route.
    return 200, [serialize_payment_method(m) for m in payout_methods_of(ctx, user_id)]


def add_payout_method(ctx: Ctx, user_id: str) -> tuple[int, object]:
    user = get_user(ctx, user_id)
    body = ctx.json
    platform = ctx.require_choice(body, "platform", PAYOUT_METHOD_PLATFORMS)
    method = {"id": ctx.store.new_uuid(), "platform": platform, "_user_id": user_id, "_app_id": user["_app_id"]}
    if platform == "ach":
        routing = ctx.require_str(body, "routing_number")
        account = ctx.require_str(body, "account_number")
        if not re.fullmatch(r"[0-9]{9}", routing):
            raise ApiError(400, "invalid-input", "routing_number must be 9 digits")
        if not re.fullmatch(r"[0-9]{4,17}", account):
            raise ApiError(400, "invalid-input", "account_number must be 4 to 17 digits")
        method.update(
            {
                "mask": account[-4:],
                # RTP reaches most banks; the emulator says yes so instant payouts can be shown.
                "rtp_enabled": True,
                "_routing_number": routing,
                "_account_number": account,
                "_account_type": ctx.optional(body, "account_type", "checking", types=(str,), choices=ACCOUNT_TYPES),
            }
        )
    elif platform == "paypal":
        email = ctx.optional_str(body, "email")
        phone = ctx.optional_str(body, "phone_number")
        if not email and not phone:
            raise ApiError(400, "invalid-input", "email or phone_number is required for paypal")
        if email:
            method["email"] = email
        if phone:
            method["phone_number"] = phone
    elif platform == "venmo":
        phone = ctx.optional_str(body, "phone_number")
        handle = ctx.optional_str(body, "handle")
        if not phone and not handle:
            raise ApiError(400, "invalid-input", "phone_number or handle is required for venmo")
        if phone:
            method["phone_number"] = phone
        if handle:
            method["_handle"] = handle
    else:  # cash_app
        method["cash_tag"] = ctx.require_str(body, "cash_tag")
    if "metadata" in body:
        method["meta"] = body["metadata"]

    # One method per platform: a new one replaces the old (and keeps the default if it was the default).
    replaced = next((m for m in payout_methods_of(ctx, user_id) if m["platform"] == platform), None)
    was_default = replaced is not None and user["_default_payout_method_id"] == replaced["id"]
    if replaced is not None:
        ctx.store.delete(PAYMENT_METHOD_KIND, replaced["id"])
    ctx.store.insert(PAYMENT_METHOD_KIND, method["id"], method, app_id=user["_app_id"])

    is_default = ctx.optional(body, "is_default", None, types=(bool,))
    default_changed = False
    if is_default or was_default or user["_default_payout_method_id"] is None:
        default_changed = not was_default
        user["_default_payout_method_id"] = method["id"]
    auto_payout = ctx.optional(body, "auto_payout_enabled", None, types=(bool,))
    if auto_payout is not None:
        user["_auto_payout_enabled"] = auto_payout
    user["compliance"]["flags"]["payout_method"] = False
    ctx.store.put(USER_KIND, user_id, user)
    ctx.emit("user.updated.payout_method", {"user_id": user_id, "metadata": user["metadata"]})
    if default_changed:
        ctx.emit("user.updated.default_payout_method_changed", {"user_id": user_id, "metadata": user["metadata"]})
    return 200, serialize_added_payout_method(method)


def add_address(ctx: Ctx, user_id: str) -> tuple[int, object]:
    user = get_user(ctx, user_id)
    body = ctx.json
    fields.require_address(body, "address", ("line_1", "city", "state", "country", "postcode"))
    user["_address"] = {
        key: body[key] for key in ("line_1", "line_2", "line_3", "city", "state", "country", "postcode") if key in body
    }
    user["compliance"]["address_collected"] = True
    ctx.store.put(USER_KIND, user_id, user)
    ctx.emit("user.updated", {"user_id": user_id, "metadata": user["metadata"]})
    return 200, serialize_user(ctx, user)


# -- controls ---------------------------------------------------------------------------------------


def control_verification_token(ctx: Ctx, user_id: str) -> tuple[int, object]:
    """GET /_emulator/users/<id>/verification-token: the token the emulator 'sent' (404 when none)."""
    user = ctx.store.get_or_404(USER_KIND, user_id, what="user")
    pending = user.get("_verification")
    if not pending:
        raise ApiError(404, "not-found", "no verification token was sent to this user")
    return 200, {"user_id": user_id, **pending}


def control_set_status(ctx: Ctx, user_id: str) -> tuple[int, object]:
    """POST /_emulator/users/<id>/status {"status": ...}: Dots' own review (in_review, disabled, ...)."""
    user = ctx.store.get_or_404(USER_KIND, user_id, what="user")
    act_for_app(ctx, user["_app_id"])
    status = ctx.require_choice(ctx.json, "status", USER_STATUSES)
    user = _set_status(ctx, user, status)
    return 200, serialize_user(ctx, user)


def control_credit_wallet(ctx: Ctx, user_id: str) -> tuple[int, object]:
    """POST /_emulator/users/<id>/wallet/credit {"amount": cents}: money already in the user's Dots wallet."""
    ctx.store.get_or_404(USER_KIND, user_id, what="user")
    amount = ctx.require_int(ctx.json, "amount", min=1)
    user = user_wallet_credit(ctx, user_id=user_id, cents=amount)
    return 200, serialize_user(ctx, user)


# -- helpers ------------------------------------------------------------------------------------------


def _set_status(ctx: Ctx, user: Doc, status: str) -> Doc:
    lifecycles.transition("user", user, status)
    if status == "verified":
        user["compliance"]["id_verified"] = True
    ctx.store.put(USER_KIND, user["id"], user)
    ctx.emit("user.updated", {"user_id": user["id"], "metadata": user["metadata"]})
    return user


def _maybe_advance_on_read(ctx: Ctx, user: Doc) -> Doc:
    auto = lifecycles.auto_outcome_on_read(ctx.store, "user", user["id"])
    if auto is not None and lifecycles.allowed("user", user["status"], auto[0]):
        user = _set_status(ctx, user, auto[0])
    return user


def _initial_compliance(*, date_of_birth_collected: bool) -> Doc:
    return {
        "tax_id_collected": False,
        "tax_id_verification": "unsubmitted",
        "address_collected": False,
        "date_of_birth_collected": date_of_birth_collected,
        "must_collect_1099": False,
        "1099_collected": False,
        "w8_ben_collected": False,
        "flagged": False,
        "id_verified": False,
        "has_criminal_activity": False,
        "background_check": {"status": "not_started"},
        "flags": {
            "ofac": False,
            "ofac_status": "unflagged",
            "payout_method": False,
            "payout_method_cycle": False,
            "name_mismatch": False,
        },
    }


ROUTES = [
    Route("GET", "/v2/users", list_users),
    Route("POST", "/v2/users", create_user),
    Route("GET", "/v2/users/<user_id>", retrieve_user),
    Route("PATCH", "/v2/users/<user_id>", update_user),
    Route("DELETE", "/v2/users/<user_id>", delete_user),
    Route("PUT", "/v2/users/<user_id>/compliance", submit_compliance),
    Route("POST", "/v2/users/<user_id>/send-verification-token", send_verification_token),
    Route("POST", "/v2/users/<user_id>/verify", verify_user),
    Route("GET", "/v2/users/<user_id>/payout-methods", list_payout_methods),
    Route("PUT", "/v2/users/<user_id>/payout-methods", add_payout_method),
    Route("PUT", "/v2/users/<user_id>/addresses", add_address),
]

CONTROL_ROUTES = [
    Route("GET", "/users/<user_id>/verification-token", control_verification_token),
    Route("POST", "/users/<user_id>/status", control_set_status),
    Route("POST", "/users/<user_id>/wallet/credit", control_credit_wallet),
]
