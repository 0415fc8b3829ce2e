"""Payout links: /v2/payout-links (list, create, retrieve, cancel, redeliver).

A payout link is money set aside for a payee who claims it through a link.

- Create takes the amount out of the app wallet at once (400
  transaction-insufficient-funds when short) and answers 201. With
  `funding_source: "ach"` the money comes later from the app's bank, so nothing
  is debited and the answer is 202 ("pending funding" in the spec); the status is
  still `created`, because the spec's `funds_pending` is not in the status enum.
- Delivery: `delivery.method` `link` (the default) leaves the link `created` for
  the app to hand over; `sms`, `email` and `all` deliver at once: `sent`.
- Claiming (only through the control `POST /_emulator/payout-links/<id>/advance
  {"status": "claimed"}`, or the `payout_link` lifecycle setting) pays the
  claimant: a payout transfer is created through emulator-core's
  `create_transfer`, and `claimed_user_id` / `transfer_id` are set. The claimant
  is the link's user, else the app's user with the payee's phone number, else a
  new verified user made from the payee (that is what onboarding through a link
  does).
- Cancel (DELETE), expire, fail and reverse give the money back to the app
  wallet, once.
- Redeliver sends again, at most 5 deliveries in all (the spec's limit); a
  `link`-method link has nothing to send, so `redelivered` is false.

Webhooks (names from webhooks.yaml): `payout_link.updated` on every status
change, plus `payout_link.sent`, `payout_link.claimed` and `payout_link.paid_out`
(at claim), `payout_link.failed`.
"""

from __future__ import annotations

import re

from dots.emulator import lifecycles
from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc, Metadata
from dots.emulator.resources import transfers
from dots.emulator.resources import user_fields as fields
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route

KIND = "payout_link"
DELIVERY_METHODS = ("link", "sms", "email", "all")
FUNDING_SOURCES = ("dots_balance", "ach")
FEE_PARTIES = ("user", "platform")
STEP_NAMES = (
    "compliance", "id-verification", "background-check", "manage-payments",
    "manage-payouts", "payout", "redirect", "pdf-form-fill",
)  # fmt: skip
MAX_DELIVERIES = 5
TRANSFER_PURPOSE = "payout_link"
TERMINAL = frozenset({"claimed", "reversed", "canceled", "expired", "failed"})
# Leaving these statuses returns the money to the app wallet (if the link was funded and not yet refunded).
REFUNDING = frozenset({"canceled", "expired", "failed", "reversed"})

_CREATE_FIELDS = frozenset(
    {
        "user_id", "payee", "amount", "delivery", "force_collect_compliance_information", "tax_exempt",
        "metadata", "memo", "idempotency_key", "payout_fee_party", "additional_steps", "accounting_data",
        "funding_source", "hide_go_to_dashboard_on_complete",
    }
)  # fmt: skip
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# -- the rules, shared with send-payout and payout requests -------------------------------------------


