"""Apps (an organisation's API apps), their wallet, compliance, ACH account and settings.

The emulator holds one organisation. An empty store (and every reset) gets a default
approved app with a funded wallet and an ACH account, so deposits work at once.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta

from dots.emulator.context import WALLET_KIND, Ctx, cents_to_decimal_str, clock_now, iso
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc, Metadata
from dots.emulator.resources import transfers
from dots.emulator.routing import Route
from dots.emulator.store import Store
from dots.redact import mask_account_number

KIND = "app"
COMPLIANCE_KIND = "app_compliance"
ACH_KIND = "app_ach_account"
SETTINGS_KIND = "app_settings"
# Fixed ids, so a developer's .env (DOTS_APP_ID) stays valid across emulator resets.
DEFAULT_ORG_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "dots-emulator/default-organization"))
DEFAULT_APP_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "dots-emulator/default-app"))
DEFAULT_WALLET_CENTS = 10_000_000  # $100,000.00
DEFAULT_APP_KEY = "default_app_id"
DEFAULT_ACH = {"account_number": "000123456789", "routing_number": "021000021", "account_type": "checking"}
DEFAULT_SETTINGS = {
    "payout_options_exclude_list": [],
    "auto_refill_active": False,
    "refill_amount": 100_000,
    "refill_threshold": 10_000,
}
COMPLIANCE_SECTIONS = ("company_info", "contact_info", "directors", "flow_of_funds")
FLOW_KIND = "app_kyb_flow"
FLOW_TTL = timedelta(hours=72)  # both spec files: "The URL expires after 72 hours"
INCORPORATION_TYPES = ("sole_proprietorship", "partnership", "llc", "c_corporation", "s_corporation", "non_profit")


# -- seeding ----------------------------------------------------------------------------------------


def seed_default_if_empty(store: Store) -> None:
    """An empty store gets one organisation with one approved app and a funded wallet."""
    if store.count(KIND):
        return
    now = iso(clock_now(store))
    store.insert("organization", DEFAULT_ORG_ID, {"id": DEFAULT_ORG_ID, "name": "Ledgerline Dev Org", "created": now})
    create_app(
        store, app_id=DEFAULT_APP_ID, name="Ledgerline", status="approved", balance_cents=DEFAULT_WALLET_CENTS, now=now
    )
    store.insert(ACH_KIND, DEFAULT_APP_ID, dict(DEFAULT_ACH), app_id=DEFAULT_APP_ID)
    store.meta_set(DEFAULT_APP_KEY, DEFAULT_APP_ID)


def default_app_id(store: Store) -> str:
    app_id: str = store.meta_get(DEFAULT_APP_KEY, DEFAULT_APP_ID)
    return app_id


def create_app(
    store: Store, *, app_id: str, name: str, status: str, balance_cents: int, now: str, metadata: Metadata = None
) -> Doc:
    app: Doc = {"id": app_id, "name": name, "status": status, "created": now}
    if metadata is not None:
        app["metadata"] = metadata
    store.insert(KIND, app_id, app, app_id=app_id)
    store.insert(WALLET_KIND, app_id, {"app_id": app_id, "balance": balance_cents, "money_out": 0}, app_id=app_id)
    return app


def serialize_app(store: Store, app: Doc) -> Doc:
    wallet = store.get(WALLET_KIND, app["id"]) or {"balance": 0, "money_out": 0}
    out = {
        "id": app["id"],
        "name": app["name"],
        "status": app["status"],
        "metrics": {
            "wallet_balance": cents_to_decimal_str(wallet["balance"]),
            "money_out": cents_to_decimal_str(wallet.get("money_out", 0)),
            "connected_users": store.count("user", app_id=app["id"]),
        },
    }
    if app.get("metadata") is not None:
        out["metadata"] = app["metadata"]
    return out


def _app_or_404(ctx: Ctx, app_id: str) -> Doc:
    return ctx.store.get_or_404(KIND, app_id, what="app")


# -- apps -----------------------------------------------------------------------------------------------


def list_apps(ctx: Ctx) -> tuple[int, object]:
    # The spec documents a bare array here (with limit/starting_after/ending_before).
    page, _ = ctx.page_slice(ctx.store.list(KIND))
    return 200, [serialize_app(ctx.store, app) for app in page]


def create_app_handler(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    name = ctx.require_str(body, "name", min_len=3, max_len=60)
    metadata = ctx.optional(body, "metadata", types=(dict, str))
    app = create_app(
        ctx.store,
        app_id=ctx.store.new_uuid(),
        name=name,
        status="created",
        balance_cents=0,
        now=ctx.now_iso(),
        metadata=metadata,
    )
    ctx.emit("app.updated", {"app_id": app["id"]})
    return 201, serialize_app(ctx.store, app)


def retrieve_app(ctx: Ctx, app_id: str) -> tuple[int, object]:
    return 200, serialize_app(ctx.store, _app_or_404(ctx, app_id))


# -- compliance --------------------------------------------------------------------------------------------


def get_compliance(ctx: Ctx, app_id: str) -> tuple[int, object]:
    _app_or_404(ctx, app_id)
    return 200, ctx.store.get_or_404(COMPLIANCE_KIND, app_id, what="compliance information")


def put_compliance(ctx: Ctx, app_id: str) -> tuple[int, object]:
    app = _app_or_404(ctx, app_id)
    body = ctx.json
    for section in COMPLIANCE_SECTIONS:
        expected = list if section == "directors" else dict
        if not isinstance(body.get(section), expected):
            kind = "an array" if expected is list else "an object"
            raise ApiError(400, "invalid-input", f"{section} is required and must be {kind}")
    company = body["company_info"]
    for field in ("name", "website", "ein", "incorporation_type", "incorporation_state", "incorporation_date"):
        ctx.require_str(company, field)
    if not re.fullmatch(r"[0-9]{9}", company["ein"]):
        raise ApiError(400, "invalid-input", "company_info.ein must be 9 digits")
    ctx.require_int(company, "ubo_count", min=1)
    if company["incorporation_type"] not in INCORPORATION_TYPES:
        raise ApiError(400, "invalid-input", "company_info.incorporation_type is not one of the allowed values")
    _require_date(company["incorporation_date"], "company_info.incorporation_date")
    directors = body["directors"]
    if company["ubo_count"] != len(directors):
        raise ApiError(400, "invalid-input", "company_info.ubo_count must equal the number of directors")
    total = 0.0
    for i, director in enumerate(directors):
        if not isinstance(director, dict):
            raise ApiError(400, "invalid-input", f"directors[{i}] must be an object")
        for field in ("first_name", "last_name", "title", "phone", "email", "dob"):
            ctx.require_str(director, field)
        _require_date(director["dob"], f"directors[{i}].dob")
        share = director.get("ownership_percentage")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 100:
            raise ApiError(400, "invalid-input", f"directors[{i}].ownership_percentage must be 0 to 100")
        total += share
        address = director.get("address")
        if not isinstance(address, dict):
            raise ApiError(400, "invalid-input", f"directors[{i}].address is required")
        for field in ("line1", "city", "zip", "country", "state"):
            ctx.require_str(address, field)
        ssn = director.get("ssn")
        if (ssn is not None or address["country"] == "US") and not re.fullmatch(r"[0-9]{9}", str(ssn or "")):
            raise ApiError(400, "invalid-input", f"directors[{i}].ssn must be 9 digits (required for a US address)")
    if total > 100:
        raise ApiError(400, "invalid-input", "directors' ownership_percentage adds up to more than 100")
    for field in ("email", "phone_number", "line1", "city", "zip", "state", "country"):
        ctx.require_str(body["contact_info"], field)
    for field in ("reasons", "usage"):
        ctx.require_str(body["flow_of_funds"], field)
    doc = {section: body[section] for section in COMPLIANCE_SECTIONS}
    if ctx.store.get(COMPLIANCE_KIND, app_id) is None:
        ctx.store.insert(COMPLIANCE_KIND, app_id, doc, app_id=app_id)
    else:
        ctx.store.put(COMPLIANCE_KIND, app_id, doc)
    if app["status"] == "created":
        app["status"] = "in_review"
        ctx.store.put(KIND, app_id, app)
    ctx.emit("app.updated", {"app_id": app_id})
    return 200, doc


def _require_date(value: str, name: str) -> None:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid-input", f"{name} must be a date (YYYY-MM-DD)") from None


def kyb_flow(ctx: Ctx, app_id: str) -> tuple[int, object]:
    """Current spec: 201 with the hosted KYB flow's URL (72 hours; a new one invalidates the old)."""
    url, expires = _new_flow(ctx, app_id)
    return 201, {"url": url, "expires_at": expires, "status": "pending"}


