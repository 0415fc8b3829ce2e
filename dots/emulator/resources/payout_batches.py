"""Payout batches: /v2/payout-batches (create, list, retrieve, results).

A batch is many payouts (`items`, 1 to 5000, each a payout-create-request with
its own `idempotency_key` and `fund: true`, as the spec requires). The shape of
the whole body is checked first: a malformed item refuses the batch with 400
invalid-input naming the item. Then each item is paid independently, exactly as
POST /v2/payouts would (payouts.execute_payout): an item that is refused
(unknown user, not verified, no payout method, wallet short) records its
`error_code` / `error_message` in the results and the others go on.

An item key already paid (by an earlier batch of this app) is not paid again: its
result points at the earlier transfer. The batch's own `idempotency_key` is
app.py's generic replay.

By default (setting `payout_batch` mode `immediate`, outcome `completed`) the
emulator processes a batch within the create request, so it is `completed` once
created. With mode `manual` (or `on_read`) a batch stays `created`, its items
unpaid and without results, until `POST /_emulator/payout-batches/<id>/advance
{"status": "processing" | "paying_out" | "completed"}` (or the `reads`-th GET)
moves it: the items are paid when it reaches `paying_out` or `completed`. The
transfers it created follow their own lifecycle.
"""

from __future__ import annotations

import re

from dots.emulator import lifecycles
from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import payouts, transfers
from dots.emulator.routing import Route

KIND = "payout_batch"
ITEM_KEY_KIND = "payout_batch_item_key"
MAX_ITEMS = 5000
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def get_payout_batch(ctx: Ctx, batch_id: str) -> Doc:
    if ctx.store.app_id_of(KIND, batch_id) != ctx.app_id:
        raise ApiError(404, "not-found", "payout batch not found")
    return ctx.store.load(KIND, batch_id)


def serialize_payout_batch(doc: Doc) -> Doc:
    out = {key: value for key, value in doc.items() if not key.startswith("_")}
    for key in ("idempotency_key", "metadata"):
        if out.get(key) is None:
            out.pop(key, None)
    return out


def serialize_results(ctx: Ctx, doc: Doc, *, include_request: bool) -> Doc:
    out = serialize_payout_batch(doc)
    items = []
    # Items of a batch not yet paying out: listed by user and key, with neither transfer nor error yet.
    waiting = [
        {"user_id": fields["user_id"], "idempotency_key": fields["idempotency_key"], "metadata": fields["metadata"],
         "request": item}
        for fields, item in doc.get("_pending") or []
    ]  # fmt: skip
    for result in [*doc["_results"], *waiting]:
        item = {"user_id": result["user_id"], "idempotency_key": result["idempotency_key"]}
        if result.get("metadata") is not None:
            item["metadata"] = result["metadata"]
        if result.get("transfer_id"):
            transfer = ctx.store.get(transfers.KIND, result["transfer_id"])
            item["transfer"] = {"id": result["transfer_id"], "status": transfer["status"] if transfer else "created"}
        if result.get("error_code"):
            item["error_code"] = result["error_code"]
            item["error_message"] = result["error_message"]
        if include_request:
            item["request"] = result["request"]
        items.append(item)
    out["items"] = items
    return out


# -- handlers --------------------------------------------------------------------------------------------


