"""Accounts-payable payables: the whole lifecycle (NOTES.md decisions 5, 6 and 7).

created -> submitted_for_approval -> approved | rejected
approved -> payment_initiated -> payment_completed | payment_failed
payment_failed -> payment_initiated (a retry);  created -> canceled

- Edits (PATCH), file upload and delete only while `created`.
- Submission evaluates approval policies (approval_policies.matching_policy); each approval
  condition is one step, completed in order; a step completes when num_approvals_required
  distinct approvers from its list approved. No policy: one approval by any approver.
  One rejection rejects.
- `pay` (approved or payment_failed) creates a transfer; with funding_source dots_balance
  the app wallet is debited at once (400 transaction-insufficient-funds when short) and
  refunded if the payment fails. The payment completes or fails by the `payable_payment`
  lifecycle setting or the control POST /_emulator/payables/<id>/payment.
- Every action appends to status_history and action_history with the acting dashboard
  user's id, name and role. Dots sends no webhooks for payables (PITFALLS.md), so neither
  does the emulator: clients poll.

Fields starting with "_" are bookkeeping and never leave the emulator.
"""

from __future__ import annotations

import base64
import binascii
import re

from werkzeug.wrappers import Response

from dots.emulator import lifecycles
from dots.emulator.context import Ctx
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import approval_policies, approvers, apps, transfers, vendors
from dots.emulator.routing import Route

KIND = "ap_payable"
FILE_KIND = "ap_payable_file"
FUNDING_SOURCES = ("dots_balance", "ach")
EDITABLE_FIELDS = ("number", "description", "ap_vendor_id", "ap_payment_method_id", "amount", "items")
MAX_FILE_BYTES = 10 * 1024 * 1024


# -- reading and shaping ---------------------------------------------------------------------------------------


def get_payable(ctx: Ctx, payable_id: str) -> Doc:
    payable = ctx.store.get(KIND, payable_id)
    if payable is None or payable.get("api_app_id") != ctx.app_id:
        raise ApiError(404, "not-found", "payable not found")
    return payable


def serialize_payable(payable: Doc) -> Doc:
    return {key: value for key, value in payable.items() if not key.startswith("_")}


def _save(ctx: Ctx, payable: Doc) -> Doc:
    payable["updated"] = ctx.now_iso()
    ctx.store.put(KIND, payable["id"], payable)
    return payable


def _record(
    ctx: Ctx,
    payable: Doc,
    *,
    action: str | None,
    user: Doc | None,
    comment: str | None = None,
    new_status: str | None = None,
) -> None:
    """Move the status (table-checked) and append the history entries for one action."""
    now = ctx.now_iso()
    if new_status is not None:
        lifecycles.transition("payable", payable, new_status)
        payable["status_history"].append({"status": new_status, "timestamp": now})
    if action is not None and user is not None:
        entry = {
            "action": action,
            "timestamp": now,
            "user_id": user["id"],
            "user_name": approvers.full_name(user),
            "user_role": user["role"],
        }
        if comment is not None:
            entry["comment"] = comment
        payable["action_history"].append(entry)


def _require_status(payable: Doc, allowed: tuple[str, ...], *, doing: str, code: str) -> None:
    if payable["status"] not in allowed:
        raise ApiError(
            400, code, f"payable {payable['id']} is {payable['status']}; {doing} needs {' or '.join(allowed)}"
        )


# -- field validation shared by create and PATCH ---------------------------------------------------------------