def compliance_flow(ctx: Ctx, app_id: str) -> tuple[int, object]:
    """Older spec (2026-01-14): 200 with the URL as a bare JSON string (same rules)."""
    url, _expires = _new_flow(ctx, app_id)
    return 200, url


def _new_flow(ctx: Ctx, app_id: str) -> tuple[str, str]:
    app = _app_or_404(ctx, app_id)
    # "only available for apps ... that have not already reached a terminal or review state"
    if app["status"] in ("in_review", "approved"):
        raise ApiError(400, "invalid-state-transition", f"the app is {app['status']}: no KYB flow can be created")
    token = ctx.store.new_uuid()
    expires = ctx.iso(ctx.now() + FLOW_TTL)
    doc = {"app_id": app_id, "token": token, "expires_at": expires}
    if ctx.store.get(FLOW_KIND, app_id) is None:
        ctx.store.insert(FLOW_KIND, app_id, doc, app_id=app_id)
    else:
        ctx.store.put(FLOW_KIND, app_id, doc)  # the previous URL stops working
    return f"{ctx.request.host_url.rstrip('/')}/_emulator/flows/kyb/{token}", expires


def control_flow_page(ctx: Ctx, token: str) -> tuple[int, object]:
    """GET /_emulator/flows/kyb/<token>: what the flow URL opens; 404 once replaced, 410 once expired."""
    for doc in ctx.store.list(FLOW_KIND):
        if doc["token"] == token:
            if ctx.now() >= datetime.fromisoformat(doc["expires_at"].replace("Z", "+00:00")):
                raise ApiError(410, "flow-expired", "this KYB flow link has expired")
            return 200, {"app_id": doc["app_id"], "expires_at": doc["expires_at"], "status": "pending"}
    raise ApiError(404, "not-found", "no such KYB flow link (a newer one replaced it?)")


