"""Payout batches: many payees paid at once from the app wallet, each item with its own outcome.

A Payouts operator builds a batch (payees and amounts, one reason); a Payer who did not ask
approves it with a fresh authenticator code and it is sent once (Dots `create-payout-batch`):
the batch's idempotency key, one key per item and the exact body are stored before the call, so
a lost answer is sent again unchanged and Dots pays no item twice. Dots pays each item to the
payee's default payout method from the app wallet (`fund: true`, as Dots requires for batches).

Then the batch is followed (`batch_refresh`, by the sync): Dots' batch status, and each item's
outcome from the batch's results (`get-payout-batch` /results): paid, on its way, or not paid
with Dots' reason (an item Dots refused, or a payout that failed later).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core import audit
from core.dots_gateway import client, dots_call
from core.errors import DotsCallError
from core.keyed_send import KeyedSend
from core.money import format_cents
from core.permissions import is_system_user, require_perm
from payouts import seam, tax
from payouts.errors import InvalidPayee
from payouts.models import Payee, PayoutBatch, PayoutBatchItem
from payouts.services import second_payer

S = PayoutBatch.Status
I = PayoutBatchItem.Status  # noqa: E741
ASK = "payouts.add_payoutbatch"
APPROVE = "payouts.approve_payoutbatch"
MAX_CENTS = 1_000_000_00  # $1,000,000.00 per payee: a typo guard, not a Dots limit
KEYED = KeyedSend(PayoutBatch, prefix="payout_batch", dots_id_field="dots_batch_id")


# Dots' error codes for an item it did not pay, in words (its own message carries ids, not meaning).
ITEM_REFUSALS = {
    "payout-method-not-found": "The payee has no default payout method in Dots: add one on the payee's page.",
    "user-not-verified": "The payee is not verified in Dots yet.",
    "transaction-insufficient-funds": "The app wallet did not hold enough for this payee when Dots reached it.",
    "not-found": "Dots does not know this payee.",
}


@dataclass(frozen=True)
class BatchAnswer:
    """Dots' answer to a batch create, in the shape core.keyed_send adopts (id, status, raw)."""

    id: str | None
    status: str | None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> BatchAnswer:
        return cls(id=raw.get("id"), status=raw.get("status"), raw=raw)


def batch_request(*, actor: User, rows: list[tuple[int, int]], reason: str) -> PayoutBatch:
    """Store the batch, its items and the exact body with every key; nothing reaches Dots until a Payer approves.

    `rows`: (payee id, amount in cents), one per payee. Refused, naming the row, when a payee is
    not in Dots, appears twice or an amount is out of range; more than 5,000 rows is refused (Dots' limit).
    """
    require_perm(actor, ASK, "build payout batches")
    if not rows:
        raise InvalidPayee("Choose at least one payee.", code="no-items")
    if len(rows) > PayoutBatch.MAX_ITEMS:
        raise InvalidPayee(
            f"A batch holds at most {PayoutBatch.MAX_ITEMS:,} payees (Dots' limit); this one has {len(rows):,}.",
            code="too-many-items",
        )
    for _, cents in rows:
        reason = second_payer.check_amount_and_reason(cents, reason, max_cents=MAX_CENTS)
    ids = [payee_id for payee_id, _ in rows]
    with transaction.atomic():
        payees = Payee.objects.in_bulk(ids)
        seen: set[int] = set()
        for number, payee_id in enumerate(ids, start=1):
            payee = payees.get(payee_id)
            if payee is None or not payee.dots_user_id:
                raise InvalidPayee(f"Row {number}: {payee or 'this payee'} has no Dots user yet.", code="not-in-dots")
            if payee_id in seen:
                raise InvalidPayee(f"Row {number}: {payee} is already in this batch.", code="duplicate-payee")
            seen.add(payee_id)
        tax.refuse_batch_unless_1099_ready([(payees[payee_id], cents) for payee_id, cents in rows])
        batch = PayoutBatch.objects.create(
            reason=reason,
            requested_by=actor,
            status=S.AWAITING_APPROVAL,
            item_count=len(rows),
            total_cents=sum(cents for _, cents in rows),
        )
        items = PayoutBatchItem.objects.bulk_create(
            [PayoutBatchItem(batch=batch, payee=payees[payee_id], amount_cents=cents) for payee_id, cents in rows]
        )
        batch.request_body = {
            "items": [
                {
                    "user_id": item.payee.dots_user_id,
                    "amount": item.amount_cents,
                    "platform": "default",
                    "fund": True,
                    "idempotency_key": str(item.idempotency_key),
                }
                for item in items
            ],
            "idempotency_key": str(batch.idempotency_key),
        }
        batch.save(update_fields=["request_body", "updated_at"])
        audit.record(
            actor=actor,
            action="payout_batch.requested",
            target=batch,
            after={"payees": batch.item_count, "total_cents": batch.total_cents, "status": batch.status},
            reason=reason,
        )
    return batch


