"""Test controls under /_emulator/ (no auth, never under /api): the emulator's own knobs.

Resource modules add their own (advance a transfer, approve a payout request...)
through CONTROL_ROUTES; this module holds the ones about the emulator itself.
Each handler has the resource-handler signature and runs in the store transaction.
"""

from __future__ import annotations

import fnmatch
import json

from dots.emulator import lifecycles, state_page
from dots.emulator.context import Ctx, clock_now, iso
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.routing import Route
from dots.redact import redact


def ping(ctx: Ctx) -> tuple[int, object]:
    return 200, {"ok": True}


def reset(ctx: Ctx) -> tuple[int, object]:
    ctx.emulator.reset()
    return 200, {"ok": True, "app_id": ctx.emulator.default_app_id}


def get_settings(ctx: Ctx) -> tuple[int, object]:
    return 200, lifecycles.all_settings(ctx.store)


def post_settings(ctx: Ctx) -> tuple[int, object]:
    return 200, lifecycles.update_settings(ctx.store, ctx.json)


def set_clock(ctx: Ctx) -> tuple[int, object]:
    """{"offset_seconds": N} sets the offset; {"advance_seconds": N} adds to it (e.g. expire idempotency keys)."""
    body = ctx.json
    offset = ctx.store.meta_get("clock_offset_seconds", 0)
    if "offset_seconds" in body:
        offset = ctx.require_int(body, "offset_seconds")
    if "advance_seconds" in body:
        offset += ctx.require_int(body, "advance_seconds")
    ctx.store.meta_set("clock_offset_seconds", offset)
    return 200, {"offset_seconds": offset, "now": iso(clock_now(ctx.store))}


def set_api_keys(ctx: Ctx) -> tuple[int, object]:
    """{"api_keys": ["new", "old"]}: the API keys accepted from now on (a key rotation); reset restores --api-key."""
    keys = ctx.json.get("api_keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise ApiError(400, "invalid-input", "api_keys must be a non-empty list of non-empty strings")
    ctx.emulator.set_api_keys(keys)
    # Never echo a key: how many are accepted, and each one's last four characters.
    return 200, {"accepted": len(keys), "ending_in": [key[-4:] for key in keys]}


def list_faults(ctx: Ctx) -> tuple[int, object]:
    return 200, {"data": ctx.emulator.faults.describe()}


def add_fault(ctx: Ctx) -> tuple[int, object]:
    return 201, ctx.emulator.faults.add(ctx.json)


def clear_faults(ctx: Ctx) -> tuple[int, object]:
    ctx.emulator.faults.clear()
    return 200, {"ok": True}


def list_requests(ctx: Ctx) -> tuple[int, object]:
    """Requests received under /api, newest first; `?method=POST&path=/v2/transfers*&limit=50`."""
    method = (ctx.query.get("method") or "").upper()
    path_glob = ctx.query.get("path")
    limit = int(ctx.query.get("limit") or 200)
    out = []
    for entry in reversed(ctx.emulator.request_log):
        if method and entry["method"] != method:
            continue
        path = entry["path"]
        if path_glob and not (fnmatch.fnmatchcase(path, path_glob) or fnmatch.fnmatchcase(path, "/api" + path_glob)):
            continue
        out.append(describe_request(entry))
        if len(out) >= limit:
            break
    return 200, {"data": out}


def describe_request(entry: Doc) -> Doc:
    body = entry["body"]
    if isinstance(body, bytes):
        try:
            body = json.loads(body) if body.strip() else None
        except (ValueError, UnicodeDecodeError):
            body = "<not JSON>"
    return {
        "method": entry["method"],
        "path": entry["path"],
        "query": entry["query"],
        "status": entry.get("status"),
        "request_id": entry["request_id"],
        "app_id": entry.get("app_id"),
        "at": entry["at"],
        "ms": entry.get("ms"),
        "dropped": entry.get("dropped", False),
        "idempotent_replay": entry.get("idempotent_replay", False),
        # Account numbers keep their last four; secrets are masked (dots.redact).
        "body": redact(body),
    }


def webhooks_config(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    url = ctx.optional_str(body, "url")
    secret = ctx.optional_str(body, "secret")
    if secret is not None and not secret.startswith("whsec_"):
        raise ApiError(400, "invalid-input", "secret must be a whsec_... value")
    delays = body.get("retry_delays")
    if delays is not None and (
        not isinstance(delays, list) or not all(isinstance(d, (int, float)) and d >= 0 for d in delays)
    ):
        raise ApiError(400, "invalid-input", "retry_delays must be a list of seconds")
    config = ctx.emulator.outbox.configure(url=url, secret=secret, retry_delays=delays)
    return 200, {"url": config["url"], "retry_delays": config["retry_delays"]}


def webhooks_flush(ctx: Ctx) -> tuple[int, object]:
    # Not transactional (see CONTROL_ROUTES): delivery makes HTTP calls, and a receiver that
    # fetches the object back from the emulator would wait forever on a held store lock.
    return 200, {"data": ctx.emulator.outbox.deliver_due(force=True)}


def webhooks_list(ctx: Ctx) -> tuple[int, object]:
    return 200, {"data": ctx.emulator.outbox.list_events(limit=int(ctx.query.get("limit") or 100))}


def state(ctx: Ctx) -> tuple[int, object]:
    return 200, state_page.render(ctx)


CONTROL_ROUTES = [
    Route("GET", "/", state),
    Route("GET", "/ping", ping, transactional=False),
    Route("POST", "/reset", reset),
    Route("GET", "/settings", get_settings),
    Route("POST", "/settings", post_settings),
    Route("POST", "/clock", set_clock),
    Route("POST", "/api-keys", set_api_keys),
    Route("GET", "/faults", list_faults),
    Route("POST", "/faults", add_fault),
    Route("POST", "/faults/clear", clear_faults),
    Route("GET", "/requests", list_requests),
    Route("POST", "/webhooks/config", webhooks_config),
    Route("POST", "/webhooks/flush", webhooks_flush, transactional=False),
    Route("GET", "/webhooks", webhooks_list),
]
