"""Approval policies: which approvers must approve which payables (NOTES.md decision 7).

When a payable is submitted, the app's active policies are tried in ascending
`priority` (ties: the older first); the first whose payable_conditions all hold
applies, and each of its approval_conditions becomes one approval step. Only
`priority` can change on an existing policy.

Spec quirk: the response schema types a condition's `value` as a number, but a
vendor_id condition's value is a vendor id string; the emulator answers what was
sent (a string), so such a response cannot match the schema.
"""

from __future__ import annotations

from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import approvers, vendors
from dots.emulator.routing import Route

KIND = "ap_approval_policy"
COMPARATORS = ("<=", "==", ">=")


def get_policy(ctx: Ctx, policy_id: str) -> Doc:
    policy = ctx.store.get(KIND, policy_id)
    if policy is None or policy.get("api_app_id") != ctx.app_id:
        raise ApiError(404, "not-found", "approval policy not found")
    return policy


def policies_in_order(ctx: Ctx) -> list[Doc]:
    # store.list is newest first; reversed = oldest first, and sort() is stable, so ties keep age order.
    policies = list(reversed(ctx.store.list(KIND, app_id=ctx.app_id)))
    return sorted((p for p in policies if p.get("active", True)), key=lambda p: p["priority"])


def matching_policy(ctx: Ctx, payable: Doc) -> Doc | None:
    for policy in policies_in_order(ctx):
        if all(_condition_holds(c, payable) for c in policy["payable_conditions"]):
            return policy
    return None


def _condition_holds(condition: Doc, payable: Doc) -> bool:
    if condition["type"] == "vendor_id":
        return bool(payable.get("ap_vendor_id") == condition["value"])
    amount = payable.get("amount") or 0
    value = condition["value"]
    return bool({"<=": amount <= value, "==": amount == value, ">=": amount >= value}[condition["comparator"]])


# -- handlers -----------------------------------------------------------------------------------------------


def list_policies(ctx: Ctx) -> tuple[int, object]:
    return 200, policies_in_order(ctx)  # bare array, in the order they are tried


def create_policy(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    description = ctx.optional_str(body, "description")
    payable_conditions = _validate_payable_conditions(ctx, body.get("payable_conditions"))
    approval_conditions = _validate_approval_conditions(ctx, body.get("approval_conditions"))
    existing = ctx.store.list(KIND, app_id=ctx.app_id)
    policy: Doc = {
        "id": ctx.store.new_uuid(),
        "active": True,
        "api_app_id": ctx.app_id,
        "created": ctx.now_iso(),
        "priority": max((p["priority"] for p in existing), default=0) + 1,
        "payable_conditions": payable_conditions,
        "approval_conditions": approval_conditions,
    }
    if description is not None:
        policy["description"] = description
    ctx.store.insert(KIND, policy["id"], policy, app_id=ctx.app_id)
    return 201, policy


def update_policy(ctx: Ctx, approval_policy_id: str) -> tuple[int, object]:
    policy = get_policy(ctx, approval_policy_id)
    body = ctx.json
    others = sorted(set(body) - {"priority"})
    if others:
        raise ApiError(
            400, "invalid-input", f"only priority can be changed on an approval policy (got {', '.join(others)})"
        )
    policy["priority"] = ctx.require_int(body, "priority", min=0)
    ctx.store.put(KIND, approval_policy_id, policy)
    return 200, policy


def delete_policy(ctx: Ctx, approval_policy_id: str) -> tuple[int, object]:
    get_policy(ctx, approval_policy_id)
    ctx.store.delete(KIND, approval_policy_id)
    return 200, {"deleted": True, "id": approval_policy_id, "object": "approval_policy"}


# -- validation -------------------------------------------------------------------------------------------------


def _validate_payable_conditions(ctx: Ctx, conditions: object) -> list[Doc]:
    if not isinstance(conditions, list) or not conditions:
        raise ApiError(400, "invalid-input", "payable_conditions must be a non-empty array")
    out = []
    for index, condition in enumerate(conditions):
        where = f"payable_conditions[{index}]"
        if not isinstance(condition, dict):
            raise ApiError(400, "invalid-input", f"{where} must be an object")
        kind = condition.get("type")
        if kind == "amount":
            comparator = condition.get("comparator")
            if comparator not in COMPARATORS:
                raise ApiError(400, "invalid-input", f"{where}.comparator must be one of <=, ==, >=")
            value = condition.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ApiError(400, "invalid-input", f"{where}.value must be an amount in cents")
            out.append({"type": "amount", "comparator": comparator, "value": value})
        elif kind == "vendor_id":
            value = condition.get("value")
            if not isinstance(value, str):
                raise ApiError(400, "invalid-input", f"{where}.value must be a vendor id")
            vendors.get_vendor(ctx, value)
            out.append({"type": "vendor_id", "comparator": "==", "value": value})
        else:
            raise ApiError(400, "invalid-input", f"{where}.type must be amount or vendor_id")
    if len({repr(c) for c in out}) != len(out):
        raise ApiError(400, "invalid-input", "payable_conditions must be unique")
    return out


def _validate_approval_conditions(ctx: Ctx, conditions: object) -> list[Doc]:
    if not isinstance(conditions, list) or not conditions:
        raise ApiError(400, "invalid-input", "approval_conditions must be a non-empty array")
    out = []
    for index, condition in enumerate(conditions):
        where = f"approval_conditions[{index}]"
        if not isinstance(condition, dict):
            raise ApiError(400, "invalid-input", f"{where} must be an object")
        ids = condition.get("approver_list")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "invalid-input", f"{where}.approver_list must be a non-empty array of approver ids")
        if any(isinstance(i, bool) or not isinstance(i, (int, float)) or int(i) != i for i in ids):
            raise ApiError(400, "invalid-input", f"{where}.approver_list must hold integer approver ids")
        ids = [int(i) for i in ids]
        if len(set(ids)) != len(ids):
            raise ApiError(400, "invalid-input", f"{where}.approver_list must not repeat an approver")
        approver_list = []
        for approver_id in ids:
            user = ctx.store.get(approvers.KIND, approver_id)
            if user is None:
                raise ApiError(400, "invalid-input", f"{where}.approver_list: {approver_id} is not an approver")
            approver_list.append({"id": approver_id, "name": approvers.full_name(user)})
        required = condition.get("num_approvals_required")
        if (
            isinstance(required, bool)
            or not isinstance(required, (int, float))
            or int(required) != required
            or required < 1
        ):
            raise ApiError(400, "invalid-input", f"{where}.num_approvals_required must be a positive integer")
        if required > len(ids):
            # A step needing more distinct approvers than it lists could never complete.
            raise ApiError(
                400,
                "invalid-input",
                f"{where}.num_approvals_required ({int(required)}) is more than "
                f"the {len(ids)} approver(s) in its approver_list",
            )
        out.append({"approver_list": approver_list, "num_approvals_required": int(required)})
    return out


ROUTES = [
    Route("GET", "/v2/accounts-payable/approval-policies", list_policies),
    Route("POST", "/v2/accounts-payable/approval-policies", create_policy),
    Route("PATCH", "/v2/accounts-payable/approval-policies/<approval_policy_id>", update_policy),
    Route("DELETE", "/v2/accounts-payable/approval-policies/<approval_policy_id>", delete_policy),
]