def create_payout_link(
    ctx: Ctx,
    *,
    amount: int,
    user: Doc | None = None,
    payee: Doc | None = None,
    delivery_method: str = "link",
    message: str | None = None,
    tax_exempt: bool = False,
    metadata: Metadata = None,
    memo: str | None = None,
    accounting_data: Doc | None = None,
    funding_source: str = "dots_balance",
    payout_fee_party: str | None = None,
    additional_steps: list[str | Doc] | None = None,
) -> Doc:
    """Fund (unless ACH-funded) and store a payout link, deliver it, apply the lifecycle setting.

    `user` wins over `payee` for the payee's details. Raises 400
    transaction-insufficient-funds with nothing stored when the wallet is short.
    """
    payee = dict(payee or {})
    if user is not None:
        payee = {
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "email": user["email"],
            "country_code": user["phone_number"]["country_code"],
            "phone_number": user["phone_number"]["phone_number"],
            **payee,
        }
    delivery = {"method": delivery_method}
    if delivery_method in ("email", "all") and payee.get("email"):
        delivery["email"] = payee["email"]
    if delivery_method in ("sms", "all") and payee.get("phone_number"):
        delivery["country_code"] = payee.get("country_code", "1")
        delivery["phone_number"] = payee["phone_number"]
    if delivery_method == "sms" and "phone_number" not in delivery:
        raise ApiError(400, "invalid-input", "delivery.method sms needs payee.phone_number (or a user_id)")
    if delivery_method == "email" and "email" not in delivery:
        raise ApiError(400, "invalid-input", "delivery.method email needs payee.email (or a user_id)")
    if delivery_method == "all" and "email" not in delivery and "phone_number" not in delivery:
        raise ApiError(400, "invalid-input", "delivery.method all needs payee.email or payee.phone_number")

    funded = funding_source == "dots_balance"
    if funded:
        ctx.wallet_debit(amount)
    link_id = ctx.store.new_uuid()
    doc: Doc = {
        "id": link_id,
        "created": ctx.now_iso(),
        "link": f"{_root_url(ctx)}/_emulator/payout-links/{link_id}/claim",
        "amount": amount,
        "status": "created",
        "payee": payee,
        "delivery": delivery,
        "tax_exempt": tax_exempt,
        "memo": memo,
        "metadata": metadata,
        "accounting_data": {
            "quickbooks_account_id": (accounting_data or {}).get("quickbooks_account_id"),
            "quickbooks_class_id": (accounting_data or {}).get("quickbooks_class_id"),
        },
        "funding_source": funding_source,
        "_app_id": ctx.app_id,
        "_user_id": user["id"] if user is not None else None,
        "_funded": funded,
        "_refunded": False,
        "_deliveries": 0,
        "_message": message,
        "_payout_fee_party": payout_fee_party,
        "_additional_steps": additional_steps or [],
        "_reason": None,
    }
    ctx.store.insert(KIND, link_id, doc, app_id=ctx.app_id)
    if delivery_method != "link":
        doc["_deliveries"] = 1
        doc = advance_payout_link(ctx, doc, "sent")
    auto = lifecycles.auto_outcome_on_create(ctx.store, KIND)
    if auto is not None and lifecycles.allowed(KIND, doc["status"], auto[0]):
        doc = advance_payout_link(ctx, doc, auto[0], reason=auto[1])
    return doc


def get_payout_link(ctx: Ctx, link_id: str) -> Doc:
    if ctx.store.app_id_of(KIND, link_id) != ctx.app_id:
        raise ApiError(404, "not-found", "payout link not found")
    return ctx.store.load(KIND, link_id)


def advance_payout_link(
    ctx: Ctx, doc: Doc, new_status: str, *, claimant_user_id: str | None = None, reason: str | None = None
) -> Doc:
    """Move a link to `new_status` (400 invalid-state-transition if the table forbids it) with its side effects."""
    previous = lifecycles.transition(KIND, doc, new_status)
    if reason is not None:
        doc["_reason"] = reason
    if new_status == "claimed":
        _pay_claimant(ctx, doc, claimant_user_id=claimant_user_id)
    if new_status in REFUNDING and doc["_funded"] and not doc["_refunded"]:
        ctx.wallet_credit(doc["amount"], app_id=doc["_app_id"], refund=True)
        doc["_refunded"] = True
    ctx.store.put(KIND, doc["id"], doc)
    if new_status in ("failed", "reversed") and doc.get("transfer_id"):
        _settle_transfer(ctx, doc["transfer_id"], "failed" if new_status == "failed" else "reversed", reason)

    payload = webhook_payload(ctx, doc)
    if previous != new_status:
        ctx.emit("payout_link.updated", payload)
    if new_status == "sent":
        ctx.emit("payout_link.sent", payload)
    elif new_status == "claimed":
        ctx.emit("payout_link.claimed", payload)
        method = doc.get("_payout_platform") or "balance"
        ctx.emit("payout_link.paid_out", {**payload, "method": method, "withdrew_amount": doc["amount"]})
        transfer = ctx.store.load(transfers.KIND, doc["transfer_id"])
        if transfer["status"] == "failed":  # failed in this very request (transfer lifecycle "immediate")
            return advance_payout_link(ctx, doc, "failed", reason=transfer.get("failure_reason"))
    elif new_status == "failed":
        ctx.emit(
            "payout_link.failed",
            {
                "payout_link": serialize_payout_link(doc),
                # The emulator funds a link straight from the wallet, with no separate funding
                # transfer; the payout transfer (when there is one) is the nearest thing.
                "funding_transfer_id": doc.get("transfer_id") or "",
                "amount": doc["amount"],
                "memo": doc["memo"],
                "status": doc["status"],
                "reason": doc["_reason"],
            },
        )
    return doc


def serialize_payout_link(doc: Doc) -> Doc:
    return {key: value for key, value in doc.items() if not key.startswith("_")}