def _decide(*, actor: User, batch_id: int, to: str, note: str, action: str) -> PayoutBatch:
    return second_payer.decide(
        PayoutBatch,
        actor=actor,
        record_id=batch_id,
        to=to,
        note=note,
        action=action,
        perm=APPROVE,
        what="payout batches",
    )


def batch_approve(*, actor: User, batch_id: int, note: str = "") -> PayoutBatch:
    """Approve and send at once; during an outage the send is queued (ActionQueued) after the approval."""
    _decide(actor=actor, batch_id=batch_id, to=S.TO_SEND, note=note, action="payout_batch.approved")
    return batch_send(batch_id=batch_id, actor=actor)


def batch_reject(*, actor: User, batch_id: int, reason: str) -> PayoutBatch:
    if not (reason or "").strip():
        raise InvalidPayee("Say why the batch is rejected.", code="reason-required")
    return _decide(actor=actor, batch_id=batch_id, to=S.REJECTED, note=reason.strip(), action="payout_batch.rejected")


def batch_send(*, batch_id: int, actor: User, from_queue: bool = False, queue: bool = True) -> PayoutBatch:
    """Send the stored body (every item with its key) with the batch's key; then read each item's outcome."""
    if not is_system_user(actor):
        require_perm(actor, APPROVE, "send payout batches")
    batch = PayoutBatch.objects.get(pk=batch_id)
    sent = KEYED.send(
        batch,
        actor=actor,
        call=lambda body: BatchAnswer.of(client().create_payout_batch(**body).raw),
        doing="send the payout batch",
        queue_kind=seam.PAYOUT_BATCH_SEND if queue and not from_queue else None,
    )
    if sent.dots_batch_id and sent.results_read_at is None:
        try:
            return batch_read_results(batch_id=sent.pk, actor=actor, source="admin")
        except DotsCallError:
            return sent  # the sync reads the outcomes later
    return sent


def batch_refresh(*, batch_id: int, actor: User, source: str = "sync") -> PayoutBatch:
    """Follow one batch: one whose answer was lost (or whose sender died) is sent again with its keys;
    one Dots has is read back with each item's outcome."""
    batch = PayoutBatch.objects.get(pk=batch_id)
    if not batch.dots_batch_id:
        if batch.status == S.UNKNOWN or (batch.status == S.TO_SEND and KEYED.stale(batch)):
            return batch_send(batch_id=batch.pk, actor=actor, queue=False)
        return batch
    return batch_read_results(batch_id=batch.pk, actor=actor, source=source)