def _apply_fields(ctx: Ctx, payable: Doc, body: Doc) -> None:
    if "number" in body:
        payable["number"] = ctx.require_str(body, "number", max_len=200)
    if "description" in body:
        payable["description"] = ctx.optional_str(body, "description", max_len=2000)
    if "external_id" in body:
        payable["external_id"] = ctx.optional_str(body, "external_id", max_len=200)
    if "items" in body:
        payable["items"] = _validate_items(ctx, body["items"])
    if "amount" in body:
        payable["amount"] = _amount(ctx, body, "amount")
    elif "items" in body and payable["items"]:
        payable["amount"] = sum(item["amount"] for item in payable["items"])
    vendor_id = body.get("ap_vendor_id", payable.get("ap_vendor_id"))
    method_id = body.get("ap_payment_method_id", payable.get("ap_payment_method_id"))
    if "ap_vendor_id" in body:
        vendor = vendors.get_vendor(ctx, ctx.require_str(body, "ap_vendor_id"))
        payable["ap_vendor_id"] = vendor["id"]
        payable["ap_vendor_name"] = vendor["name"]
    if "ap_payment_method_id" in body:
        if vendor_id is None:
            raise ApiError(400, "invalid-input", "ap_payment_method_id needs ap_vendor_id")
        method = vendors.get_payment_method(ctx, vendor_id, ctx.require_str(body, "ap_payment_method_id"))
        payable["ap_payment_method_id"] = method["id"]
        payable["ap_payment_method_name"] = method["name"]
    elif "ap_vendor_id" in body and method_id is not None:
        # the vendor changed under an existing payment method: it must still be that vendor's
        vendors.get_payment_method(ctx, vendor_id, method_id)


def _amount(ctx: Ctx, body: Doc, name: str) -> int:
    value = body.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the spec types amounts as numbers; cents are whole
    return ctx.require_int({name: value}, name, min=1)


