"""Payout requests: /v2/payout-requests (create, list, retrieve).

A payout request asks the organisation to pay someone. Dots decides it in its
dashboard, not through the API (NOTES.md decision 8), so the emulator offers the
controls `POST /_emulator/payout-requests/<id>/approve` and `/reject`
(or the `payout_request` lifecycle setting). Approval creates a payout link,
delivered by SMS to the payee (that is what the spec's description promises),
funded from the app wallet: when the wallet is short the approval is refused
with 400 transaction-insufficient-funds and the request stays `created`.
Both outcomes emit `payout_request.updated`.

The answer carries the link under the hyphenated key `"payout-link"`, as the
spec spells it, and the current state of that link (not a copy taken at
approval).
"""

from __future__ import annotations

import copy
import re

from dots.emulator import lifecycles
from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import payout_links
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route

KIND = "payout_request"
_CREATE_FIELDS = frozenset({"amount", "user_id", "payee", "metadata", "memo"})


def get_payout_request(ctx: Ctx, request_id: str) -> Doc:
    if ctx.store.app_id_of(KIND, request_id) != ctx.app_id:
        raise ApiError(404, "not-found", "payout request not found")
    return ctx.store.load(KIND, request_id)


def decide_payout_request(ctx: Ctx, doc: Doc, outcome: str, *, reason: str | None = None) -> Doc:
    """Approve (creating and attaching a payout link) or reject; emits payout_request.updated."""
    lifecycles.transition(KIND, doc, outcome)
    if outcome == "approved":
        user = ctx.store.get(users_resource.USER_KIND, doc["_user_id"]) if doc["_user_id"] else None
        link = payout_links.create_payout_link(
            ctx,
            amount=doc["amount"],
            user=user,
            payee=doc["payee"],
            delivery_method="sms" if doc["payee"].get("phone_number") else "link",
            metadata=doc["metadata"],
            memo=doc["memo"],
        )
        doc["_payout_link_id"] = link["id"]
    doc["_reason"] = reason
    ctx.store.put(KIND, doc["id"], doc)
    ctx.emit("payout_request.updated", {"payout_request_id": doc["id"]})
    return doc


def _auto_decide(ctx: Ctx, doc: Doc, outcome: str, *, reason: str | None) -> Doc:
    """A decision the lifecycle setting makes on its own: when it cannot be made (the wallet
    cannot fund the link), the request stays `created`, as it would wait in the dashboard,
    and the create or read that triggered it still succeeds."""
    conn = ctx.store.conn
    conn.execute("SAVEPOINT payout_request_auto")
    try:
        decided = decide_payout_request(ctx, copy.deepcopy(doc), outcome, reason=reason)
    except ApiError:
        conn.execute("ROLLBACK TO SAVEPOINT payout_request_auto")
        conn.execute("RELEASE SAVEPOINT payout_request_auto")
        return doc
    conn.execute("RELEASE SAVEPOINT payout_request_auto")
    return decided


def serialize_payout_request(ctx: Ctx, doc: Doc) -> Doc:
    out = {key: value for key, value in doc.items() if not key.startswith("_")}
    if out.get("memo") is None:
        out.pop("memo", None)  # the spec types memo as a string only
    if doc["_payout_link_id"]:
        link = ctx.store.get(payout_links.KIND, doc["_payout_link_id"])
        if link is not None:
            out["payout-link"] = payout_links.serialize_payout_link(link)
    if doc["_user_id"]:
        user = ctx.store.get(users_resource.USER_KIND, doc["_user_id"])
        if user is not None:  # a deleted user is simply not shown
            out["user"] = users_resource.serialize_user(ctx, user)
    return out


# -- handlers ----------------------------------------------------------------------------------------


def create(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    unknown = sorted(set(body) - _CREATE_FIELDS)
    if unknown:
        raise ApiError(400, "invalid-input", f"unknown field(s): {', '.join(unknown)}")
    amount = ctx.require_int(body, "amount", min=1)
    user = users_resource.get_user(ctx, body["user_id"]) if body.get("user_id") is not None else None
    payee = _optional_payee(ctx, body.get("payee"))
    if payee is None:
        if user is None:
            raise ApiError(400, "invalid-input", "user_id or payee is required")
        payee = dict(user["phone_number"])
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, (str, dict)):
        raise ApiError(400, "invalid-input", "metadata must be a string or an object")
    doc: Doc = {
        "id": ctx.store.new_uuid(),
        "created": ctx.now_iso(),
        "amount": amount,
        "status": "created",
        "payee": payee,
        "metadata": metadata,
        "memo": ctx.optional_str(body, "memo"),
        "_app_id": ctx.app_id,
        "_user_id": user["id"] if user is not None else None,
        "_payout_link_id": None,
        "_reason": None,
    }
    ctx.store.insert(KIND, doc["id"], doc, app_id=ctx.app_id)
    auto = lifecycles.auto_outcome_on_create(ctx.store, KIND)
    if auto is not None:
        doc = _auto_decide(ctx, doc, auto[0], reason=auto[1])
    return 201, serialize_payout_request(ctx, doc)


