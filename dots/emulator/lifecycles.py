"""Lifecycles as data: which status may follow which, and how the emulator advances them.

The tables come from the spec's status enums and NOTES.md decision 6 (payables).
`transition()` is the one place a status changes; it refuses anything the table
does not allow with 400 invalid-state-transition naming both statuses.

How a status advances without a client call is a *setting* tests change through
`POST /_emulator/settings` (stored in the store, so it survives a restart and is
cleared by reset):

    {"transfer": {"mode": "manual" | "immediate" | "on_read", "outcome": "completed", "reason": null, "reads": 1}}

- manual:    stays where the API left it until a control call moves it (the default: tests decide)
- immediate: moves to `outcome` in the same request that created it
- on_read:   moves to `outcome` on the `reads`-th GET of the object (a poller sees it complete)
"""

from __future__ import annotations

from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.store import Store

TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    # NOTES.md decision 6. payment_failed -> payment_initiated is the retry.
    "payable": {
        "created": frozenset({"submitted_for_approval", "canceled"}),
        "submitted_for_approval": frozenset({"approved", "rejected"}),
        "approved": frozenset({"payment_initiated"}),
        "payment_initiated": frozenset({"payment_completed", "payment_failed"}),
        "payment_failed": frozenset({"payment_initiated"}),
        "payment_completed": frozenset(),
        "rejected": frozenset(),
        "canceled": frozenset(),
    },
    # The money movement behind a payable `pay`: initiated until the bank answers.
    "payable_payment": {
        "payment_initiated": frozenset({"payment_completed", "payment_failed"}),
        "payment_completed": frozenset(),
        "payment_failed": frozenset(),
    },
    # transfer.status enum; reversed only after completion, flagged while still moving.
    "transfer": {
        "created": frozenset({"pending", "completed", "failed", "canceled", "flagged"}),
        "pending": frozenset({"completed", "failed", "canceled", "flagged"}),
        "flagged": frozenset({"pending", "completed", "failed", "canceled"}),
        "completed": frozenset({"reversed"}),
        "failed": frozenset(),
        "reversed": frozenset(),
        "canceled": frozenset(),
    },
    # payout-link.status enum.
    "payout_link": {
        "created": frozenset({"delivery_pending", "sent", "delivered", "claimed", "canceled", "expired", "failed"}),
        "delivery_pending": frozenset({"sent", "delivered", "delivery_failed", "canceled", "expired"}),
        "delivery_failed": frozenset({"delivery_pending", "sent", "canceled", "expired"}),
        "sent": frozenset({"delivered", "claimed", "canceled", "expired"}),
        "delivered": frozenset({"claimed", "canceled", "expired"}),
        "claimed": frozenset({"reversed", "failed"}),
        "reversed": frozenset(),
        "canceled": frozenset(),
        "expired": frozenset(),
        "failed": frozenset(),
    },
    # payout-request.status enum; NOTES.md decision 8 (decided in the dashboard, here by control).
    "payout_request": {
        "created": frozenset({"approved", "rejected"}),
        "approved": frozenset(),
        "rejected": frozenset(),
    },
    # payout-batch-response.status enum: a batch's items are paid when it reaches paying_out (or completed).
    "payout_batch": {
        "created": frozenset({"processing", "paying_out", "completed"}),
        "processing": frozenset({"paying_out", "completed"}),
        "paying_out": frozenset({"completed"}),
        "completed": frozenset(),
    },
    # user.status enum: verification can go back and forth; a disabled user can be re-enabled.
    "user": {
        "unverified": frozenset({"in_review", "verified", "disabled"}),
        "in_review": frozenset({"verified", "unverified", "disabled"}),
        "verified": frozenset({"unverified", "disabled"}),
        "disabled": frozenset({"unverified", "verified"}),
    },
}

# Which outcome an automatic advance picks when a test does not say.
DEFAULT_OUTCOME = {
    "transfer": "completed",
    "payable_payment": "payment_completed",
    "payout_link": "claimed",
    "payout_request": "approved",
    "user": "verified",
    "payout_batch": "completed",
}
# How a kind advances when no test says: manual, except batches, which Dots (and so the emulator, by
# default) processes in the create request; `manual` holds one at `created` for tests of the others.
DEFAULT_MODE = {"payout_batch": "immediate"}