def _validate_items(ctx: Ctx, items: object) -> list[Doc]:
    if not isinstance(items, list):
        raise ApiError(400, "invalid-input", "items must be an array")
    out = []
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            raise ApiError(400, "invalid-input", f"{where} must be an object")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "invalid-input", f"{where}.name is required")
        clean: Doc = {"name": name}
        for field in ("unit_price", "quantity", "amount"):
            value = item.get(field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
                raise ApiError(400, "invalid-input", f"{where}.{field} must be a number of at least 1")
            clean[field] = int(value) if float(value).is_integer() else value
        if isinstance(item.get("description"), str):
            clean["description"] = item["description"]
        out.append(clean)
    return out


def _decode_pdf(ctx: Ctx, encoded: object, *, field: str = "file") -> bytes:
    if not isinstance(encoded, str) or not encoded:
        raise ApiError(400, "invalid-input", f"{field} must be a base64-encoded PDF")
    if encoded.startswith("data:"):
        encoded = encoded.split(",", 1)[-1]
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid-input", f"{field} is not valid base64") from None
    return _check_pdf(data, field=field)


def _check_pdf(data: bytes, *, field: str = "file") -> bytes:
    if not data.startswith(b"%PDF"):
        raise ApiError(400, "invalid-input", f"{field} must be a PDF")
    if len(data) > MAX_FILE_BYTES:
        raise ApiError(400, "invalid-input", f"{field} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return data


def _attach_file(ctx: Ctx, payable: Doc, data: bytes, *, filename: str = "payable.pdf") -> None:
    doc = {"id": payable["id"], "filename": filename, "content_b64": base64.b64encode(data).decode("ascii")}
    if ctx.store.get(FILE_KIND, payable["id"]) is None:
        ctx.store.insert(FILE_KIND, payable["id"], doc, app_id=ctx.app_id)
    else:
        ctx.store.put(FILE_KIND, payable["id"], doc)
    payable["file_url"] = f"{ctx.request.host_url.rstrip('/')}/_emulator/files/payables/{payable['id']}"


def _new_payable(ctx: Ctx, user: Doc) -> Doc:
    now = ctx.now_iso()
    payable = {
        "id": ctx.store.new_uuid(),
        "api_app_id": ctx.app_id,
        "created": now,
        "updated": now,
        "number": "",
        "currency": "USD",
        "funding_source": "ach",
        "items": [],
        "status": "created",
        "status_history": [{"status": "created", "timestamp": now}],
        "action_history": [],
        "approval_steps": [],
        "transfer_history": [],
        "_steps": [],
    }
    _record(ctx, payable, action="create", user=user)
    return payable


# -- handlers: create, read, edit ------------------------------------------------------------------------------------


def list_payables(ctx: Ctx) -> tuple[int, object]:
    return 200, ctx.paginate_kind(KIND, app_id=ctx.app_id, serialize=serialize_payable)


def create_payable(ctx: Ctx) -> tuple[int, object]:
    body = ctx.json
    user = approvers.get_acting_user(ctx, body)
    ctx.require_str(body, "number")
    payable = _new_payable(ctx, user)
    payable["funding_source"] = ctx.optional(body, "funding_source", "ach", choices=FUNDING_SOURCES)
    _apply_fields(ctx, payable, body)
    if body.get("file") is not None:
        _attach_file(ctx, payable, _decode_pdf(ctx, body["file"]))
    ctx.store.insert(KIND, payable["id"], payable, app_id=ctx.app_id)
    return 201, serialize_payable(payable)


def upload_from_file(ctx: Ctx) -> tuple[int, object]:
    """multipart: acting_user_id + file (PDF). A draft payable with what a plain regex finds in the file."""
    user = approvers.get_acting_user(ctx, {"acting_user_id": ctx.form.get("acting_user_id")})
    upload = ctx.files.get("file")
    if upload is None:
        raise ApiError(400, "invalid-input", "file is required (multipart/form-data)")
    data = _check_pdf(upload.read(MAX_FILE_BYTES + 1))
    payable = _new_payable(ctx, user)
    payable.update(extract_invoice_fields(data))
    _attach_file(ctx, payable, data, filename=upload.filename or "payable.pdf")
    ctx.store.insert(KIND, payable["id"], payable, app_id=ctx.app_id)
    return 200, serialize_payable(payable)


_NUMBER_PATTERNS = (
    rb"(?:Invoice|Bill)\s*(?:No\.?|Number|Num\.?|#)\s*:?\s*#?\s*([A-Za-z0-9][A-Za-z0-9\-_/]{0,40})",
    rb"Invoice\s*:?\s*#?\s*([A-Za-z]*-?[0-9][A-Za-z0-9\-_/]{0,40})",
)
_AMOUNT_PATTERN = (
    rb"(?:Total\s*Due|Amount\s*Due|Balance\s*Due|Total|Amount)\s*:?\s*(?:USD)?\s*\$?\s*([0-9][0-9,]*\.[0-9]{2})"
)


def extract_invoice_fields(data: bytes) -> Doc:
    """Bill number and amount read from a PDF's uncompressed text with plain regexes; empty when absent.

    Not a PDF parser: it finds text in simple (uncompressed) PDFs such as test fixtures,
    which is all the emulator promises.
    """
    fields: Doc = {"number": ""}
    for pattern in _NUMBER_PATTERNS:
        match = re.search(pattern, data, flags=re.IGNORECASE)
        if match:
            fields["number"] = match.group(1).decode("latin-1")
            break
    match = re.search(_AMOUNT_PATTERN, data, flags=re.IGNORECASE)
    if match:
        dollars = match.group(1).decode("latin-1").replace(",", "")
        whole, cents = dollars.split(".")
        fields["amount"] = int(whole) * 100 + int(cents)
    if re.search(rb"Invoice", data, flags=re.IGNORECASE):
        fields["description"] = "Invoice" + (f" {fields['number']}" if fields["number"] else "")
    return fields


def retrieve_payable(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    if payable["status"] == "payment_initiated" and payable.get("transfer_id"):
        auto = lifecycles.auto_outcome_on_read(ctx.store, "payable_payment", payable_id)
        if auto is not None:
            _finish_payment(ctx, payable, outcome=auto[0], reason=auto[1])
            payable = get_payable(ctx, payable_id)
    return 200, serialize_payable(payable)


def update_payable(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    _require_status(payable, ("created",), doing="editing", code="payable-not-editable")
    body = ctx.json
    unknown = sorted(set(body) - set(EDITABLE_FIELDS) - {"acting_user_id", "external_id"})
    if unknown:
        raise ApiError(400, "invalid-input", f"these fields cannot be changed: {', '.join(unknown)}")
    _apply_fields(ctx, payable, body)
    return 200, serialize_payable(_save(ctx, payable))


def upload_file(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    _require_status(payable, ("created",), doing="attaching a file", code="payable-not-editable")
    _attach_file(ctx, payable, _decode_pdf(ctx, ctx.json.get("file")))
    _save(ctx, payable)
    return 200, {"id": payable_id, "updated": True, "object": "payable"}


def delete_file(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    _require_status(payable, ("created",), doing="removing the file", code="payable-not-editable")
    if ctx.store.get(FILE_KIND, payable_id) is None:
        raise ApiError(404, "not-found", "the payable has no file")
    ctx.store.delete(FILE_KIND, payable_id)
    payable.pop("file_url", None)
    _save(ctx, payable)
    return 200, {"id": payable_id, "deleted": True, "object": "file"}


# -- handlers: the lifecycle ------------------------------------------------------------------------------------


def cancel_payable(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    body = ctx.json
    user = approvers.get_acting_user(ctx, body)
    _record(ctx, payable, action="cancel", user=user, comment=ctx.optional_str(body, "comment"), new_status="canceled")
    return 200, serialize_payable(_save(ctx, payable))


def submit_for_approval(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    body = ctx.json
    user = approvers.get_acting_user(ctx, body)
    if payable["status"] == "created":
        _require_complete(payable)
    _record(
        ctx,
        payable,
        action="submit_for_approval",
        user=user,
        comment=ctx.optional_str(body, "comment"),
        new_status="submitted_for_approval",
    )
    policy = approval_policies.matching_policy(ctx, payable)
    if policy is None:
        # NOTES.md decision 7: no policy -> one approval by any approver.
        steps: list[Doc] = [{"approver_ids": None, "num_approvals_required": 1}]
        payable["_policy_id"] = None
    else:
        steps = [
            {
                "approver_ids": [a["id"] for a in c["approver_list"]],
                "num_approvals_required": c["num_approvals_required"],
            }
            for c in policy["approval_conditions"]
        ]
        payable["_policy_id"] = policy["id"]
    payable["_steps"] = steps
    payable["approval_steps"] = [
        {"completed": False, "num_approvals_required": s["num_approvals_required"], "user_approvals": []} for s in steps
    ]
    return 200, serialize_payable(_save(ctx, payable))


def _require_complete(payable: Doc) -> None:
    missing = [f for f in ("number", "ap_vendor_id", "ap_payment_method_id", "amount") if not payable.get(f)]
    if missing:
        raise ApiError(
            400, "invalid-input", f"payable {payable['id']} cannot be submitted without {', '.join(missing)}"
        )


def _current_step(payable: Doc) -> int:
    for index, step in enumerate(payable["approval_steps"]):
        if not step["completed"]:
            return index
    raise ApiError(400, "invalid-state-transition", f"payable {payable['id']} has no approval step left")


def _check_approver(payable: Doc, step_index: int, user: Doc) -> None:
    allowed_ids = payable["_steps"][step_index]["approver_ids"]
    if allowed_ids is None:
        if user["role"] not in approvers.DEFAULT_APPROVER_ROLES:
            raise ApiError(
                400, "approver-not-allowed", f"dashboard user {user['id']} ({user['role']}) is not an approver"
            )
    elif user["id"] not in allowed_ids:
        raise ApiError(
            400,
            "approver-not-in-step",
            f"dashboard user {user['id']} is not an approver of step {step_index + 1} "
            f"(approvers: {', '.join(map(str, allowed_ids))})",
        )
    step = payable["approval_steps"][step_index]
    if any(a["user_id"] == user["id"] for a in step["user_approvals"]):
        raise ApiError(
            400,
            "duplicate-approval",
            f"dashboard user {user['id']} already approved step {step_index + 1} of payable {payable['id']}",
        )


def approve_payable(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    body = ctx.json
    user = approvers.get_acting_user(ctx, body)
    comment = ctx.optional_str(body, "comment")
    _require_status(payable, ("submitted_for_approval",), doing="approving", code="invalid-state-transition")
    index = _current_step(payable)
    _check_approver(payable, index, user)
    now = ctx.now_iso()
    step = payable["approval_steps"][index]
    approval = {
        "approval_given": True,
        "approval_timestamp": now,
        "name": approvers.full_name(user),
        "user_id": user["id"],
    }
    if comment is not None:
        approval["approval_comment"] = comment
    step["user_approvals"].append(approval)
    if len(step["user_approvals"]) >= step["num_approvals_required"]:
        step["completed"] = True
        step["completed_timestamp"] = now
    all_done = all(s["completed"] for s in payable["approval_steps"])
    _record(ctx, payable, action="approve", user=user, comment=comment, new_status="approved" if all_done else None)
    return 200, serialize_payable(_save(ctx, payable))


def reject_payable(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    body = ctx.json
    user = approvers.get_acting_user(ctx, body)
    comment = ctx.optional_str(body, "comment")
    _require_status(payable, ("submitted_for_approval",), doing="rejecting", code="invalid-state-transition")
    index = _current_step(payable)
    _check_approver(payable, index, user)
    rejection = {
        "approval_given": False,
        "approval_timestamp": ctx.now_iso(),
        "name": approvers.full_name(user),
        "user_id": user["id"],
    }
    if comment is not None:
        rejection["approval_comment"] = comment
    payable["approval_steps"][index]["user_approvals"].append(rejection)
    _record(ctx, payable, action="reject", user=user, comment=comment, new_status="rejected")
    return 200, serialize_payable(_save(ctx, payable))


def pay_payable(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    payable = get_payable(ctx, payable_id)
    user = approvers.get_acting_user(ctx, ctx.json)
    _require_status(payable, ("approved", "payment_failed"), doing="paying", code="invalid-state-transition")
    retry = payable["status"] == "payment_failed"
    amount = payable["amount"]
    dots_balance = payable["funding_source"] == "dots_balance"
    if not dots_balance and ctx.store.get(apps.ACH_KIND, ctx.app_id) is None:
        raise ApiError(400, "ach-account-missing", "funding_source ach needs the app's ACH account")
    if dots_balance:
        # Checked before any change, so a refusal leaves the payable exactly as it was.
        balance = ctx.wallet()["balance"]
        if amount > balance:
            ctx.wallet_debit(amount)  # raises transaction-insufficient-funds with the amounts
    _record(
        ctx, payable, action="retry_payment" if retry else "initiate_payment", user=user, new_status="payment_initiated"
    )
    _save(ctx, payable)
    idempotency_key = ctx.store.new_uuid()
    transfer = transfers.create_transfer(
        ctx,
        amount=amount,
        type="payable",
        metadata={"payable_id": payable_id, "number": payable["number"]},
        source_name="App wallet" if dots_balance else "App ACH account",
        destination_name=payable.get("ap_vendor_name") or "Vendor",
        external_data={"account_id": payable.get("ap_payment_method_id", ""), "platform": "ach"},
        wallet_debit=amount if dots_balance else 0,
        purpose="payable",
        purpose_id=payable_id,
        lifecycle_kind="payable_payment",
    )
    # re-read: an immediate setting may already have completed the payment through the follower
    payable = ctx.store.load(KIND, payable_id)
    payable["transfer_id"] = transfer["id"]
    payable["transfer_history"].append(
        {"created_timestamp": transfer["created"], "idempotency_key": idempotency_key, "transfer_id": transfer["id"]}
    )
    return 200, serialize_payable(_save(ctx, payable))


# -- the payment's outcome ----------------------------------------------------------------------------------------


def _follow_transfer(ctx: Ctx, transfer: Doc, previous: str, reason: str | None) -> None:
    """transfers.FOLLOWERS["payable"]: a payable's payment ends when its transfer does."""
    payable = ctx.store.get(KIND, transfer["_purpose_id"])
    if payable is None or payable["status"] != "payment_initiated":
        return
    if transfer["status"] == "completed":
        _record(ctx, payable, action=None, user=None, new_status="payment_completed")
    elif transfer["status"] in ("failed", "canceled", "reversed"):
        _record(ctx, payable, action=None, user=None, new_status="payment_failed")
        payable["_payment_failure_reason"] = reason
    else:
        return
    _save(ctx, payable)


transfers.FOLLOWERS["payable"] = _follow_transfer


def _finish_payment(ctx: Ctx, payable: Doc, *, outcome: str, reason: str | None) -> None:
    transfer = ctx.store.load(transfers.KIND, payable["transfer_id"])
    lifecycles.transition("payable_payment", {"id": payable["id"], "status": payable["status"]}, outcome)
    transfers.advance_by_outcome(ctx, transfer, outcome, reason=reason)


def control_payment(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    """POST /_emulator/payables/<id>/payment {"status": "payment_completed"|"payment_failed", "reason": ...}"""
    payable = ctx.store.get_or_404(KIND, payable_id, what="payable")
    body = ctx.json
    outcome = ctx.require_choice(body, "status", ("payment_completed", "payment_failed"))
    if payable["status"] != "payment_initiated" or not payable.get("transfer_id"):
        raise ApiError(
            400,
            "invalid-state-transition",
            f"payable {payable_id} is {payable['status']}; only a payment_initiated payable can become {outcome}",
        )
    _finish_payment(ctx, payable, outcome=outcome, reason=ctx.optional_str(body, "reason"))
    return 200, serialize_payable(ctx.store.load(KIND, payable_id))


def control_file(ctx: Ctx, payable_id: str) -> tuple[int, object]:
    """GET /_emulator/files/payables/<id>: the attached PDF (what `file_url` points at)."""
    doc = ctx.store.get_or_404(FILE_KIND, payable_id, what="file")
    return 200, Response(base64.b64decode(doc["content_b64"]), mimetype="application/pdf")


SEED_MAX = 1_000_000


def control_seed(ctx: Ctx) -> tuple[int, object]:
    """POST /_emulator/seed/payables {"count": 50000, "status": "approved", "amount": 1000}

    Inserts `count` payables straight into the store in one transaction, for benchmarks: no
    approval steps, no transfers, no webhooks. Answers their ids, oldest first.
    """
    body = ctx.json
    count = ctx.require_int(body, "count", min=1, max=SEED_MAX)
    status = ctx.optional(body, "status", "approved", types=(str,))
    amount = ctx.optional_int(body, "amount", 1000, min=1)
    now = ctx.now_iso()
    docs: list[tuple[str, Doc]] = []
    for i in range(count):
        payable_id = ctx.store.new_uuid()
        docs.append(
            (
                payable_id,
                {
                    "id": payable_id,
                    "api_app_id": ctx.app_id,
                    "created": now,
                    "updated": now,
                    "number": f"SEED-{i + 1}",
                    "currency": "USD",
                    "funding_source": "ach",
                    "items": [],
                    "amount": amount,
                    "status": status,
                    "status_history": [{"status": status, "timestamp": now}],
                    "action_history": [],
                    "approval_steps": [],
                    "transfer_history": [],
                    "_steps": [],
                },
            )
        )
    ctx.store.insert_many(KIND, docs, app_id=ctx.app_id)
    return 201, {"created": count, "ids": [payable_id for payable_id, _ in docs]}


ROUTES = [
    Route("GET", "/v2/accounts-payable/payables", list_payables),
    Route("POST", "/v2/accounts-payable/payables", create_payable),
    Route("POST", "/v2/accounts-payable/payables/upload-from-file", upload_from_file),
    Route("GET", "/v2/accounts-payable/payables/<payable_id>", retrieve_payable),
    Route("PATCH", "/v2/accounts-payable/payables/<payable_id>", update_payable),
    Route("POST", "/v2/accounts-payable/payables/<payable_id>/file", upload_file),
    Route("DELETE", "/v2/accounts-payable/payables/<payable_id>/file", delete_file),
    Route("POST", "/v2/accounts-payable/payables/<payable_id>/cancel", cancel_payable),
    Route("POST", "/v2/accounts-payable/payables/<payable_id>/submit-for-approval", submit_for_approval),
    Route("POST", "/v2/accounts-payable/payables/<payable_id>/approve", approve_payable),
    Route("POST", "/v2/accounts-payable/payables/<payable_id>/reject", reject_payable),
    Route("POST", "/v2/accounts-payable/payables/<payable_id>/pay", pay_payable),
]
CONTROL_ROUTES = [
    Route("POST", "/seed/payables", control_seed),
    Route("POST", "/payables/<payable_id>/payment", control_payment),
    Route("GET", "/files/payables/<payable_id>", control_file),
]