def webhook_payload(ctx: Ctx, doc: Doc) -> Doc:
    """The payout_link.* event body: the link plus the fields webhooks.yaml requires."""
    return {
        **serialize_payout_link(doc),
        "claimed_user_id": doc.get("claimed_user_id"),
        "transfer_id": doc.get("transfer_id"),
        "flow_id": None,
        "description": None,
        "created_by_email": None,
        "original_amount": doc["amount"],
    }


# -- handlers -----------------------------------------------------------------------------------------------


def list_payout_links(ctx: Ctx) -> tuple[int, object]:
    page = ctx.paginate(ctx.store.list(KIND, app_id=ctx.app_id))
    page["data"] = [serialize_payout_link(d) for d in page["data"]]
    return 200, page


def create(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    unknown = sorted(set(body) - _CREATE_FIELDS)
    if unknown:
        raise ApiError(400, "invalid-input", f"unknown field(s): {', '.join(unknown)}")
    amount = ctx.require_int(body, "amount", min=1)
    user = users_resource.get_user(ctx, body["user_id"]) if body.get("user_id") is not None else None
    payee = _optional_payee(body.get("payee"))
    delivery = ctx.optional(body, "delivery", {}, types=(dict,))
    delivery_method = ctx.optional(delivery, "method", "link", types=(str,), choices=DELIVERY_METHODS)
    message = ctx.optional_str(delivery, "message")
    for flag in ("force_collect_compliance_information", "hide_go_to_dashboard_on_complete"):
        ctx.optional(body, flag, False, types=(bool,))
    tax_exempt = ctx.optional(body, "tax_exempt", False, types=(bool,))
    metadata = fields.optional_metadata(body)
    memo = ctx.optional_str(body, "memo")
    fee_party = ctx.optional(body, "payout_fee_party", None, types=(str,), choices=FEE_PARTIES)
    steps = _optional_steps(body.get("additional_steps"))
    accounting = _optional_accounting(body.get("accounting_data"))
    funding_source = ctx.optional(body, "funding_source", "dots_balance", types=(str,), choices=FUNDING_SOURCES)
    doc = create_payout_link(
        ctx,
        amount=amount,
        user=user,
        payee=payee,
        delivery_method=delivery_method,
        message=message,
        tax_exempt=tax_exempt,
        metadata=metadata,
        memo=memo,
        accounting_data=accounting,
        funding_source=funding_source,
        payout_fee_party=fee_party,
        additional_steps=steps,
    )
    return (201 if doc["_funded"] else 202), serialize_payout_link(doc)


def retrieve(ctx: Ctx, payout_link_id: str) -> tuple[int, object]:
    doc = get_payout_link(ctx, payout_link_id)
    auto = lifecycles.auto_outcome_on_read(ctx.store, KIND, payout_link_id)
    if auto is not None and lifecycles.allowed(KIND, doc["status"], auto[0]):
        doc = advance_payout_link(ctx, doc, auto[0], reason=auto[1])
    return 200, serialize_payout_link(doc)


def cancel(ctx: Ctx, payout_link_id: str) -> tuple[int, object]:
    doc = get_payout_link(ctx, payout_link_id)
    doc = advance_payout_link(ctx, doc, "canceled")
    return 200, serialize_payout_link(doc)


def redeliver(ctx: Ctx, payout_link_id: str) -> tuple[int, object]:
    doc = get_payout_link(ctx, payout_link_id)
    if doc["status"] in TERMINAL:
        raise ApiError(
            400,
            "invalid-state-transition",
            f"payout link {payout_link_id} is {doc['status']}; it cannot be redelivered",
        )
    if doc["delivery"]["method"] == "link" or doc["_deliveries"] >= MAX_DELIVERIES:
        return 200, {"payout_link": serialize_payout_link(doc), "redelivered": False}
    doc["_deliveries"] += 1
    if doc["status"] in ("sent", "delivered"):
        ctx.store.put(KIND, doc["id"], doc)
        ctx.emit("payout_link.sent", webhook_payload(ctx, doc))
    else:  # created, delivery_pending, delivery_failed: this delivery is the one that goes out
        doc = advance_payout_link(ctx, doc, "sent")
    return 200, {"payout_link": serialize_payout_link(doc), "redelivered": True}


# -- controls ------------------------------------------------------------------------------------------------


def control_advance(ctx: Ctx, payout_link_id: str) -> tuple[int, object]:
    """POST /_emulator/payout-links/<id>/advance {"status": ..., "user_id"?: claimant, "reason"?: text}."""
    doc = ctx.store.get_or_404(KIND, payout_link_id, what="payout link")
    users_resource.act_for_app(ctx, doc["_app_id"])
    body = ctx.json
    status = ctx.require_str(body, "status")
    claimant = ctx.optional_str(body, "user_id")
    if claimant is not None:
        users_resource.get_user(ctx, claimant)
    doc = advance_payout_link(ctx, doc, status, claimant_user_id=claimant, reason=ctx.optional_str(body, "reason"))
    return 200, serialize_payout_link(doc)


def control_claim_page(ctx: Ctx, payout_link_id: str) -> tuple[int, object]:
    """GET of a link's `link` URL: what the payee would see (amount, status); claiming is the advance control."""
    doc = ctx.store.get_or_404(KIND, payout_link_id, what="payout link")
    return 200, {"id": doc["id"], "amount": doc["amount"], "status": doc["status"], "payee": doc["payee"]}


# -- helpers ----------------------------------------------------------------------------------------------------


def _pay_claimant(ctx: Ctx, doc: Doc, *, claimant_user_id: str | None) -> None:
    user = _claimant(ctx, doc, claimant_user_id=claimant_user_id)
    method = users_resource.default_payout_method_of(ctx, user)
    doc["_payout_platform"] = method["platform"] if method is not None else None
    # The link's money left the wallet when the link was funded; the transfer only carries
    # it to the claimant (no wallet_debit here, or it would be taken twice).
    external = {"platform": method["platform"]} if method is not None else None
    transfer = transfers.create_transfer(
        ctx,
        amount=doc["amount"],
        type="payout",
        user_id=user["id"],
        payout_link_id=doc["id"],
        external_data=external,
        metadata=doc["metadata"],
        destination_name=f"{user['first_name']} {user['last_name']}",
        purpose=TRANSFER_PURPOSE,
        purpose_id=doc["id"],
        app_id=doc["_app_id"],
    )
    users_resource.record_paid_out(ctx, user_id=user["id"], cents=doc["amount"])
    doc["claimed_user_id"] = user["id"]
    doc["transfer_id"] = transfer["id"]


def _settle_transfer(ctx: Ctx, transfer_id: str, status: str, reason: str | None) -> None:
    """A failed or reversed link takes its payout transfer with it, where the transfer table allows."""
    transfer = ctx.store.get(transfers.KIND, transfer_id)
    if transfer is not None and lifecycles.allowed("transfer", transfer["status"], status):
        transfers.advance(ctx, transfer, status, reason=reason)


def _follow_transfer(ctx: Ctx, transfer: Doc, previous: str, reason: str | None) -> None:
    """transfers.FOLLOWERS hook: the claim's payout failed or was reversed at the bank -> so is the link."""
    doc = ctx.store.get(KIND, transfer["_purpose_id"])
    if doc is None or doc["status"] != "claimed":
        return  # the link moved first (control call); nothing to mirror
    if transfer["status"] in ("failed", "reversed"):
        advance_payout_link(ctx, doc, transfer["status"], reason=reason)


def _claimant(ctx: Ctx, doc: Doc, *, claimant_user_id: str | None) -> Doc:
    app_id = doc["_app_id"]
    if claimant_user_id is not None:
        return users_resource.get_user(ctx, claimant_user_id, app_id=app_id)
    if doc["_user_id"] is not None and ctx.store.get(users_resource.USER_KIND, doc["_user_id"]) is not None:
        return ctx.store.load(users_resource.USER_KIND, doc["_user_id"])
    payee = doc["payee"]
    if payee.get("phone_number"):
        existing = users_resource.find_user_by_phone(
            ctx, country_code=payee.get("country_code", "1"), phone_number=payee["phone_number"], app_id=app_id
        )
        if existing is not None:
            return existing
    # Onboarding through the link makes the payee a (verified) user of the app.
    return users_resource.insert_user(
        ctx,
        first_name=payee.get("first_name") or "Payee",
        last_name=payee.get("last_name") or doc["id"][:8],
        email=payee.get("email") or f"payee-{doc['id'][:8]}@example.invalid",
        country_code=payee.get("country_code") or "1",
        phone_number=payee.get("phone_number") or "",
        status="verified",
        app_id=app_id,
    )


def _root_url(ctx: Ctx) -> str:
    if ctx.request is None:
        return "http://127.0.0.1"
    return ctx.request.host_url.rstrip("/")


def _optional_payee(payee: object) -> Doc:
    if payee is None:
        return {}
    if not isinstance(payee, dict):
        raise ApiError(400, "invalid-input", "payee must be an object")
    allowed = ("first_name", "last_name", "country_code", "phone_number", "email")
    out = {}
    for key, value in payee.items():
        if key not in allowed:
            continue  # the spec does not close payee; extra keys are ignored, not echoed
        if not isinstance(value, str):
            raise ApiError(400, "invalid-input", f"payee.{key} must be a string")
        out[key] = value
    if "email" in out and not _EMAIL.match(out["email"]):
        raise ApiError(400, "invalid-input", "payee.email must be an email address")
    if "phone_number" in out and not re.fullmatch(r"[0-9]{1,20}", out["phone_number"]):
        raise ApiError(400, "invalid-input", "payee.phone_number must be 1 to 20 digits")
    if "country_code" in out and not re.fullmatch(r"[0-9]{1,3}", out["country_code"]):
        raise ApiError(400, "invalid-input", "payee.country_code must be 1 to 3 digits")
    return out


def _optional_steps(steps: object) -> list[str | Doc]:
    if steps is None:
        return []
    if not isinstance(steps, list):
        raise ApiError(400, "invalid-input", "additional_steps must be an array")
    for step in steps:
        name = step.get("name") if isinstance(step, dict) else step
        if name not in STEP_NAMES:
            raise ApiError(400, "invalid-input", f"additional_steps: unknown step {name!r}")
    return steps


def _optional_accounting(data: object) -> Doc | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid-input", "accounting_data must be an object")
    for key in ("quickbooks_account_id", "quickbooks_class_id"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ApiError(400, "invalid-input", f"accounting_data.{key} must be an integer")
    return data


transfers.FOLLOWERS[TRANSFER_PURPOSE] = _follow_transfer

SEED_MAX = 1_000_000


def control_seed(ctx: Ctx) -> tuple[int, object]:
    """POST /_emulator/seed/payout-links {"count": 50000, "status": "created", "amount": 1000}

    Inserts `count` payout links straight into the store in one transaction, for benchmarks:
    unfunded, undelivered, no webhooks. Answers their ids, oldest first.
    """
    body = ctx.json
    count = ctx.require_int(body, "count", min=1, max=SEED_MAX)
    status = ctx.optional(body, "status", "created", types=(str,))
    amount = ctx.optional_int(body, "amount", 1000, min=1)
    now = ctx.now_iso()
    docs: list[tuple[str, Doc]] = []
    for i in range(count):
        link_id = ctx.store.new_uuid()
        docs.append(
            (
                link_id,
                {
                    "id": link_id,
                    "created": now,
                    "link": f"{_root_url(ctx)}/_emulator/payout-links/{link_id}/claim",
                    "amount": amount,
                    "status": status,
                    "payee": {"first_name": "Seed", "last_name": f"Payee {i + 1}"},
                    "delivery": {"method": "link"},
                    "tax_exempt": False,
                    "memo": None,
                    "metadata": None,
                    "accounting_data": {"quickbooks_account_id": None, "quickbooks_class_id": None},
                    "funding_source": "dots_balance",
                    "_app_id": ctx.app_id,
                    "_user_id": None,
                    "_funded": False,
                    "_refunded": False,
                    "_deliveries": 0,
                    "_message": None,
                    "_payout_fee_party": None,
                    "_additional_steps": [],
                    "_reason": None,
                },
            )
        )
    ctx.store.insert_many(KIND, docs, app_id=ctx.app_id)
    return 201, {"created": count, "ids": [link_id for link_id, _ in docs]}


ROUTES = [
    Route("GET", "/v2/payout-links", list_payout_links),
    Route("POST", "/v2/payout-links", create),
    Route("GET", "/v2/payout-links/<payout_link_id>", retrieve),
    Route("DELETE", "/v2/payout-links/<payout_link_id>", cancel),
    Route("POST", "/v2/payout-links/<payout_link_id>/redeliver", redeliver),
]

CONTROL_ROUTES = [
    Route("POST", "/seed/payout-links", control_seed),
    Route("POST", "/payout-links/<payout_link_id>/advance", control_advance),
    Route("GET", "/payout-links/<payout_link_id>/claim", control_claim_page),
]
