"""Dashboard users who act on payables (approvers), with integer ids.

Dots manages these in its dashboard; the API only lists them. The emulator seeds
them with the control `POST /_emulator/seed/approvers` (added to, never replaced:
ids stay stable within a test).
"""

from __future__ import annotations

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.routing import Route
from dots.emulator.store import Store

KIND = "dashboard_user"
ROLES = ("admin", "viewer", "payer", "ap_approver", "ap_creator")
# Who may approve or reject a payable that no approval policy covers.
DEFAULT_APPROVER_ROLES = frozenset({"admin", "ap_approver"})
DEFAULT_SEED = [
    {"first_name": "Avery", "last_name": "Admin", "role": "admin"},
    {"first_name": "Alex", "last_name": "Approver", "role": "ap_approver"},
    {"first_name": "Blair", "last_name": "Approver", "role": "ap_approver"},
    {"first_name": "Casey", "last_name": "Approver", "role": "ap_approver"},
    {"first_name": "Cory", "last_name": "Creator", "role": "ap_creator"},
    {"first_name": "Pat", "last_name": "Payer", "role": "payer"},
]


# A fresh Dots account already has one dashboard user: the person who opened it, an admin (so an
# approver of payables no policy covers). The emulator's fresh store has it too, before any seed.
OWNER = {"first_name": "Olive", "last_name": "Owner", "email": "owner@dots-account.example", "role": "admin"}


def full_name(user: Doc) -> str:
    return f"{user['first_name']} {user['last_name']}".strip()


def get_acting_user(ctx: Ctx, body: Doc, *, field: str = "acting_user_id") -> Doc:
    """The dashboard user named by `acting_user_id` (an integer), or 400 naming the field."""
    user_id = body.get(field)
    if isinstance(user_id, str) and user_id.isdigit():  # multipart forms carry it as text
        user_id = int(user_id)
    user_id = ctx.require_int({field: user_id}, field, min=1)
    user = ctx.store.get(KIND, user_id)
    if user is None or ctx.store.app_id_of(KIND, user_id) not in (None, ctx.app_id):
        raise ApiError(400, "invalid-input", f"{field} {user_id} is not a dashboard user of this app")
    if user["role"] == "viewer":
        raise ApiError(400, "permission-denied", f"dashboard user {user_id} is a viewer and cannot act on payables")
    return user


def list_approvers(ctx: Ctx) -> tuple[int, object]:
    users = [u for u in ctx.store.list(KIND) if ctx.store.app_id_of(KIND, u["id"]) in (None, ctx.app_id)]
    return 200, sorted(users, key=lambda u: u["id"])  # a bare array, as the spec says


def new_dashboard_user(user_id: int, spec: Doc) -> Doc:
    """A dashboard user as Dots shows it, from a seed spec (missing fields get stable defaults)."""
    first = spec.get("first_name") or f"User{user_id}"
    last = spec.get("last_name") or "Dashboard"
    return {
        "id": user_id,
        "first_name": first,
        "last_name": last,
        "email": spec.get("email") or f"{first}.{last}.{user_id}@example.com".lower(),
        "username": spec.get("username") or f"{first}{user_id}".lower(),
        "phone_number": spec.get("phone_number") or f"+1415555{user_id:04d}",
        "role": spec.get("role") or "ap_approver",
        "scope": spec.get("scope") or "organization",
    }


def seed_if_none(store: Store, specs: list[Doc]) -> int:
    """In an empty store: the account's owner, then organisation-wide dashboard users from `specs`
    (--seed-dashboard-users); a file that names an admin names the owner itself. Answers how many
    were inserted."""
    if store.count(KIND):
        return 0
    if not any(spec.get("role") == "admin" for spec in specs):
        specs = [OWNER, *specs]
    for spec in specs:
        user_id = store.next_int_id(KIND)
        store.insert(KIND, user_id, new_dashboard_user(user_id, {**spec, "scope": "organization"}))
    return len(specs)


def control_seed_approvers(ctx: Ctx) -> tuple[int, object]:
    """POST /_emulator/seed/approvers {"approvers": [{"first_name", "last_name", "email", "role", ...}]}
    (no body: six users, one per useful role and three ap_approvers). Answers {"data": [created...]}."""
    specs = ctx.json.get("approvers", DEFAULT_SEED)
    if not isinstance(specs, list) or not specs:
        raise ApiError(400, "invalid-input", "approvers must be a non-empty list")
    created = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise ApiError(400, "invalid-input", "each approver must be an object")
        user_id = ctx.store.next_int_id(KIND)
        role = ctx.optional(spec, "role", "ap_approver", choices=ROLES)
        scope = ctx.optional(spec, "scope", "organization", choices=("organization", "app"))
        for name in ("first_name", "last_name", "email", "username", "phone_number"):
            ctx.optional_str(spec, name)  # validates the type
        user = new_dashboard_user(user_id, {**spec, "role": role, "scope": scope})
        # organisation-scoped users act for every app; app-scoped ones for the calling app only
        ctx.store.insert(KIND, user_id, user, app_id=ctx.app_id if scope == "app" else None)
        created.append(user)
    return 201, {"data": created}


ROUTES = [
    Route("GET", "/v2/accounts-payable/approvers", list_approvers),
]
CONTROL_ROUTES = [
    Route("POST", "/seed/approvers", control_seed_approvers),
]
