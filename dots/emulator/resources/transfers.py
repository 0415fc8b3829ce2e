"""Transfers (every money movement) and the transactions that make them up.

Every module that moves money creates its transfer through `create_transfer(...)`:
payables `pay`, payouts, payout-link claims, app deposit/withdraw, POST /v2/transfers.

Lifecycle: created -> pending -> completed | failed (lifecycles.TRANSITIONS["transfer"]).
A transfer advances by the control `POST /_emulator/transfers/<id>/advance
{"status": ..., "reason": ...}` or by itself per the `transfer` lifecycle setting.
Wallet effects are explicit arguments: `wallet_debit` is taken at creation and given
back if the transfer fails; `wallet_credit_on_complete` lands only on completion.

Another resource that must follow its transfer's outcome (a payable whose payment
completes or fails) registers a function in FOLLOWERS under its `purpose`; advance()
calls it after the transfer changed. A dict, not signals: grep finds every follower.

Fields starting with "_" are the emulator's own bookkeeping and never leave it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dots.emulator import lifecycles
from dots.emulator.context import Ctx, iso
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc, Metadata
from dots.emulator.resources import users as users_resource
from dots.emulator.routing import Route

KIND = "transfer"
TRANSACTION_KIND = "transaction"
TYPES = ("refill", "payout", "balance", "payment", "settlement", "payable")
TRANSACTION_TYPES = {
    "refill": "refill",
    "payout": "payout",
    "balance": "balance",
    "payment": "payment",
    "settlement": "balance",
    "payable": "payment",
}

# purpose -> fn(ctx, transfer, previous_status, reason); see the module docstring.
FOLLOWERS: dict[str, Callable[[Ctx, Doc, str, str | None], None]] = {}


# -- the helper other modules call ------------------------------------------------------------


def create_transfer(
    ctx: Ctx,
    *,
    amount: int,
    type: str,
    user_id: str | None = None,
    payout_link_id: str | None = None,
    external_data: Doc | None = None,
    metadata: Metadata = None,
    source_name: str | None = None,
    destination_name: str | None = None,
    wallet_debit: int = 0,
    wallet_credit_on_complete: int = 0,
    purpose: str | None = None,
    purpose_id: str | None = None,
    lifecycle_kind: str = "transfer",
    app_id: str | None = None,
) -> Doc:
    """Create a transfer (status created) with one transaction; returns the stored doc.

    `wallet_debit` cents are taken from the app wallet now (400 transaction-insufficient-funds
    when short) and refunded if the transfer fails. `lifecycle_kind` names the setting that
    may complete it at once ("transfer", or "payable_payment" for a payable's payment).
    """
    if type not in TYPES:
        raise ValueError(f"transfer type {type!r} is not one of {TYPES}")
    app_id = app_id or ctx.app_id
    if wallet_debit:
        ctx.wallet_debit(wallet_debit, app_id=app_id)
    transfer_id = ctx.store.new_uuid()
    now = ctx.now_iso()
    transaction = _new_transaction(
        ctx,
        transfer_id=transfer_id,
        amount=amount,
        type=TRANSACTION_TYPES[type],
        metadata=metadata,
        source_name=source_name or "App wallet",
        destination_name=destination_name or (f"User {user_id}" if user_id else "External account"),
        app_id=app_id,
    )
    doc = {
        "id": transfer_id,
        "created": now,
        "status": "created",
        "type": type,
        "amount": amount,
        "transactions": [transaction],
        "metadata": metadata,
        "_app_id": app_id,
        "_purpose": purpose,
        "_purpose_id": purpose_id,
        "_wallet_debit": wallet_debit,
        "_wallet_credit_on_complete": wallet_credit_on_complete,
        "_lifecycle": lifecycle_kind,
        "_updated": now,
    }
    if user_id is not None:
        doc["user_id"] = user_id
    if payout_link_id is not None:
        doc["payout_link_id"] = payout_link_id
    if external_data is not None:
        doc["external_data"] = external_data
    ctx.store.insert(KIND, transfer_id, doc, app_id=app_id)
    ctx.emit("transfer.updated", {"transfer_id": transfer_id, "metadata": _metadata_object(metadata)})
    auto = lifecycles.auto_outcome_on_create(ctx.store, lifecycle_kind)
    if auto is not None:
        outcome, reason = auto
        doc = advance(ctx, doc, _transfer_status_for(outcome), reason=reason)
    return doc


def advance(ctx: Ctx, doc: Doc, new_status: str, *, reason: str | None = None) -> Doc:
    """Move a transfer to new_status (table-checked), apply wallet effects, announce it, tell followers."""
    previous = lifecycles.transition("transfer", doc, new_status)
    doc["_updated"] = ctx.now_iso()
    app_id = doc.get("_app_id")
    if new_status == "failed":
        doc["failure_reason"] = reason or "transfer failed"
        if doc.get("_wallet_debit"):
            ctx.wallet_credit(doc["_wallet_debit"], app_id=app_id, refund=True)
    elif new_status in ("canceled", "reversed") and doc.get("_wallet_debit"):
        ctx.wallet_credit(doc["_wallet_debit"], app_id=app_id, refund=True)
    elif new_status == "completed" and doc.get("_wallet_credit_on_complete"):
        ctx.wallet_credit(doc["_wallet_credit_on_complete"], app_id=app_id)
    ctx.store.put(KIND, doc["id"], doc)
    data = {"transfer_id": doc["id"], "metadata": _metadata_object(doc.get("metadata"))}
    ctx.emit("transfer.updated", data)
    if new_status in ("completed", "failed", "flagged"):
        ctx.emit(f"transfer.{new_status}", {**data, "transfer": serialize_transfer(doc)})
    follower = FOLLOWERS.get(doc.get("_purpose") or "")
    if follower is not None:
        follower(ctx, doc, previous, reason)
    return doc


def advance_by_outcome(ctx: Ctx, doc: Doc, outcome: str, *, reason: str | None = None) -> Doc:
    """Finish a transfer still moving: created goes through pending first, as a bank transfer does."""
    target = _transfer_status_for(outcome)
    if doc["status"] == "created" and target in ("completed", "failed"):
        doc = advance(ctx, doc, "pending")
    return advance(ctx, doc, target, reason=reason)


def serialize_transfer(doc: Doc) -> Doc:
    out = {key: value for key, value in doc.items() if not key.startswith("_")}
    if out.get("metadata") is None:
        out.pop("metadata", None)
    return out


def get_transfer(ctx: Ctx, transfer_id: str) -> Doc:
    doc = ctx.store.get(KIND, transfer_id)
    if doc is None or doc.get("_app_id") != ctx.app_id:
        raise ApiError(404, "not-found", "transfer not found")
    return doc


# -- handlers ----------------------------------------------------------------------------------------


def list_transfers(ctx: Ctx) -> tuple[int, object]:
    filters = ("user_id", "type", "status", "start_date", "end_date", "reverse_order")
    if not any(ctx.query.get(name) for name in filters):
        return 200, ctx.paginate_kind(KIND, app_id=ctx.app_id, serialize=serialize_transfer)
    items = ctx.store.list(KIND, app_id=ctx.app_id)
    user_id = ctx.query.get("user_id")
    if user_id:
        items = [t for t in items if t.get("user_id") == user_id]
    type_ = ctx.query.get("type")
    if type_:
        items = [t for t in items if t["type"] == type_]
    status = ctx.query.get("status")
    if status:
        items = [t for t in items if t["status"] == status]
    start = _parse_date_param(ctx, "start_date")
    end = _parse_date_param(ctx, "end_date")
    if start or end:
        items = [t for t in items if _within(t["created"], start, end)]
    if (ctx.query.get("reverse_order") or "").lower() == "true":
        items = list(reversed(items))
    page = ctx.paginate(items)
    page["data"] = [serialize_transfer(t) for t in page["data"]]
    return 200, page


def create_transfer_handler(ctx: Ctx) -> tuple[int, object]:
    """POST /v2/transfers: move money between the app wallet and a user's wallet.

    A positive amount sends to the user: the app wallet is debited now and the user's
    wallet credited when the transfer completes. A negative one pulls from the user: the
    user's wallet is debited now (400 transaction-insufficient-funds when short) and the
    app wallet credited on completion; a failure gives the user's money back.
    """
    body = ctx.json
    amount = ctx.require_int(body, "amount")
    if amount == 0:
        raise ApiError(400, "invalid-input", "amount must not be zero")
    user_id = ctx.require_str(body, "user_id")
    user = ctx.store.get(users_resource.USER_KIND, user_id)
    if user is None or ctx.store.app_id_of(users_resource.USER_KIND, user_id) != ctx.app_id:
        raise ApiError(404, "not-found", "user not found")
    ctx.optional(body, "tax_exempt", types=(bool,))
    metadata = ctx.optional(body, "metadata", types=(str, dict))
    if amount < 0:
        users_resource.user_wallet_debit(ctx, user_id=user_id, cents=-amount)
    doc = create_transfer(
        ctx,
        amount=amount,
        type="balance",
        user_id=user_id,
        metadata=metadata,
        source_name="App wallet" if amount > 0 else f"User {user_id}",
        destination_name=f"User {user_id}" if amount > 0 else "App wallet",
        wallet_debit=amount if amount > 0 else 0,
        wallet_credit_on_complete=-amount if amount < 0 else 0,
        purpose="user_balance",
        purpose_id=user_id,
    )
    return 200, serialize_transfer(doc)


def _follow_user_balance(ctx: Ctx, transfer: Doc, previous: str, reason: str | None) -> None:
    """FOLLOWERS["user_balance"]: the user's side of a POST /v2/transfers."""
    amount, user_id = transfer["amount"], transfer["_purpose_id"]
    if transfer["status"] == "completed" and amount > 0:
        users_resource.user_wallet_credit(ctx, user_id=user_id, cents=amount)
    elif transfer["status"] in ("failed", "canceled") and amount < 0:
        users_resource.user_wallet_credit(ctx, user_id=user_id, cents=-amount)


FOLLOWERS["user_balance"] = _follow_user_balance


def retrieve_transfer(ctx: Ctx, transfer_id: str) -> tuple[int, object]:
    doc = get_transfer(ctx, transfer_id)
    if doc.get("_lifecycle", "transfer") == "transfer" and doc["status"] in ("created", "pending"):
        auto = lifecycles.auto_outcome_on_read(ctx.store, "transfer", transfer_id)
        if auto is not None:
            doc = advance_by_outcome(ctx, doc, auto[0], reason=auto[1])
    return 200, serialize_transfer(doc)


def list_transactions(ctx: Ctx) -> tuple[int, object]:
    include_transfer = (ctx.query.get("include_transfer") or "").lower() == "true"
    return 200, ctx.paginate_kind(
        TRANSACTION_KIND,
        app_id=ctx.app_id,
        serialize=lambda t: _serialize_transaction(ctx, t, include_transfer=include_transfer),
    )


def retrieve_transaction(ctx: Ctx, transaction_id: str) -> tuple[int, object]:
    doc = ctx.store.get(TRANSACTION_KIND, transaction_id)
    if doc is None or ctx.store.app_id_of(TRANSACTION_KIND, transaction_id) != ctx.app_id:
        raise ApiError(404, "not-found", "transaction not found")
    include_transfer = (ctx.query.get("include_transfer") or "").lower() == "true"
    return 200, _serialize_transaction(ctx, doc, include_transfer=include_transfer)


# -- controls -------------------------------------------------------------------------------------------


def control_advance(ctx: Ctx, transfer_id: str) -> tuple[int, object]:
    """POST /_emulator/transfers/<id>/advance {"status": "pending"|"completed"|"failed"|..., "reason": ...}"""
    doc = ctx.store.get_or_404(KIND, transfer_id, what="transfer")
    body = ctx.json
    status = ctx.require_choice(body, "status", tuple(lifecycles.TRANSITIONS["transfer"]))
    reason = ctx.optional_str(body, "reason")
    doc = advance(ctx, doc, status, reason=reason)
    return 200, serialize_transfer(doc)


SEED_MAX = 1_000_000
SEED_MAX_PATTERN = 10_000


def control_seed(ctx: Ctx) -> tuple[int, object]:
    """POST /_emulator/seed/transfers {"count": 100000, "statuses": {"completed": 99, "pending": 1}, ...}

    Inserts `count` transfers (each with its transaction) straight into the store in this one
    transaction, for benchmarks and paging tests: no wallet effects, no webhooks. Statuses are
    dealt in a fixed repeating pattern from the weights (oldest first), failed ones carry
    `failure_reason`. `created` runs back from the emulator clock, `spacing_seconds` apart, newest
    last, so the list's newest-first order and the timestamps agree. `sample`: how many ids,
    spread evenly over the new transfers, the answer lists in `sample_ids` (default none).
    """
    body = ctx.json
    count = ctx.require_int(body, "count", min=1, max=SEED_MAX)
    statuses = ctx.optional(body, "statuses", {"completed": 1}, types=(dict,))
    pattern: list[str] = []
    for status, weight in statuses.items():
        if status not in lifecycles.TRANSITIONS["transfer"]:
            raise ApiError(400, "invalid-input", f"statuses: {status!r} is not a transfer status")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ApiError(400, "invalid-input", "statuses: each weight must be a whole number from 0")
        pattern += [status] * weight
    if not pattern or len(pattern) > SEED_MAX_PATTERN:
        raise ApiError(400, "invalid-input", f"statuses: weights must add up to 1..{SEED_MAX_PATTERN}")
    amount = ctx.optional_int(body, "amount", 100, min=1)
    type_ = ctx.optional(body, "type", "balance", types=(str,), choices=TYPES)
    failure_reason = ctx.optional_str(body, "failure_reason", "R01", max_len=500)
    spacing = ctx.optional_int(body, "spacing_seconds", 1, min=0)
    user_id = ctx.optional_str(body, "user_id")
    sample = ctx.optional_int(body, "sample", 0, min=0, max=SEED_MAX_PATTERN)
    if user_id is not None and ctx.store.app_id_of(users_resource.USER_KIND, user_id) != ctx.app_id:
        raise ApiError(404, "not-found", "user not found")
    newest = ctx.now()
    first_transaction_id = ctx.store.next_int_ids(TRANSACTION_KIND, count)
    transfer_docs: list[tuple[str, Doc]] = []
    transaction_docs: list[tuple[int, Doc]] = []
    for i in range(count):
        transfer_id = ctx.store.new_uuid()
        created = iso(newest - timedelta(seconds=spacing * (count - 1 - i)))
        transaction: Doc = {
            "id": first_transaction_id + i,
            "amount": amount,
            "created": created,
            "source_name": "App wallet",
            "destination_name": f"User {user_id}" if user_id else "External account",
            "type": TRANSACTION_TYPES[type_],
            "metadata": None,
            "transfer_id": transfer_id,
        }
        doc = {
            "id": transfer_id,
            "created": created,
            "status": pattern[i % len(pattern)],
            "type": type_,
            "amount": amount,
            "transactions": [transaction],
            "metadata": None,
            "_app_id": ctx.app_id,
            "_purpose": None,
            "_purpose_id": None,
            "_wallet_debit": 0,
            "_wallet_credit_on_complete": 0,
            "_lifecycle": "transfer",
            "_updated": created,
        }
        if doc["status"] == "failed":
            doc["failure_reason"] = failure_reason
        if user_id is not None:
            doc["user_id"] = user_id
        transaction_docs.append((transaction["id"], transaction))
        transfer_docs.append((transfer_id, doc))
    ctx.store.insert_many(TRANSACTION_KIND, transaction_docs, app_id=ctx.app_id)
    ctx.store.insert_many(KIND, transfer_docs, app_id=ctx.app_id)
    by_status: dict[str, int] = {}
    for _id, doc in transfer_docs:
        by_status[doc["status"]] = by_status.get(doc["status"], 0) + 1
    return 201, {
        "created": count,
        "by_status": by_status,
        "oldest_id": transfer_docs[0][0],
        "newest_id": transfer_docs[-1][0],
        # `sample` ids spread evenly from oldest to newest, for benchmarks' random reads
        "sample_ids": [transfer_docs[int(i * count / sample)][0] for i in range(sample)],
    }


# -- helpers ----------------------------------------------------------------------------------------------


def _new_transaction(
    ctx: Ctx,
    *,
    transfer_id: str,
    amount: int,
    type: str,
    metadata: Metadata,
    source_name: str,
    destination_name: str,
    app_id: str | None,
) -> Doc:
    transaction_id = ctx.store.next_int_id(TRANSACTION_KIND)
    transaction = {
        "id": transaction_id,
        "amount": amount,
        "created": ctx.now_iso(),
        "source_name": source_name,
        "destination_name": destination_name,
        "type": type,
        "metadata": metadata,
        "transfer_id": transfer_id,
    }
    ctx.store.insert(TRANSACTION_KIND, transaction_id, transaction, app_id=app_id)
    return transaction


def _serialize_transaction(ctx: Ctx, doc: Doc, *, include_transfer: bool) -> Doc:
    out = dict(doc)
    if include_transfer:
        transfer = ctx.store.get(KIND, doc["transfer_id"])
        if transfer is not None:
            out["transfer"] = serialize_transfer(transfer)
    return out


def _transfer_status_for(outcome: str) -> str:
    """A lifecycle outcome ("payment_completed", "completed", "failed"...) as a transfer status."""
    return {"payment_completed": "completed", "payment_failed": "failed"}.get(outcome, outcome)


def _metadata_object(metadata: Metadata) -> Doc | None:
    return metadata if isinstance(metadata, dict) else None


def _parse_date_param(ctx: Ctx, name: str) -> datetime | None:
    raw = ctx.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid-input", f"{name} must be an ISO 8601 date-time") from None
    if value.tzinfo is None:  # NOTES.md decision 11: a zoneless timestamp is UTC
        value = value.replace(tzinfo=UTC)
    return value


def _within(created: str, start: datetime | None, end: datetime | None) -> bool:
    when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return (start is None or when >= start) and (end is None or when <= end)


ROUTES = [
    Route("GET", "/v2/transfers", list_transfers),
    Route("POST", "/v2/transfers", create_transfer_handler),
    Route("GET", "/v2/transfers/<transfer_id>", retrieve_transfer),
    Route("GET", "/v2/transactions", list_transactions),
    Route("GET", "/v2/transactions/<transaction_id>", retrieve_transaction),
]
CONTROL_ROUTES = [
    Route("POST", "/transfers/<transfer_id>/advance", control_advance),
    Route("POST", "/seed/transfers", control_seed),
]
