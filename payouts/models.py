"""Payees (Dots users), their CSV imports, payout runs, payout requests, payout links, transfers.

Status values are Dots' strings where Dots has them; local-only ones say so.
"""

import uuid
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import models

from core.models import DotsRecord, SyncFollowed
from core.transitions import TransitionTable

# Payouts from payees' wallets and payout batches live in their own module; importing them here is how
# Django finds them (and PayeeTransfer below shares their abstract record).
from payouts.money_out_models import AskedAndApproved, asked_then_sent
from payouts.money_out_models import PayeePayout as PayeePayout
from payouts.money_out_models import PayoutBatch as PayoutBatch
from payouts.money_out_models import PayoutBatchItem as PayoutBatchItem


def _with_skipped_steps(lifecycle: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """Every status reachable through Dots' own moves: a poll or a late webhook may see several at once."""
    reachable = {status: set(targets) for status, targets in lifecycle.items()}
    changed = True
    while changed:
        changed = False
        for targets in reachable.values():
            further = set().union(*(reachable.get(target, set()) for target in targets)) - targets
            if further:
                targets |= further
                changed = True
    return reachable


class Payee(DotsRecord):
    """A person Ledgerline pays: a Dots user. Phone numbers are stored in E.164 and unique."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(max_length=254)
    phone_e164 = models.CharField("phone", max_length=20, unique=True)
    country = models.CharField("country of the phone", max_length=2, default="US")  # ISO code
    external_id = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Dots' view of the user, refreshed from Dots.
    dots_user_id = models.CharField("Dots user id", max_length=64, unique=True, null=True, blank=True)
    dots_status = models.CharField("status in Dots", max_length=30, blank=True)
    compliance = models.JSONField("tax and compliance", default=dict, blank=True)
    wallet_cents = models.BigIntegerField("wallet balance", null=True, blank=True)
    default_payout_method = models.CharField("default payout method", max_length=100, blank=True)
    linked_existing = models.BooleanField(
        "linked to an existing Dots user", default=False, help_text="Dots already had a user with this phone"
    )
    # The address last sent to Dots from here (Dots' user has no address to read back). Not secret.
    address_line_1 = models.CharField("address line 1", max_length=200, blank=True)
    address_line_2 = models.CharField("address line 2", max_length=200, blank=True)
    address_line_3 = models.CharField("address line 3", max_length=200, blank=True)
    address_city = models.CharField("city", max_length=100, blank=True)
    address_state = models.CharField("state or region", max_length=100, blank=True)
    address_postcode = models.CharField("postcode", max_length=20, blank=True)
    address_country = models.CharField("address country", max_length=2, blank=True)  # ISO code
    address_sent_at = models.DateTimeField("address sent to Dots", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payee"
        verbose_name_plural = "payees"
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.phone_e164})"


class PayeeImport(models.Model):
    class Status(models.TextChoices):
        CHECKING = "checking", "Checking the file"
        REFUSED = "refused", "Refused: the file could not be read"
        PREVIEW = "preview", "Preview (nothing created yet)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        DISCARDED = "discarded", "Discarded at preview"

    file_name = models.CharField(max_length=255)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    header = models.JSONField(default=list, blank=True)
    has_amount = models.BooleanField("has amounts", default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREVIEW)
    # A large file is kept here only while the worker checks it (payee_import_check), then deleted.
    source = models.FileField("file being checked", upload_to="payee-imports/%Y/%m/", blank=True)
    file_size = models.PositiveBigIntegerField("file size (bytes)", default=0)
    checked_bytes = models.PositiveBigIntegerField(default=0)
    checked_rows = models.PositiveIntegerField(default=0)
    refusal = models.TextField("why the file was refused", blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    duplicate_rows = models.PositiveIntegerField(default=0)
    existing_rows = models.PositiveIntegerField(default=0)
    # Progress, written at most once per 50 rows.
    created_count = models.PositiveIntegerField("created", default=0)
    linked_count = models.PositiveIntegerField("linked to existing Dots users", default=0)
    failed_count = models.PositiveIntegerField("failed", default=0)
    cancelled_count = models.PositiveIntegerField("cancelled", default=0)
    cancel_requested = models.BooleanField(default=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_updated_at = models.DateTimeField("progress updated at", null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payee import"
        verbose_name_plural = "payee imports"

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.file_name}"

    @property
    def processed(self) -> int:
        return self.created_count + self.linked_count + self.failed_count + self.cancelled_count

    @property
    def to_import(self) -> int:
        return self.valid_rows


class PayeeImportRow(models.Model):
    class Status(models.TextChoices):
        INVALID = "invalid", "Invalid"
        DUPLICATE = "duplicate", "Duplicate in the file"
        EXISTING = "existing", "Already a payee"
        PENDING = "pending", "To create"
        CREATING = "creating", "Creating in Dots"
        CREATED = "created", "Created"
        LINKED = "linked", "Linked to an existing Dots user"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # No index of its own: (payee_import, status) below serves every lookup by import.
    payee_import = models.ForeignKey(PayeeImport, on_delete=models.CASCADE, related_name="rows", db_index=False)
    line_number = models.PositiveIntegerField()
    cells = models.JSONField(default=list, help_text="The row as it was in the file")
    fields_ok = models.BooleanField("fields valid", default=False)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone_e164 = models.CharField("phone", max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)
    amount_cents = models.BigIntegerField("amount", null=True, blank=True)
    memo = models.CharField(max_length=500, blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    error_column = models.CharField("column in error", max_length=50, blank=True)
    error_value = models.CharField("value in error", max_length=200, blank=True)
    error = models.TextField("problem", blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    payee = models.ForeignKey(Payee, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)

    class Meta:
        ordering = ["payee_import", "line_number"]
        verbose_name = "imported row"
        verbose_name_plural = "imported rows"
        # Every index is written for each of a file's 100,000 rows by the preview's COPY: only what a
        # query needs. The duplicate pass reads an import's rows whole (no phone or email index), and
        # only linked rows are looked up by payee (a payee deleted), so NULLs are not indexed.
        indexes = [
            models.Index(fields=["payee_import", "status"]),
            models.Index(fields=["payee"], condition=models.Q(payee__isnull=False), name="payouts_row_payee_linked"),
        ]

    def __str__(self) -> str:
        return f"line {self.line_number}"


class PayoutLink(DotsRecord, SyncFollowed):
    class Status(models.TextChoices):
        # Local only (Dots has no such status): pending, unknown, refused.
        PENDING = "pending", "Waiting to be sent to Dots"
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"
        REFUSED = "refused", "Refused by Dots"
        CREATED = "created", "Created in Dots"
        DELIVERY_PENDING = "delivery_pending", "Being delivered to the payee"
        DELIVERY_FAILED = "delivery_failed", "Delivery to the payee failed"
        SENT = "sent", "Sent: waiting for the payee to claim it"
        DELIVERED = "delivered", "Delivered: waiting for the payee to claim it"
        CLAIMED = "claimed", "Claimed by the payee"
        EXPIRED = "expired", "Expired: not claimed in time"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"
        REVERSED = "reversed", "Reversed"

    # Before Dots has the link: the push's failures are ours to record. Cancelling asks Dots, which
    # answers with the canceled link. Once created, Dots moves it along its payout-link lifecycle;
    # until then, whatever Dots answers to the create (a repeated key answers the link as it is now).
    _LOCAL = (Status.PENDING, Status.UNKNOWN, Status.REFUSED)
    _IN_DOTS = (
        Status.CREATED,
        Status.DELIVERY_PENDING,
        Status.DELIVERY_FAILED,
        Status.SENT,
        Status.DELIVERED,
        Status.CLAIMED,
        Status.EXPIRED,
        Status.FAILED,
        Status.CANCELED,
        Status.REVERSED,
    )
    _CANCELLABLE = (Status.CREATED, Status.DELIVERY_PENDING, Status.DELIVERY_FAILED, Status.SENT, Status.DELIVERED)
    TRANSITIONS = TransitionTable.build(
        Status,
        ours={
            Status.PENDING: {Status.UNKNOWN, Status.REFUSED},
            Status.UNKNOWN: {Status.REFUSED},
            Status.REFUSED: {Status.UNKNOWN},
            **dict.fromkeys(_CANCELLABLE, {Status.CANCELED}),
        },
        dots={
            **dict.fromkeys(_LOCAL, set(_IN_DOTS)),
            **_with_skipped_steps(
                {
                    Status.CREATED: {
                        Status.DELIVERY_PENDING,
                        Status.SENT,
                        Status.DELIVERED,
                        Status.CLAIMED,
                        Status.CANCELED,
                        Status.EXPIRED,
                        Status.FAILED,
                    },
                    Status.DELIVERY_PENDING: {
                        Status.SENT,
                        Status.DELIVERED,
                        Status.DELIVERY_FAILED,
                        Status.CANCELED,
                        Status.EXPIRED,
                    },
                    Status.DELIVERY_FAILED: {Status.DELIVERY_PENDING, Status.SENT, Status.CANCELED, Status.EXPIRED},
                    Status.SENT: {Status.DELIVERED, Status.CLAIMED, Status.CANCELED, Status.EXPIRED},
                    Status.DELIVERED: {Status.CLAIMED, Status.CANCELED, Status.EXPIRED},
                    Status.CLAIMED: {Status.REVERSED, Status.FAILED},
                }
            ),
        },
    )

    class Delivery(models.TextChoices):
        LINK = "link", "Link only"
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    payee = models.ForeignKey(Payee, null=True, blank=True, on_delete=models.PROTECT, related_name="payout_links")
    amount_cents = models.BigIntegerField("amount")
    delivery_method = models.CharField("delivery", max_length=10, choices=Delivery.choices, default=Delivery.LINK)
    memo = models.CharField(max_length=500, blank=True)
    tax_exempt = models.BooleanField(default=False)
    # Generated and stored, with the exact body, before the first call; every retry resends both.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request_body = models.JSONField("request sent to Dots", default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True)
    link = models.URLField("link to claim the money", max_length=500, blank=True)
    timeline = models.JSONField("status history", default=list, blank=True)  # as Dots reported it
    claimed_user_id = models.CharField("claimed by (Dots user id)", max_length=64, blank=True)
    transfer_dots_id = models.CharField("Dots transfer id", max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payout link"
        verbose_name_plural = "payout links"

    def __str__(self) -> str:
        return f"Payout link #{self.pk}"


class PayoutRequest(DotsRecord, SyncFollowed):
    class Status(models.TextChoices):
        # Local only (Dots has no such status): pending, unknown, refused.
        PENDING = "pending", "Waiting to be sent to Dots"
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"
        REFUSED = "refused", "Refused by Dots"
        CREATED = "created", "Waiting for approval in Dots"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    # A push that fails is ours to record; what Dots answers (to the create, or the request our key
    # finds after a lost answer) and its approval or rejection in the dashboard are Dots' moves.
    TRANSITIONS = TransitionTable.build(
        Status,
        ours={
            Status.PENDING: {Status.UNKNOWN, Status.REFUSED},
            Status.UNKNOWN: {Status.REFUSED},
        },
        dots={
            Status.PENDING: {Status.CREATED, Status.APPROVED, Status.REJECTED},
            Status.UNKNOWN: {Status.CREATED, Status.APPROVED, Status.REJECTED},
            Status.CREATED: {Status.APPROVED, Status.REJECTED},
        },
    )

    payee = models.ForeignKey(Payee, null=True, blank=True, on_delete=models.PROTECT, related_name="payout_requests")
    # For someone who is not a payee yet.
    phone_e164 = models.CharField("phone", max_length=20, blank=True)
    amount_cents = models.BigIntegerField("amount")
    memo = models.CharField(max_length=500, blank=True)
    # Dots has no idempotency key for payout requests: ours travels in metadata so an
    # unknown outcome is reconciled by finding the request that carries it.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request_body = models.JSONField("request sent to Dots", default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True)
    payout_link = models.ForeignKey(PayoutLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payout request"
        verbose_name_plural = "payout requests"

    def __str__(self) -> str:
        return f"Payout request #{self.pk}"


class PayoutRun(models.Model):
    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        SENDING = "sending", "Approved, sending"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"

    # Sent -> sending: a Payer retries the items that failed. Dots never moves a run.
    TRANSITIONS = TransitionTable.build(
        Status,
        ours={
            Status.AWAITING_APPROVAL: {Status.SENDING, Status.CANCELLED},
            Status.SENDING: {Status.SENT},
            Status.SENT: {Status.SENDING},
        },
    )

    payee_import = models.OneToOneField(
        PayeeImport, on_delete=models.PROTECT, related_name="payout_run", verbose_name="from import"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_APPROVAL)
    total_cents = models.BigIntegerField("total", default=0)
    item_count = models.PositiveIntegerField("payouts", default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payout run"
        verbose_name_plural = "payout runs"
        permissions = [("approve_payoutrun", "Can approve and send a payout run")]

    def __str__(self) -> str:
        return f"Payout run #{self.pk}"


class PayoutRunItem(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for approval"
        SENDING = "sending", "Sending"
        SENT = "sent", "Payout link created"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    run = models.ForeignKey(PayoutRun, on_delete=models.CASCADE, related_name="items")
    row = models.OneToOneField(PayeeImportRow, on_delete=models.PROTECT, related_name="payout_item")
    amount_cents = models.BigIntegerField("amount")
    memo = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING)
    payout_link = models.OneToOneField(PayoutLink, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    outcome = models.TextField("what happened", blank=True)

    class Meta:
        ordering = ["run", "id"]
        verbose_name = "payout in a run"
        verbose_name_plural = "payouts in a run"

    def __str__(self) -> str:
        return f"payout run #{self.run_id}, line {self.row_id}"


class Transfer(models.Model):
    """A read-only mirror of a Dots transfer, kept in step by payouts.transfers (sync and webhooks).

    The links to a payee, a payout link and a payable are kept as the Dots ids the transfer
    carries and resolved when shown (payouts.transfers.links_for), not as foreign keys: filling
    foreign keys at sync time costs a lookup per page for each of them, and the sync must stay
    within 3 queries per page of 100 (one SELECT of the page's known rows, one bulk upsert).
    """

    class Status(models.TextChoices):
        # Dots' transfer.status enum. Unknown values Dots may add are stored as they come.
        CREATED = "created", "Created"
        PENDING = "pending", "Pending"
        FLAGGED = "flagged", "Flagged"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        REVERSED = "reversed", "Reversed"
        CANCELED = "canceled", "Canceled"

    class Type(models.TextChoices):
        REFILL = "refill", "Refill"
        PAYOUT = "payout", "Payout"
        BALANCE = "balance", "Balance"
        PAYMENT = "payment", "Payment"
        SETTLEMENT = "settlement", "Settlement"
        PAYABLE = "payable", "Payable"

    # Still moving: the sync re-reads these by id when the newest-first listing stops before them.
    # "completed" counts as settled although Dots can still reverse it: a full sync and the
    # transfer.* webhooks see a reversal; re-reading every completed transfer would not scale.
    OPEN_STATUSES = (Status.CREATED, Status.PENDING, Status.FLAGGED)

    dots_id = models.CharField("Dots id", max_length=64, unique=True)
    type = models.CharField(max_length=30, blank=True, choices=Type.choices)
    status = models.CharField(max_length=30, blank=True, choices=Status.choices)
    amount_cents = models.BigIntegerField("amount", null=True, blank=True)
    failure_reason = models.CharField("why it failed", max_length=500, blank=True)  # Dots' reason
    dots_user_id = models.CharField("Dots user id", max_length=64, blank=True)
    payout_link_dots_id = models.CharField("Dots payout link id", max_length=64, blank=True)
    # The Dots payable id a payable's payment carries in its metadata (when Dots says); the
    # payable is also found by its own dots_transfer_id.
    payable_dots_id = models.CharField("Dots payable id", max_length=64, blank=True)
    dots_created_at = models.DateTimeField("created", null=True, blank=True)
    # A hash of every mirrored field as Dots sent it: equal means nothing to write.
    fingerprint = models.CharField("change fingerprint", max_length=32, blank=True)
    synced_at = models.DateTimeField("last read from Dots", auto_now=True)
    # Last re-read by id while still open.
    checked_at = models.DateTimeField("last checked while open", null=True, blank=True)

    class Meta:
        ordering = ["-dots_created_at", "-id"]
        verbose_name = "transfer"
        verbose_name_plural = "transfers"
        indexes = [
            models.Index(fields=["-dots_created_at", "-id"], name="transfer_created_idx"),
            models.Index(fields=["status", "checked_at"], name="transfer_status_idx"),
            models.Index(fields=["dots_user_id"], name="transfer_user_idx"),
            models.Index(fields=["payout_link_dots_id"], name="transfer_payout_link_idx"),
        ]

    def __str__(self) -> str:
        return f"Transfer {self.dots_id}"


class TransferSyncState(models.Model):
    """One row: where an interrupted transfer sync must resume, so a failed page leaves no gap.

    The incremental sync stops at the first page it already knows; after a sync that failed
    half-way, pages older than the last one written were never read, and stopping at the
    (now known) newer pages would skip them for good. `resume_after` is the Dots id of the
    last transfer written by the interrupted walk; the next sync reads on from there first.
    `walk_open` is set while a sync runs: found set at the start, the previous sync died
    without saying where it stopped, and the next one reads every page.
    """

    resume_after = models.CharField("resume after (Dots transfer id)", max_length=64, blank=True)
    walk_open = models.BooleanField("a sync is under way", default=False)
    last_finished_at = models.DateTimeField("last sync finished at", null=True, blank=True)

    class Meta:
        verbose_name = "transfer sync state"

    def __str__(self) -> str:
        return "Transfer sync state"


class WebhookDelivery(models.Model):
    """One delivery to /webhooks/dots/, accepted or refused, as it arrived. Append-only."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REFUSED = "refused", "Refused"

    class Processing(models.TextChoices):
        NOT_APPLICABLE = "", "Not processed (refused)"
        QUEUED = "queued", "Queued"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (event type not handled)"
        FAILED = "failed", "Failed"

    # Unique among accepted deliveries only: a replay cannot be accepted twice, and a forged delivery
    # carrying someone else's id is kept (refused) without blocking the genuine one.
    msg_id = models.CharField("message id", max_length=200, null=True, blank=True)  # noqa: DJ001 (NULL is not unique)
    event_type = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    signed_at = models.DateTimeField("signature timestamp", null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    refusal_reason = models.CharField("why it was refused", max_length=300, blank=True)
    processing = models.CharField(max_length=10, choices=Processing.choices, blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)
    processing_error = models.TextField("processing error", blank=True)
    # What processing did, e.g. why it was ignored.
    note = models.CharField("what processing did", max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField("times processed", default=0)
    object_type = models.CharField("Dots object type", max_length=50, blank=True)
    object_id = models.CharField("Dots object id", max_length=200, blank=True)
    # Secrets and account numbers masked (dots.redact); refused bodies are kept only if they were JSON.
    payload = models.JSONField(null=True, blank=True)
    body_bytes = models.PositiveIntegerField("body size in bytes (as received or declared)", default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["outcome", "event_type"]), models.Index(fields=["outcome", "received_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["msg_id"], condition=models.Q(outcome="accepted"), name="webhookdelivery_accepted_msg_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Webhook {self.msg_id or '#' + str(self.pk)} ({self.event_type or 'unknown type'})"


class PayeeTransfer(AskedAndApproved, SyncFollowed):
    """Money moved from the app wallet to a payee's wallet: a Payouts operator asks, a Payer approves.

    The idempotency key and the exact body are stored before the first call; every send resends
    both, so a lost answer never makes a second transfer in Dots.
    """

    class Status(models.TextChoices):
        # Local only: awaiting_approval, rejected, to_send, unknown, refused.
        AWAITING_APPROVAL = "awaiting_approval", "Waiting for a Payer to approve"
        REJECTED = "rejected", "Rejected by the Payer"
        TO_SEND = "to_send", "Being sent to Dots"
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"
        REFUSED = "refused", "Refused by Dots"
        CREATED = "created", "Accepted by Dots"
        PENDING = "pending", "Under way"
        COMPLETED = "completed", "In the payee's wallet"
        FAILED = "failed", "Failed"

    _IN_DOTS = (Status.CREATED, Status.PENDING, Status.COMPLETED, Status.FAILED)
    TRANSITIONS = asked_then_sent(
        Status,
        in_dots=_IN_DOTS,
        dots_moves={
            Status.CREATED: {Status.PENDING, Status.COMPLETED, Status.FAILED},
            Status.PENDING: {Status.COMPLETED, Status.FAILED},
        },
    )

    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="wallet_transfers")
    amount_cents = models.BigIntegerField("amount")
    reason = models.CharField("why", max_length=500)
    status = models.CharField(max_length=20, choices=Status.choices)
    dots_transfer_id = models.CharField("Dots transfer id", max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "transfer to a payee"
        verbose_name_plural = "transfers to payees"
        permissions = [("approve_payeetransfer", "Can approve a transfer to a payee someone else asked for")]

    def __str__(self) -> str:
        from core.money import format_cents

        return f"{format_cents(self.amount_cents)} to {self.payee.first_name} {self.payee.last_name}"