def create(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    unknown = sorted(set(body) - {"items", "idempotency_key", "metadata"})
    if unknown:
        raise ApiError(400, "invalid-input", f"unknown field(s): {', '.join(unknown)}")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise ApiError(400, "invalid-input", f"items must be an array of 1 to {MAX_ITEMS} payouts")
    metadata = ctx.optional(body, "metadata", None, types=(str, dict))
    batch_key = _optional_uuid(ctx.optional_str(body, "idempotency_key"), "idempotency_key")
    parsed = []
    seen_keys = set()
    for index, item in enumerate(items):
        where = f"items[{index}]."
        fields = payouts.validate_payout_request(ctx, item, where=where)
        if fields["idempotency_key"] is None:
            raise ApiError(400, "invalid-input", f"{where}idempotency_key is required")
        # Results echo these under `format: uuid`, so a malformed one refuses the batch up front.
        for name in ("idempotency_key", "user_id", "account_id"):
            _optional_uuid(fields[name], f"{where}{name}")
        if item.get("fund") is not True:
            raise ApiError(400, "invalid-input", f"{where}fund must be true: a batch pays from the app wallet")
        if fields["idempotency_key"] in seen_keys:
            raise ApiError(400, "invalid-input", f"{where}idempotency_key repeats an earlier item of this batch")
        seen_keys.add(fields["idempotency_key"])
        parsed.append(fields)

    batch_id = ctx.store.new_uuid()
    doc = {
        "id": batch_id,
        "created": ctx.now_iso(),
        "idempotency_key": batch_key,
        "status": "created",
        "metadata": metadata,
        "_app_id": ctx.app_id,
        "_results": [],
        "_pending": [[fields, item] for fields, item in zip(parsed, items, strict=False)],
    }
    auto = lifecycles.auto_outcome_on_create(ctx.store, KIND)
    if auto is not None:
        _advance(ctx, doc, auto[0])
    ctx.store.insert(KIND, batch_id, doc, app_id=ctx.app_id)
    return 200, serialize_payout_batch(doc)


def list_payout_batches(ctx: Ctx) -> tuple[int, object]:
    page = ctx.paginate(ctx.store.list(KIND, app_id=ctx.app_id))
    page["data"] = [serialize_payout_batch(d) for d in page["data"]]
    return 200, page


def retrieve(ctx: Ctx, payout_batch_id: str) -> tuple[int, object]:
    return 200, serialize_payout_batch(_read(ctx, payout_batch_id))


def results(ctx: Ctx, payout_batch_id: str) -> tuple[int, object]:
    doc = _read(ctx, payout_batch_id)
    raw = (ctx.query.get("include_request") or "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(400, "invalid-input", "include_request must be true or false")
    return 200, serialize_results(ctx, doc, include_request=raw == "true")


# -- controls ------------------------------------------------------------------------------------------------


def control_advance(ctx: Ctx, payout_batch_id: str) -> tuple[int, object]:
    """POST /_emulator/payout-batches/<id>/advance {"status": "processing" | "paying_out" | "completed"}"""
    doc = ctx.store.get_or_404(KIND, payout_batch_id, what="payout batch")
    status = ctx.require_choice(ctx.json, "status", tuple(lifecycles.TRANSITIONS[KIND]))
    _advance(ctx, doc, status)
    ctx.store.put(KIND, payout_batch_id, doc)
    return 200, serialize_payout_batch(doc)


# -- helpers -------------------------------------------------------------------------------------------------


def _read(ctx: Ctx, batch_id: str) -> Doc:
    """A GET of the batch: with mode on_read, the `reads`-th one moves it to the outcome."""
    doc = get_payout_batch(ctx, batch_id)
    auto = lifecycles.auto_outcome_on_read(ctx.store, KIND, batch_id)
    if auto is not None and lifecycles.allowed(KIND, doc["status"], auto[0]):
        _advance(ctx, doc, auto[0])
        ctx.store.put(KIND, batch_id, doc)
    return doc


def _advance(ctx: Ctx, doc: Doc, status: str) -> None:
    """Move the batch (the lifecycle table refuses a move back); its items are paid on reaching paying_out."""
    lifecycles.transition(KIND, doc, status)
    if status in ("paying_out", "completed") and doc.get("_pending"):
        doc["_results"] = [_pay_item(ctx, fields, request=item) for fields, item in doc["_pending"]]
        doc["_pending"] = []


def _optional_uuid(value: str | None, name: str) -> str | None:
    """Batch keys are echoed in answers typed `format: uuid`, so only UUIDs are accepted here
    (elsewhere app.py's generic idempotency takes any string)."""
    if value is not None and not _UUID.match(value):
        raise ApiError(400, "invalid-input", f"{name} must be a UUID")
    return value


def _pay_item(ctx: Ctx, fields: Doc, *, request: Doc) -> Doc:
    """Pay one item inside a savepoint, so a refused item leaves no trace and the batch goes on."""
    result = {
        "user_id": fields["user_id"],
        "idempotency_key": fields["idempotency_key"],
        "metadata": fields["metadata"],
        "request": request,
    }
    key_id = f"{ctx.app_id}:{fields['idempotency_key']}"
    earlier = ctx.store.get(ITEM_KEY_KIND, key_id)
    if earlier is not None:
        result["transfer_id"] = earlier["transfer_id"]
        return result
    conn = ctx.store.conn
    conn.execute("SAVEPOINT payout_batch_item")
    try:
        transfer = payouts.execute_payout(ctx, **fields)
    except ApiError as exc:
        conn.execute("ROLLBACK TO SAVEPOINT payout_batch_item")
        conn.execute("RELEASE SAVEPOINT payout_batch_item")
        result["error_code"] = exc.error_code
        result["error_message"] = exc.message
        return result
    conn.execute("RELEASE SAVEPOINT payout_batch_item")
    ctx.store.insert(ITEM_KEY_KIND, key_id, {"transfer_id": transfer["id"]}, app_id=ctx.app_id)
    result["transfer_id"] = transfer["id"]
    return result


ROUTES = [
    Route("POST", "/v2/payout-batches", create),
    Route("GET", "/v2/payout-batches", list_payout_batches),
    Route("GET", "/v2/payout-batches/<payout_batch_id>", retrieve),
    Route("GET", "/v2/payout-batches/<payout_batch_id>/results", results),
]
CONTROL_ROUTES = [Route("POST", "/payout-batches/<payout_batch_id>/advance", control_advance)]
