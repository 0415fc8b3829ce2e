"""The Dots app, its bank (ACH) account and the money moved between the two.

The app's balance is not stored here: the scheduled sync keeps the one stored balance
(reconciliation's app wallet list) and the app's page reads the metrics from Dots as it
opens, so no second copy can disagree with it.
"""

import uuid

from django.conf import settings
from django.db import models

from core.models import DotsRecord
from core.transitions import TransitionTable


class App(DotsRecord):
    class Status(models.TextChoices):
        # Dots' KYB states of an app.
        CREATED = "created", "Created: KYB not submitted"
        IN_REVIEW = "in_review", "KYB in review"
        APPROVED = "approved", "KYB approved"

    dots_app_id = models.CharField("Dots app id", max_length=64, unique=True)
    name = models.CharField(max_length=60)
    status = models.CharField("KYB state", max_length=20, choices=Status.choices, default=Status.CREATED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_from_dots_at = models.DateTimeField("last read from Dots", null=True, blank=True)
    # Dots has no read of an app's settings: these are what we last sent (and Dots answered).
    auto_refill_active = models.BooleanField("auto-refill", default=False)
    refill_amount_cents = models.BigIntegerField("refill amount", null=True, blank=True)
    refill_threshold_cents = models.BigIntegerField("refill when the balance falls below", null=True, blank=True)
    payout_options_excluded = models.JSONField("payout methods excluded", default=list, blank=True)
    # The hosted KYB flow: a new one invalidates the previous URL in Dots.
    kyb_flow_url = models.URLField("KYB flow link", max_length=500, blank=True)
    kyb_flow_expires_at = models.DateTimeField("KYB flow link expires", null=True, blank=True)
    # What we last sent as KYB: never the full EIN or an SSN.
    kyb_company_name = models.CharField("KYB legal name", max_length=100, blank=True)
    kyb_ein_last4 = models.CharField("EIN (last four)", max_length=4, blank=True)
    kyb_submitted_at = models.DateTimeField("KYB sent to Dots", null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "app"

    def __str__(self) -> str:
        return self.name or self.dots_app_id


class AchAccount(models.Model):
    """The app's bank account in Dots (one at a time: a new one replaces it there).

    Only the last four digits are kept. Unverified until a second person, never the one
    who added it, records how it was confirmed; no deposit or withdrawal before.
    """

    class AccountType(models.TextChoices):
        CHECKING = "checking", "Checking"
        SAVINGS = "savings", "Savings"

    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="ach_accounts")
    holder_name = models.CharField("account holder", max_length=100)
    routing_number = models.CharField(max_length=9)
    account_last4 = models.CharField("account number (last four)", max_length=4)
    account_type = models.CharField(max_length=10, choices=AccountType.choices)
    dots_name = models.CharField("name in Dots", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_note = models.TextField("how it was confirmed", blank=True)
    replaced_at = models.DateTimeField("replaced by a newer account", null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "app bank account"
        permissions = [("verify_achaccount", "Can verify an app bank account someone else added")]

    def __str__(self) -> str:
        return f"{self.get_account_type_display()} ••••{self.account_last4}"

    @property
    def masked_number(self) -> str:
        return f"••••{self.account_last4}"

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def is_current(self) -> bool:
        return self.replaced_at is None


class WalletTransfer(DotsRecord):
    """A deposit into the app wallet from its bank account, or a withdrawal to it.

    The idempotency key and the exact body are stored before the first call and every
    retry resends both: Dots answers a repeated key with the first transfer, so a lost
    answer or a killed worker never makes a second one.
    """

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit into the wallet"
        WITHDRAWAL = "withdrawal", "Withdrawal to the bank account"

    class Status(models.TextChoices):
        # Local only: awaiting_approval, rejected, to_send, unknown, refused.
        AWAITING_APPROVAL = "awaiting_approval", "Waiting for a second Payer to approve"
        REJECTED = "rejected", "Rejected by the second Payer"
        TO_SEND = "to_send", "Being sent to Dots"
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"
        REFUSED = "refused", "Refused by Dots"
        # Dots' transfer statuses.
        CREATED = "created", "Accepted by Dots"
        PENDING = "pending", "Under way at the bank"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    _IN_DOTS = (Status.CREATED, Status.PENDING, Status.COMPLETED, Status.FAILED)
    TRANSITIONS = TransitionTable.build(
        Status,
        ours={
            Status.AWAITING_APPROVAL: {Status.TO_SEND, Status.REJECTED},
            Status.TO_SEND: {Status.UNKNOWN, Status.REFUSED},
            Status.UNKNOWN: {Status.REFUSED},
        },
        dots={
            Status.TO_SEND: set(_IN_DOTS),
            Status.UNKNOWN: set(_IN_DOTS),
            Status.CREATED: {Status.PENDING, Status.COMPLETED, Status.FAILED},
            Status.PENDING: {Status.COMPLETED, Status.FAILED},
        },
    )
    OPEN = (Status.TO_SEND, Status.UNKNOWN, Status.CREATED, Status.PENDING)

    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="transfers")
    ach_account = models.ForeignKey(AchAccount, on_delete=models.PROTECT, related_name="transfers")
    kind = models.CharField("what", max_length=12, choices=Kind.choices)
    amount_cents = models.BigIntegerField("amount")
    status = models.CharField(max_length=20, choices=Status.choices)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request_body = models.JSONField("request sent to Dots", default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("requested at", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    needs_second_approval = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField("approved or rejected at", null=True, blank=True)
    decision_note = models.CharField("approver's note", max_length=500, blank=True)
    sent_at = models.DateTimeField("first sent to Dots", null=True, blank=True)
    dots_transfer_id = models.CharField("Dots transfer id", max_length=64, unique=True, null=True, blank=True)
    failure_reason = models.CharField("Dots' reason", max_length=500, blank=True)
    timeline = models.JSONField("status history", default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "deposit or withdrawal"
        verbose_name_plural = "deposits and withdrawals"
        permissions = [("approve_wallettransfer", "Can approve a deposit or withdrawal someone else asked for")]

    def __str__(self) -> str:
        from core.money import format_cents

        word = "Deposit" if self.kind == self.Kind.DEPOSIT else "Withdrawal"
        return f"{word} of {format_cents(self.amount_cents)} #{self.pk}"