# -- ACH account, deposit, withdraw --------------------------------------------------------------------------


def _serialize_ach(ach: Doc) -> Doc:
    last4 = ach["account_number"][-4:]
    return {"mask": last4, "name": f"{ach['account_type'].title()} {mask_account_number(ach['account_number'])}"}


def get_ach_account(ctx: Ctx, app_id: str) -> tuple[int, object]:
    _app_or_404(ctx, app_id)
    return 200, _serialize_ach(ctx.store.get_or_404(ACH_KIND, app_id, what="ACH account"))


def put_ach_account(ctx: Ctx, app_id: str) -> tuple[int, object]:
    _app_or_404(ctx, app_id)
    body = ctx.json
    account_number = ctx.require_str(body, "account_number")
    if not re.fullmatch(r"[0-9]{7,20}", account_number):
        raise ApiError(400, "invalid-input", "account_number must be 7 to 20 digits")
    routing_number = ctx.require_str(body, "routing_number")
    if not re.fullmatch(r"[0-9]{9}", routing_number):
        raise ApiError(400, "invalid-input", "routing_number must be 9 digits")
    account_type = ctx.require_choice(body, "account_type", ("checking", "savings"))
    doc = {"account_number": account_number, "routing_number": routing_number, "account_type": account_type}
    if ctx.store.get(ACH_KIND, app_id) is None:
        ctx.store.insert(ACH_KIND, app_id, doc, app_id=app_id)
    else:
        ctx.store.put(ACH_KIND, app_id, doc)
    return 200, _serialize_ach(doc)