def list_payout_requests(ctx: Ctx) -> tuple[int, object]:
    page = ctx.paginate(ctx.store.list(KIND, app_id=ctx.app_id))
    page["data"] = [serialize_payout_request(ctx, d) for d in page["data"]]
    return 200, page


def retrieve(ctx: Ctx, payout_request_id: str) -> tuple[int, object]:
    doc = get_payout_request(ctx, payout_request_id)
    auto = lifecycles.auto_outcome_on_read(ctx.store, KIND, payout_request_id)
    if auto is not None and lifecycles.allowed(KIND, doc["status"], auto[0]):
        doc = _auto_decide(ctx, doc, auto[0], reason=auto[1])
    return 200, serialize_payout_request(ctx, doc)


# -- controls ------------------------------------------------------------------------------------------


def control_approve(ctx: Ctx, request_id: str) -> tuple[int, object]:
    """POST /_emulator/payout-requests/<id>/approve: the dashboard approval (creates the payout link)."""
    return _control_decide(ctx, request_id, "approved")


def control_reject(ctx: Ctx, request_id: str) -> tuple[int, object]:
    """POST /_emulator/payout-requests/<id>/reject {"reason"?}: the dashboard rejection."""
    return _control_decide(ctx, request_id, "rejected")


def _control_decide(ctx: Ctx, request_id: str, outcome: str) -> tuple[int, object]:
    doc = ctx.store.get_or_404(KIND, request_id, what="payout request")
    users_resource.act_for_app(ctx, doc["_app_id"])
    doc = decide_payout_request(ctx, doc, outcome, reason=ctx.optional_str(ctx.json, "reason"))
    return 200, serialize_payout_request(ctx, doc)


def _optional_payee(ctx: Ctx, payee: object) -> Doc | None:
    if payee is None:
        return None
    if not isinstance(payee, dict):
        raise ApiError(400, "invalid-input", "payee must be an object")
    country_code = ctx.require_str(payee, "country_code")
    phone_number = ctx.require_str(payee, "phone_number")
    if not re.fullmatch(r"[0-9]{1,3}", country_code):
        raise ApiError(400, "invalid-input", "payee.country_code must be 1 to 3 digits")
    if not re.fullmatch(r"[0-9]{1,20}", phone_number):
        raise ApiError(400, "invalid-input", "payee.phone_number must be 1 to 20 digits")
    return {"country_code": country_code, "phone_number": phone_number}


SEED_MAX = 1_000_000


def control_seed(ctx: Ctx) -> tuple[int, object]:
    """POST /_emulator/seed/payout-requests {"count": 50000, "amount": 1000}

    Inserts `count` payout requests waiting for a decision (`created`) straight into the store in
    one transaction, for benchmarks: no webhooks, no lifecycle setting applied. Answers their ids.
    """
    body = ctx.json
    count = ctx.require_int(body, "count", min=1, max=SEED_MAX)
    amount = ctx.optional_int(body, "amount", 1000, min=1)
    now = ctx.now_iso()
    docs: list[tuple[str, Doc]] = []
    for i in range(count):
        request_id = ctx.store.new_uuid()
        docs.append(
            (
                request_id,
                {
                    "id": request_id,
                    "created": now,
                    "amount": amount,
                    "status": "created",
                    "payee": {"country_code": "1", "phone_number": f"201{i % 10_000_000:07d}"},
                    "metadata": None,
                    "memo": None,
                    "_app_id": ctx.app_id,
                    "_user_id": None,
                    "_payout_link_id": None,
                    "_reason": None,
                },
            )
        )
    ctx.store.insert_many(KIND, docs, app_id=ctx.app_id)
    return 201, {"created": count, "ids": [request_id for request_id, _ in docs]}


ROUTES = [
    Route("POST", "/v2/payout-requests", create),
    Route("GET", "/v2/payout-requests", list_payout_requests),
    Route("GET", "/v2/payout-requests/<payout_request_id>", retrieve),
]

CONTROL_ROUTES = [
    Route("POST", "/seed/payout-requests", control_seed),
    Route("POST", "/payout-requests/<request_id>/approve", control_approve),
    Route("POST", "/payout-requests/<request_id>/reject", control_reject),
]