MODES = ("manual", "immediate", "on_read")
SETTINGS_KEY = "lifecycle_settings"


def allowed(kind: str, current: str, new_status: str) -> bool:
    return new_status in TRANSITIONS[kind].get(current, frozenset())


def transition(kind: str, doc: Doc, new_status: str, *, field: str = "status") -> str:
    """Set doc[field] to new_status if the table allows it; return the previous status."""
    table = TRANSITIONS[kind]
    stored = doc.get(field)
    current = stored if isinstance(stored, str) else None
    if new_status not in table:
        raise ApiError(400, "invalid-input", f"{new_status!r} is not a {kind} status")
    if current is None or new_status not in table.get(current, frozenset()):
        raise ApiError(
            400,
            "invalid-state-transition",
            f"{kind.replace('_', ' ')} {doc.get('id', '')} is {stored}; it cannot become {new_status}".replace(
                "  ", " "
            ),
        )
    doc[field] = new_status
    return current


def default_setting(kind: str) -> Doc:
    return {"mode": DEFAULT_MODE.get(kind, "manual"), "outcome": DEFAULT_OUTCOME.get(kind), "reason": None, "reads": 1}


def setting(store: Store, kind: str) -> Doc:
    """The advance setting for a kind (see the module docstring)."""
    stored = store.meta_get(SETTINGS_KEY, {}) or {}
    merged = default_setting(kind)
    merged.update(stored.get(kind) or {})
    return merged


def all_settings(store: Store) -> Doc:
    return {kind: setting(store, kind) for kind in DEFAULT_OUTCOME}


def update_settings(store: Store, changes: Doc) -> Doc:
    """Validate and merge `{kind: {mode, outcome, reason, reads}}`; returns every kind's setting."""
    if not isinstance(changes, dict):
        raise ApiError(400, "invalid-input", "settings must be an object keyed by lifecycle kind")
    stored = store.meta_get(SETTINGS_KEY, {}) or {}
    for kind, value in changes.items():
        if kind not in DEFAULT_OUTCOME:
            raise ApiError(
                400, "invalid-input", f"unknown lifecycle kind {kind!r}; known: {', '.join(DEFAULT_OUTCOME)}"
            )
        if not isinstance(value, dict):
            raise ApiError(400, "invalid-input", f"{kind} setting must be an object")
        merged = dict(stored.get(kind) or {})
        for key, item in value.items():
            if key == "mode" and item not in MODES:
                raise ApiError(400, "invalid-input", f"{kind}.mode must be one of {', '.join(MODES)}")
            if key == "outcome" and item not in TRANSITIONS[kind]:
                raise ApiError(400, "invalid-input", f"{kind}.outcome {item!r} is not a {kind} status")
            if key == "reads" and (isinstance(item, bool) or not isinstance(item, int) or item < 1):
                raise ApiError(400, "invalid-input", f"{kind}.reads must be a positive integer")
            if key not in ("mode", "outcome", "reason", "reads"):
                raise ApiError(400, "invalid-input", f"{kind}.{key} is not a setting")
            merged[key] = item
        stored[kind] = merged
    store.meta_set(SETTINGS_KEY, stored)
    return all_settings(store)


def auto_outcome_on_create(store: Store, kind: str) -> tuple[str, str | None] | None:
    """(outcome, reason) when objects of this kind should advance in the request that made them."""
    s = setting(store, kind)
    if s["mode"] == "immediate":
        return s["outcome"], s["reason"]
    return None


def auto_outcome_on_read(store: Store, kind: str, object_id: str) -> tuple[str, str | None] | None:
    """(outcome, reason) when this GET is the one that should advance the object (mode on_read).

    Counts reads per object in the meta table; the object's own document stays
    exactly the spec's shape.
    """
    s = setting(store, kind)
    if s["mode"] != "on_read":
        return None
    key = f"reads:{kind}:{object_id}"
    reads = store.meta_get(key, 0) + 1
    if reads >= s["reads"]:
        store.meta_delete(key)
        return s["outcome"], s["reason"]
    store.meta_set(key, reads)
    return None