def deposit(ctx: Ctx, app_id: str) -> tuple[int, object]:
    """ACH account -> app wallet. The wallet is credited when the transfer completes."""
    _app_or_404(ctx, app_id)
    amount = ctx.require_int(ctx.json, "amount", min=1)
    ach = _ach_or_400(ctx, app_id)
    transfer = transfers.create_transfer(
        ctx,
        amount=amount,
        type="refill",
        app_id=app_id,
        wallet_credit_on_complete=amount,
        source_name=f"ACH {mask_account_number(ach['account_number'])}",
        destination_name="App wallet",
        external_data={"account_id": app_id, "platform": "ach"},
    )
    return 200, transfers.serialize_transfer(transfer)


def withdraw(ctx: Ctx, app_id: str) -> tuple[int, object]:
    """App wallet -> ACH account. The wallet is debited now and refunded if the transfer fails."""
    _app_or_404(ctx, app_id)
    amount = ctx.require_int(ctx.json, "amount", min=1)
    ach = _ach_or_400(ctx, app_id)
    transfer = transfers.create_transfer(
        ctx,
        amount=amount,
        type="settlement",
        app_id=app_id,
        wallet_debit=amount,
        source_name="App wallet",
        destination_name=f"ACH {mask_account_number(ach['account_number'])}",
        external_data={"account_id": app_id, "platform": "ach"},
    )
    return 200, transfers.serialize_transfer(transfer)


def _ach_or_400(ctx: Ctx, app_id: str) -> Doc:
    ach = ctx.store.get(ACH_KIND, app_id)
    if ach is None:
        raise ApiError(
            400, "ach-account-missing", "the app has no ACH account: PUT /v2/apps/{app_id}/ach-account first"
        )
    return ach


# -- settings ---------------------------------------------------------------------------------------------------


def change_settings(ctx: Ctx, app_id: str) -> tuple[int, object]:
    _app_or_404(ctx, app_id)
    body = ctx.json
    settings = dict(DEFAULT_SETTINGS)
    settings.update(ctx.store.get(SETTINGS_KIND, app_id) or {})
    exclude = ctx.optional(body, "payout_options_exclude_list", types=(list,))
    if exclude is not None:
        if not all(isinstance(item, str) for item in exclude):
            raise ApiError(400, "invalid-input", "payout_options_exclude_list must be a list of strings")
        settings["payout_options_exclude_list"] = exclude
    auto_refill = ctx.optional(body, "auto_refill_active", types=(bool,))
    if auto_refill is not None:
        settings["auto_refill_active"] = auto_refill
    for field in ("refill_amount", "refill_threshold"):
        value = ctx.optional_int(body, field, min=1000, max=1_000_000)
        if value is not None:
            settings[field] = value
    if ctx.store.get(SETTINGS_KIND, app_id) is None:
        ctx.store.insert(SETTINGS_KIND, app_id, settings, app_id=app_id)
    else:
        ctx.store.put(SETTINGS_KIND, app_id, settings)
    ctx.emit("app.updated", {"app_id": app_id})
    return 200, settings


# -- the organisation -----------------------------------------------------------------------------------------------


def retrieve_organization(ctx: Ctx) -> tuple[int, object]:
    """The one organisation; its balance is the sum of its apps' wallets (cents)."""
    org = ctx.store.get("organization", DEFAULT_ORG_ID) or {"id": DEFAULT_ORG_ID}
    total = sum((ctx.store.get(WALLET_KIND, app["id"]) or {"balance": 0})["balance"] for app in ctx.store.list(KIND))
    return 200, {"id": org["id"], "balance": total}


