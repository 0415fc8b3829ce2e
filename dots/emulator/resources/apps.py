"""Apps (an organisation's API apps), their wallet, compliance and ACH account."""

from __future__ import annotations

import uuid

from dots.emulator.context import Ctx, WALLET_KIND, cents_to_decimal_str, iso, clock_now
from dots.emulator.routing import Route
from dots.emulator.store import Store

# Fixed ids, so a developer's .env (DOTS_APP_ID) stays valid across emulator resets.
DEFAULT_ORG_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "dots-emulator/default-organization"))
DEFAULT_APP_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "dots-emulator/default-app"))
DEFAULT_WALLET_CENTS = 10_000_000  # $100,000.00
DEFAULT_APP_KEY = "default_app_id"


def seed_default_if_empty(store: Store) -> None:
    """An empty store gets one organisation with one approved app and a funded wallet."""
    if store.count("app"):
        return
    now = iso(clock_now(store))
    store.insert("organization", DEFAULT_ORG_ID,
                 {"id": DEFAULT_ORG_ID, "name": "Ledgerline Dev Org", "created": now})
    create_app(store, app_id=DEFAULT_APP_ID, name="Ledgerline", status="approved",
               balance_cents=DEFAULT_WALLET_CENTS, now=now)
    store.meta_set(DEFAULT_APP_KEY, DEFAULT_APP_ID)


def default_app_id(store: Store) -> str:
    return store.meta_get(DEFAULT_APP_KEY, DEFAULT_APP_ID)


def create_app(store: Store, *, app_id: str, name: str, status: str, balance_cents: int, now: str,
               metadata=None) -> dict:
    app = {"id": app_id, "name": name, "status": status, "created": now}
    if metadata is not None:
        app["metadata"] = metadata
    store.insert("app", app_id, app, app_id=app_id)
    store.insert(WALLET_KIND, app_id, {"app_id": app_id, "balance": balance_cents, "money_out": 0}, app_id=app_id)
    return app


def serialize_app(store: Store, app: dict) -> dict:
    wallet = store.get(WALLET_KIND, app["id"]) or {"balance": 0, "money_out": 0}
    out = {
        "id": app["id"],
        "name": app["name"],
        "status": app["status"],
        "metrics": {
            "wallet_balance": cents_to_decimal_str(wallet["balance"]),
            "money_out": cents_to_decimal_str(wallet.get("money_out", 0)),
            "connected_users": len(store.list("user", app_id=app["id"])),
        },
    }
    if app.get("metadata") is not None:
        out["metadata"] = app["metadata"]
    return out


def retrieve_app(ctx: Ctx, app_id: str) -> tuple[int, object]:
    return 200, serialize_app(ctx.store, ctx.store.get_or_404("app", app_id, what="app"))


ROUTES = [
    Route("GET", "/v2/apps/<app_id>", retrieve_app),
]
CONTROL_ROUTES: list[Route] = []