def batch_read_results(*, batch_id: int, actor: User, source: str) -> PayoutBatch:
    """Read the batch and its per-item results from Dots; store each item's outcome (one audit event per change
    of the batch's counts). A failed payout's reason is read from its transfer."""
    batch = PayoutBatch.objects.get(pk=batch_id)
    with dots_call("read the payout batch's results"):
        results = client().retrieve_payout_batch_results(payout_batch_id=batch.dots_batch_id or "").raw
    batch = KEYED.adopt(batch.pk, BatchAnswer.of(results), actor, action="payout_batch.status_changed", source=source)
    by_key = {str(item.idempotency_key): item for item in batch.items.select_related("payee")}
    before = outcome_counts(batch)
    changed: list[PayoutBatchItem] = []
    for result in results.get("items") or []:
        item = by_key.get(str(result.get("idempotency_key") or ""))
        if item is None:
            continue
        new = _item_fields(result)
        if new["status"] == I.FAILED and item.status != I.FAILED and new["dots_transfer_id"]:
            new["reason"] = _failure_reason(new["dots_transfer_id"])
        if any(getattr(item, name) != value for name, value in new.items()):
            for name, value in new.items():
                setattr(item, name, value)
            changed.append(item)
    with transaction.atomic():
        if changed:
            PayoutBatchItem.objects.bulk_update(
                changed, ["status", "dots_transfer_id", "error_code", "reason"], batch_size=500
            )
        PayoutBatch.objects.filter(pk=batch.pk).update(results_read_at=timezone.now())
        batch.refresh_from_db()
        after = outcome_counts(batch)
        if after != before:
            audit.record(
                actor=actor,
                action="payout_batch.outcomes_read",
                target=batch,
                source=source,
                before=before,
                after=after,
                reason=outcome_summary(batch),
            )
    return batch


def _item_fields(result: dict[str, Any]) -> dict[str, str]:
    transfer = result.get("transfer") or {}
    if transfer.get("id"):
        status = str(transfer.get("status") or I.CREATED)
        return {
            "status": status if status in I.values else I.CREATED,
            "dots_transfer_id": str(transfer["id"]),
            "error_code": "",
            "reason": "",
        }
    if result.get("error_code"):
        code = str(result["error_code"])
        return {
            "status": I.REFUSED,
            "dots_transfer_id": "",
            "error_code": code[:64],
            "reason": ITEM_REFUSALS.get(code, str(result.get("error_message") or code))[:500],
        }
    return {"status": I.WAITING, "dots_transfer_id": "", "error_code": "", "reason": ""}


def _failure_reason(transfer_id: str) -> str:
    try:
        with dots_call("read the failed payout"):
            raw = client().retrieve_transfer(transfer_id=transfer_id).raw
    except DotsCallError:
        return ""
    return str(raw.get("failure_reason") or raw.get("failure_message") or "")[:500]


# --- reading: what a person sees -----------------------------------------------------------------------------


def outcome_counts(batch: PayoutBatch) -> dict[str, int]:
    """Items and cents by outcome: paid, on their way, not paid, not sent yet."""
    counts: Counter[str] = Counter()
    for status, cents in batch.items.values_list("status", "amount_cents"):
        group = _group(status)
        counts[group] += 1
        counts[f"{group}_cents"] += cents
    return dict(counts)


def _group(status: str) -> str:
    if status == I.COMPLETED:
        return "paid"
    if status in PayoutBatchItem.MOVING:
        return "on_their_way"
    if status in PayoutBatchItem.NOT_PAID:
        return "not_paid"
    return "not_sent"


def outcome_summary(batch: PayoutBatch) -> str:
    """In words: "12 paid, $1,200.00; 1 failed, $50.00; 2 on their way, $80.00"."""
    counts = outcome_counts(batch)
    parts = []
    for group, words in (
        ("paid", "paid"),
        ("not_paid", "failed"),
        ("on_their_way", "on their way"),
        ("not_sent", "not paid out yet"),
    ):
        if counts.get(group):
            parts.append(f"{counts[group]} {words}, {format_cents(counts[f'{group}_cents'])}")
    return "; ".join(parts) or "no payees"