def copy_compliance_between_apps(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    source = _app_or_404(ctx, ctx.require_str(body, "source_app_id"))
    destination = _app_or_404(ctx, ctx.require_str(body, "destination_app_id"))
    compliance = ctx.store.get(COMPLIANCE_KIND, source["id"])
    if compliance is None:
        raise ApiError(400, "invalid-input", f"app {source['id']} has no compliance information to copy")
    if ctx.store.get(COMPLIANCE_KIND, destination["id"]) is None:
        ctx.store.insert(COMPLIANCE_KIND, destination["id"], compliance, app_id=destination["id"])
    else:
        ctx.store.put(COMPLIANCE_KIND, destination["id"], compliance)
    ctx.emit("app.updated", {"app_id": destination["id"]})
    return 200, {"success": True, "message": f"compliance information copied to app {destination['id']}"}


# -- controls -----------------------------------------------------------------------------------------------------


def control_seed_apps(ctx: Ctx) -> tuple[int, object]:
    """POST /_emulator/seed/apps {"apps": [{"name": "Second", "balance": 500000, "status": "approved"}]}
    (or one app's fields at the top level); each gets an ACH account too."""
    body = ctx.json
    specs = body.get("apps") if "apps" in body else [body]
    if not isinstance(specs, list) or not specs:
        raise ApiError(400, "invalid-input", "apps must be a non-empty list")
    created = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise ApiError(400, "invalid-input", "each app must be an object")
        name = ctx.optional_str(spec, "name") or f"App {ctx.store.count(KIND) + 1}"
        balance = ctx.optional_int(spec, "balance", 0, min=0)
        status = ctx.optional(spec, "status", "approved", choices=("created", "in_review", "approved"))
        app = create_app(
            ctx.store, app_id=ctx.store.new_uuid(), name=name, status=status, balance_cents=balance, now=ctx.now_iso()
        )
        ctx.store.insert(ACH_KIND, app["id"], dict(DEFAULT_ACH), app_id=app["id"])
        created.append(serialize_app(ctx.store, app))
    return 201, {"data": created}


def control_set_balance(ctx: Ctx, app_id: str) -> tuple[int, object]:
    """POST /_emulator/apps/<app_id>/balance {"balance": cents}: set a wallet directly (tests of short funds)."""
    _app_or_404(ctx, app_id)
    balance = ctx.require_int(ctx.json, "balance", min=0)
    wallet = ctx.wallet(app_id)
    wallet["balance"] = balance
    ctx.store.put(WALLET_KIND, app_id, wallet)
    return 200, serialize_app(ctx.store, _app_or_404(ctx, app_id))


ROUTES = [
    Route("GET", "/v2/apps", list_apps),
    Route("POST", "/v2/apps", create_app_handler),
    Route("GET", "/v2/apps/<app_id>", retrieve_app),
    Route("GET", "/v2/apps/<app_id>/compliance", get_compliance),
    Route("PUT", "/v2/apps/<app_id>/compliance", put_compliance),
    Route("GET", "/v2/apps/<app_id>/ach-account", get_ach_account),
    Route("PUT", "/v2/apps/<app_id>/ach-account", put_ach_account),
    Route("POST", "/v2/apps/<app_id>/deposit", deposit),
    Route("POST", "/v2/apps/<app_id>/withdraw", withdraw),
    Route("POST", "/v2/apps/<app_id>/kyb-flow", kyb_flow),
    Route("POST", "/v2/apps/<app_id>/compliance-flow", compliance_flow),
    Route("POST", "/v2/apps/<app_id>/change_settings", change_settings),
    Route("GET", "/v2/organizations", retrieve_organization),
    Route("PUT", "/v2/organizations/copy-compliance-information-between-apps", copy_compliance_between_apps),
]
CONTROL_ROUTES = [
    Route("POST", "/seed/apps", control_seed_apps),
    Route("POST", "/apps/<app_id>/balance", control_set_balance),
    Route("GET", "/flows/kyb/<token>", control_flow_page),
]
