"""A payable (bill) to a vendor, its line items, and who approved it."""

import re

from django.conf import settings
from django.db import models

from core.models import DotsRecord, SyncFollowed
from core.money import MoneyField, format_cents
from core.transitions import TransitionTable


def _unprefixed(number: str) -> str:
    text = (number or "").upper()
    text = re.sub(r"[\s#\-_/.]", "", text)
    return re.sub(r"^(INVOICE|INV)", "", text)


def normalise_bill_number(number: str) -> str:
    """The form two bill numbers share when they are the same bill written differently.

    "INV-000104", "inv 104", "#104" and "104" all become "104": case, spaces, "#",
    "-", an "INV" prefix and leading zeros do not make a different bill.
    """
    return _unprefixed(number).lstrip("0") or "0"


def bill_number_search_key(term: str) -> str | None:
    """What to look for inside `bill_number_key` when someone searches for `term`: "inv 2002",
    "INV-2002" and "#2002" all look for "2002". None when normalising would widen the search:
    leading zeros ("INV-000012") say the padded number was meant, which the plain text finds."""
    text = _unprefixed(term)
    if not text or text.startswith("0"):
        return None
    return text


class ScheduledOutcome(models.TextChoices):
    PAID = "paid", "Paid"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Payment failed"


class Payable(DotsRecord, SyncFollowed):
    class Status(models.TextChoices):
        # Dots' statuses...
        CREATED = "created", "Draft"
        SUBMITTED = "submitted_for_approval", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELED = "canceled", "Canceled"
        PAYMENT_INITIATED = "payment_initiated", "Payment in progress"
        PAYMENT_COMPLETED = "payment_completed", "Paid"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        # ...and two of ours, for the moments Dots has not (or not clearly) answered.
        PAY_REQUESTED = "pay_requested", "Payment being sent"
        OUTCOME_UNKNOWN = "payment_outcome_unknown", "Payment outcome unknown"

    class FundingSource(models.TextChoices):
        DOTS_BALANCE = "dots_balance", "App wallet (Dots balance)"
        ACH = "ach", "ACH pull from our bank account"

    # Who may move a payable from which status to which: our services (`ours`) and Dots on its
    # own (`dots`: read back by the sync, payables.sync). Every status change checks here.
    TRANSITIONS = TransitionTable.build(
        Status,
        ours={
            Status.CREATED: {Status.SUBMITTED, Status.CANCELED},
            Status.SUBMITTED: {Status.APPROVED, Status.REJECTED},
            Status.APPROVED: {Status.PAY_REQUESTED},
            # The answer to our `pay`; back to approved (or failed) when Dots refused or never got it.
            Status.PAY_REQUESTED: {
                Status.PAYMENT_INITIATED,
                Status.PAYMENT_COMPLETED,
                Status.PAYMENT_FAILED,
                Status.OUTCOME_UNKNOWN,
                Status.APPROVED,
            },
            # Reading a lost payment back; approved when Dots shows none under way.
            Status.OUTCOME_UNKNOWN: {
                Status.PAYMENT_INITIATED,
                Status.PAYMENT_COMPLETED,
                Status.PAYMENT_FAILED,
                Status.APPROVED,
            },
            Status.PAYMENT_INITIATED: {Status.PAYMENT_COMPLETED, Status.PAYMENT_FAILED},
            Status.PAYMENT_FAILED: {Status.PAY_REQUESTED},
        },
        dots={
            Status.CREATED: {Status.SUBMITTED, Status.CANCELED},
            Status.SUBMITTED: {Status.APPROVED, Status.REJECTED},
            # Paid from Dots' dashboard.
            Status.APPROVED: {Status.PAYMENT_INITIATED, Status.PAYMENT_COMPLETED, Status.PAYMENT_FAILED},
            Status.PAYMENT_INITIATED: {Status.PAYMENT_COMPLETED, Status.PAYMENT_FAILED},
            Status.PAYMENT_FAILED: {Status.PAYMENT_INITIATED, Status.PAYMENT_COMPLETED},
        },
    )
    EDITABLE = {Status.CREATED}
    # States in which money may be on its way: never pay again from these.
    PAYMENT_IN_FLIGHT = {Status.PAY_REQUESTED, Status.OUTCOME_UNKNOWN, Status.PAYMENT_INITIATED}

    bill_number = models.CharField(max_length=100)
    bill_number_key = models.CharField(max_length=100, editable=False, db_index=True)
    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="payables")
    bank_account = models.ForeignKey("vendors.VendorBankAccount", on_delete=models.PROTECT, related_name="payables")
    description = models.TextField(blank=True)
    external_id = models.CharField(max_length=100, blank=True)
    due_date = models.DateField(null=True, blank=True, help_text="Ours: Dots has no due date.")
    funding_source = models.CharField(max_length=20, choices=FundingSource.choices, default=FundingSource.DOTS_BALANCE)
    # Entered when there are no line items; with items the total is their sum.
    amount_cents = MoneyField("amount", null=True, blank=True)
    total_cents = models.BigIntegerField(default=0, editable=False)
    file = models.FileField(upload_to="payables/%Y/%m/", blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True, editable=False, db_index=True)

    status = models.CharField(max_length=30, choices=Status.choices, default=Status.CREATED, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True, editable=False)
    # What Dots last said, verbatim: it may hold a status we do not know yet.
    dots_status = models.CharField(max_length=40, blank=True, editable=False)
    # Indexed: the transfer mirror finds a transfer's payable by it.
    dots_transfer_id = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    dots_file_uploaded = models.BooleanField(default=False, editable=False)
    approval_steps = models.JSONField(default=list, blank=True, editable=False)
    approval_policy = models.ForeignKey(
        "payables.ApprovalPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    approval_policy_reason = models.TextField(blank=True, editable=False)
    failure_reason = models.TextField(blank=True, editable=False)
    duplicate_override_reason = models.TextField(blank=True, editable=False)
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    pay_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    pay_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    pay_attempts = models.PositiveIntegerField(default=0, editable=False)
    # Why it was rejected or canceled, who did it and when: the payable shows it to everyone who
    # sees it (a clerk has no audit access). Empty after a move Dots made on its own (the page
    # then names who rejected it in Dots, from `approval_steps`).
    closed_reason = models.TextField("reason for rejecting or canceling", blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name="rejected or canceled by",
    )
    closed_at = models.DateTimeField("rejected or canceled at", null=True, blank=True, editable=False)
    # The rejected payable this draft was made from when an approver sent it back for changes.
    sent_back_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sent_back_as",
        editable=False,
        verbose_name="sent back from",
    )

    # Pay on the day (payables.scheduled): a Payer chose the date; the morning run pays it as them.
    pay_on = models.DateField("pay on", null=True, blank=True, editable=False)
    pay_scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name="payment scheduled by",
    )
    pay_scheduled_at = models.DateTimeField("payment scheduled at", null=True, blank=True, editable=False)
    # The run that took this scheduled payment (compare-and-set: one run pays it, once), and what came of it.
    pay_run_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    pay_run_outcome = models.CharField(
        "scheduled payment outcome", max_length=20, choices=ScheduledOutcome.choices, blank=True, editable=False
    )
    pay_run_reason = models.TextField("scheduled payment note", blank=True, editable=False)
    # When its waiting approval step was first escalated (payables.reminders); cleared when it moves on.
    escalated_at = models.DateTimeField("escalated", null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("submit_payable", "Can submit payables for approval"),
            ("approve_payable", "Can approve or reject payables"),
            ("pay_payable", "Can pay approved payables"),
            ("hold_payable", "Can put payables on hold and release them"),
        ]
        indexes = [
            models.Index(fields=["status", "-id"], name="payable_status_idx"),
            models.Index(fields=["vendor", "-id"], name="payable_vendor_idx"),
            models.Index(fields=["vendor", "bill_number_key"], name="payable_dup_number_idx"),
            models.Index(fields=["vendor", "total_cents", "created_at"], name="payable_dup_amount_idx"),
            models.Index(fields=["due_date", "-id"], name="payable_due_idx"),
            models.Index(fields=["pay_on"], name="payable_pay_on_idx"),
            # Bill-number prefix search (LIKE 'X%') needs a pattern opclass on PostgreSQL.
            models.Index(fields=["bill_number"], name="payable_number_prefix_idx", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return self.bill_number

    def save(self, *args, **kwargs):
        self.bill_number_key = normalise_bill_number(self.bill_number)
        super().save(*args, **kwargs)

    @property
    def total_display(self) -> str:
        return format_cents(self.total_cents)

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE


class LineItem(models.Model):
    payable = models.ForeignKey(Payable, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    unit_price_cents = MoneyField("unit price")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["payable", "id"]

    def __str__(self) -> str:
        return f"{self.name} × {self.quantity}"

    @property
    def amount_cents(self) -> int:
        return (self.unit_price_cents or 0) * (self.quantity or 0)


class PayableApproval(models.Model):
    """One person's decision on one approval step. One person counts once per step."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    payable = models.ForeignKey(Payable, on_delete=models.CASCADE, related_name="approvals")
    step = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)
    # What was approved (payables.controls.fingerprint): its parts, to say in words what changed
    # since, and their hash, compared before paying. Empty for decisions recorded before this existed.
    fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    fingerprint_parts = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["payable", "step", "decided_at"]
        constraints = [
            models.UniqueConstraint(fields=["payable", "step", "user"], name="one_decision_per_person_per_step"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.decision} step {self.step}"


class PayableReapproval(models.Model):
    """An approval given again here, after what was approved changed (payables.controls).

    Dots treats its approval as done, so approving again is ours: an approver of the same step
    approves the payable as it is now (`fingerprint`), and paying needs as many of them per step
    as the step had approvals. Segregation of duties applies as to the first approval.
    """

    payable = models.ForeignKey(Payable, on_delete=models.CASCADE, related_name="reapprovals")
    step = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    fingerprint = models.CharField(max_length=64)
    fingerprint_parts = models.JSONField(default=dict)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["payable", "step", "decided_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["payable", "step", "user", "fingerprint"], name="one_reapproval_per_person_per_step"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} approved step {self.step} again"


class PayableHold(models.Model):
    """A payable held: nobody approves or pays it until the hold is released (by hand or on `release_on`)."""

    payable = models.ForeignKey(Payable, on_delete=models.CASCADE, related_name="holds")
    reason = models.TextField()
    release_on = models.DateField("release on", null=True, blank=True)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["payable", "-placed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["payable"], condition=models.Q(released_at__isnull=True), name="one_active_hold_per_payable"
            ),
        ]
        indexes = [models.Index(fields=["release_on"], name="payablehold_release_idx")]

    def __str__(self) -> str:
        return f"hold on {self.payable}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class ControlOverride(models.Model):
    """One payable let through one control, once: asked for by an Administrator with a reason,
    confirmed by a second, different Administrator, used by the control it names (payables.controls)."""

    class Control(models.TextChoices):
        BANK_ACCOUNT_VERIFIED = "bank_account_verified", "Bank account verified by a second person"
        APPROVER_IS_NOT_PAYER = "approver_is_not_payer", "The approver does not pay"

    payable = models.ForeignKey(Payable, on_delete=models.PROTECT, related_name="overrides")
    control = models.CharField(max_length=40, choices=Control.choices)
    reason = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [("override_control", "Can request or confirm an emergency override of a control")]
        constraints = [
            # The second person is a second person: enforced here as well as in the service.
            models.CheckConstraint(
                condition=models.Q(confirmed_by__isnull=True) | ~models.Q(confirmed_by=models.F("requested_by")),
                name="override_confirmed_by_a_second_person",
            ),
        ]

    def __str__(self) -> str:
        return f"override of “{self.get_control_display()}” for {self.payable}"
