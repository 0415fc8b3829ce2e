"""Money moved for payees that a Payer approves: the shared abstract record, payouts from a payee's wallet,
payout batches and their items (imported by payouts/models.py, whose PayeeTransfer uses the abstract record).

Kept apart from models.py so each module stays readable; Django finds these models because
payouts.models imports them.
"""

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import models

from core.models import DotsRecord
from core.transitions import TransitionTable


class AskedAndApproved(DotsRecord):
    """What every money move a Payouts operator asks for and a Payer approves keeps (abstract).

    The idempotency key and the exact body are stored before the first call (core.keyed_send);
    who asked and who decided, when, and Dots' reason if it failed. Each model adds its own
    `status` (with its Status choices and TRANSITIONS, built by `asked_then_sent`) and what it moves.
    """

    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request_body = models.JSONField("request sent to Dots", default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("requested at", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField("approved or rejected at", null=True, blank=True)
    decision_note = models.CharField("Payer's note", max_length=500, blank=True)
    sent_at = models.DateTimeField("first sent to Dots", null=True, blank=True)
    failure_reason = models.CharField("Dots' reason", max_length=500, blank=True)

    class Meta:
        abstract = True


def asked_then_sent(
    statuses: type[models.TextChoices], *, in_dots: Iterable[str], dots_moves: Mapping[str, Iterable[str]]
) -> TransitionTable:
    """The transition table of an AskedAndApproved record: our moves (awaiting approval -> to send or
    rejected; to send -> unknown or refused; unknown -> refused) and Dots' (`in_dots` from to send or
    unknown, then `dots_moves`)."""
    s: Any = statuses
    return TransitionTable.build(
        statuses,
        ours={
            s.AWAITING_APPROVAL: {s.TO_SEND, s.REJECTED},
            s.TO_SEND: {s.UNKNOWN, s.REFUSED},
            s.UNKNOWN: {s.REFUSED},
        },
        dots={s.TO_SEND: set(in_dots), s.UNKNOWN: set(in_dots), **dots_moves},
    )


class PayeePayout(AskedAndApproved):
    """Money paid from a payee's Dots wallet to one of their payout methods (Dots `create-payout`).

    A Payouts operator asks; a Payer who did not ask approves, and it is sent at once. The
    idempotency key and the exact body are stored before the first call and every send
    resends both (core.keyed_send), so a lost answer never makes a second payout in Dots.
    """

    class Status(models.TextChoices):
        # Local only: awaiting_approval, rejected, to_send, unknown, refused.
        AWAITING_APPROVAL = "awaiting_approval", "Waiting for a Payer to approve"
        REJECTED = "rejected", "Rejected by the Payer"
        TO_SEND = "to_send", "Being sent to Dots"
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"
        REFUSED = "refused", "Refused by Dots"
        # Dots' transfer statuses (a payout is a transfer in Dots).
        CREATED = "created", "Accepted by Dots"
        PENDING = "pending", "On its way to the payout method"
        FLAGGED = "flagged", "Held by Dots for review"
        COMPLETED = "completed", "Paid"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled by Dots"
        REVERSED = "reversed", "Reversed after it was paid"

    _MOVING = (Status.CREATED, Status.PENDING, Status.FLAGGED)
    _IN_DOTS = (*_MOVING, Status.COMPLETED, Status.FAILED, Status.CANCELED)
    TRANSITIONS = asked_then_sent(
        Status,
        in_dots=_IN_DOTS,
        dots_moves={
            Status.CREATED: {Status.PENDING, Status.FLAGGED, Status.COMPLETED, Status.FAILED, Status.CANCELED},
            Status.PENDING: {Status.FLAGGED, Status.COMPLETED, Status.FAILED, Status.CANCELED},
            Status.FLAGGED: {Status.PENDING, Status.COMPLETED, Status.FAILED, Status.CANCELED},
            # A reversal after payment is rare and late: reconciliation reports it, the sync does not wait for it.
            Status.COMPLETED: {Status.REVERSED},
        },
    )
    # What the sync follows: unsent or unanswered (sent again with their key), and those still moving.
    OPEN = (Status.TO_SEND, Status.UNKNOWN, *_MOVING)

    payee = models.ForeignKey("payouts.Payee", on_delete=models.PROTECT, related_name="payouts")
    amount_cents = models.BigIntegerField("amount")
    reason = models.CharField("why", max_length=500)
    # The payout method as Dots listed it when the operator chose it: its kind and id, and its words
    # ("Bank account ending 6789"): never a whole account number.
    platform = models.CharField("kind of payout method", max_length=20)
    payout_method_id = models.CharField("Dots payout method id", max_length=64, blank=True)
    payout_method_words = models.CharField("payout method", max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices)
    dots_transfer_id = models.CharField("Dots transfer id", max_length=64, unique=True, null=True, blank=True)

    class Meta:
        app_label = "payouts"
        ordering = ["-id"]
        verbose_name = "payout from a payee's wallet"
        verbose_name_plural = "payouts from payees' wallets"
        permissions = [("approve_payeepayout", "Can approve a payout from a payee's wallet someone else asked for")]

    def __str__(self) -> str:
        from core.money import format_cents

        return f"Payout of {format_cents(self.amount_cents)} to {self.payee.first_name} {self.payee.last_name}"


class PayoutBatch(AskedAndApproved):
    """Many payouts at once from the app wallet, each to a payee's default payout method (Dots `create-payout-batch`).

    A Payouts operator builds it; a Payer who did not ask approves and it is sent once: the batch's
    key, each item's key and the exact body are stored before the call, so a lost answer is sent
    again unchanged and Dots pays no item twice. Then each item is followed to its own outcome.
    (`failure_reason` stays empty: a batch has no one reason; each item keeps its own.)
    """

    MAX_ITEMS = 5000  # Dots' limit (create-payout-batch: items maxItems)

    class Status(models.TextChoices):
        # Local only: awaiting_approval, rejected, to_send, unknown, refused.
        AWAITING_APPROVAL = "awaiting_approval", "Waiting for a Payer to approve"
        REJECTED = "rejected", "Rejected by the Payer"
        TO_SEND = "to_send", "Being sent to Dots"
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"
        REFUSED = "refused", "Refused by Dots"
        # Dots' batch statuses: its items then have their own outcomes.
        CREATED = "created", "Accepted by Dots"
        PROCESSING = "processing", "Being processed by Dots"
        PAYING_OUT = "paying_out", "Paying out"
        COMPLETED = "completed", "Processed by Dots (see each payee's outcome)"

    _IN_DOTS = (Status.CREATED, Status.PROCESSING, Status.PAYING_OUT, Status.COMPLETED)
    TRANSITIONS = asked_then_sent(
        Status,
        in_dots=_IN_DOTS,
        dots_moves={
            Status.CREATED: {Status.PROCESSING, Status.PAYING_OUT, Status.COMPLETED},
            Status.PROCESSING: {Status.PAYING_OUT, Status.COMPLETED},
            Status.PAYING_OUT: {Status.COMPLETED},
        },
    )

    reason = models.CharField("why", max_length=500)
    status = models.CharField(max_length=20, choices=Status.choices)
    item_count = models.PositiveIntegerField("payees", default=0)
    total_cents = models.BigIntegerField("total", default=0)
    dots_batch_id = models.CharField("Dots payout batch id", max_length=64, unique=True, null=True, blank=True)
    results_read_at = models.DateTimeField("outcomes last read from Dots", null=True, blank=True)

    class Meta:
        app_label = "payouts"
        ordering = ["-id"]
        verbose_name = "payout batch"
        verbose_name_plural = "payout batches"
        permissions = [("approve_payoutbatch", "Can approve a payout batch someone else built")]

    def __str__(self) -> str:
        from core.money import format_cents

        payees = "payee" if self.item_count == 1 else "payees"
        return f"Payout batch #{self.pk}: {self.item_count:,} {payees}, {format_cents(self.total_cents)}"


class PayoutBatchItem(models.Model):
    """One payee's payout in a batch, with its own idempotency key and its own outcome in Dots."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Not paid out yet"  # local only: not sent, or Dots has not reached it in the batch
        REFUSED = "refused", "Refused by Dots"  # local only: Dots' error_code / error_message for the item
        CREATED = "created", "Accepted by Dots"
        PENDING = "pending", "On its way"
        FLAGGED = "flagged", "Held by Dots for review"
        COMPLETED = "completed", "Paid"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled by Dots"
        REVERSED = "reversed", "Reversed after it was paid"

    MOVING = (Status.CREATED, Status.PENDING, Status.FLAGGED)
    NOT_PAID = (Status.REFUSED, Status.FAILED, Status.CANCELED, Status.REVERSED)

    batch = models.ForeignKey(PayoutBatch, on_delete=models.CASCADE, related_name="items")
    payee = models.ForeignKey("payouts.Payee", on_delete=models.PROTECT, related_name="+")
    amount_cents = models.BigIntegerField("amount")
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING)
    dots_transfer_id = models.CharField("Dots transfer id", max_length=64, blank=True)
    error_code = models.CharField("Dots' error code", max_length=64, blank=True)
    reason = models.CharField("Dots' reason", max_length=500, blank=True)

    class Meta:
        app_label = "payouts"
        ordering = ["id"]
        verbose_name = "payout batch item"

    def __str__(self) -> str:
        from core.money import format_cents

        return f"{format_cents(self.amount_cents)} to {self.payee.first_name} {self.payee.last_name}"
