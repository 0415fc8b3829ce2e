"""Money in: payment customers, their payment methods, payment intents, checkout sessions and ACH payments.

Status values are Dots' strings where Dots has them; the local-only ones (pending, unknown,
refused) say so. Dots takes no idempotency key for any of these creates, so each record keeps
its own key, stored before the call and sent in the object's metadata (`ledgerline_key`): after
a lost answer the record is "outcome unknown" and is found in Dots by that key before anything
is sent again (core.send_once).
"""

import uuid

from django.conf import settings
from django.db import models

from core.models import DotsRecord
from core.transitions import TransitionTable

KEY = "ledgerline_key"  # the metadata key our idempotency key travels under


class PaymentCustomer(DotsRecord):
    """Someone who pays the app. Linked to a payee when both are the same Dots user (read-only link)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent to Dots"  # local only
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"  # local only
        REFUSED = "refused", "Refused by Dots"  # local only
        CREATED = "created", "In Dots"

    TRANSITIONS = TransitionTable.build(
        Status,
        ours={Status.PENDING: {Status.UNKNOWN, Status.REFUSED}, Status.UNKNOWN: {Status.REFUSED}},
        dots={Status.PENDING: {Status.CREATED}, Status.UNKNOWN: {Status.CREATED}, Status.REFUSED: {Status.CREATED}},
    )

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    business_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone_e164 = models.CharField("phone", max_length=20, blank=True)
    address_line_1 = models.CharField("address", max_length=200, blank=True)
    address_line_2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postcode = models.CharField("ZIP code", max_length=10, blank=True)
    country = models.CharField(max_length=2, default="US")
    # The same Dots user as this payee (Dots' `user_id`); never edited here, only read.
    payee = models.ForeignKey(
        "payouts.Payee", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    dots_user_id = models.CharField("Dots user id", max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request_body = models.JSONField("request sent to Dots", default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payment customer"
        verbose_name_plural = "payment customers"

    def __str__(self) -> str:
        name = " ".join(filter(None, (self.first_name, self.last_name)))
        if self.business_name:
            return f"{self.business_name} ({name})" if name else self.business_name
        return name or f"Customer #{self.pk}"


class PaymentMethod(models.Model):
    """A payer's bank account as Dots holds it (collected by Dots' own forms): only its last four here."""

    dots_id = models.CharField("Dots id", max_length=64, unique=True)
    customer = models.ForeignKey(
        PaymentCustomer, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_methods"
    )
    platform = models.CharField(max_length=20, blank=True)
    mask = models.CharField("account ending", max_length=8, blank=True)
    attached = models.BooleanField("attached to the customer", default=False)
    refreshed_at = models.DateTimeField("last read from Dots", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payment method"
        verbose_name_plural = "payment methods"

    def __str__(self) -> str:
        kind = "Bank account" if self.platform == "ach" else (self.platform or "Payment method").capitalize()
        return f"{kind} ending {self.mask}" if self.mask else kind


class PaymentIntent(DotsRecord):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent to Dots"  # local only
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"  # local only
        REFUSED = "refused", "Refused by Dots"  # local only
        REQUIRES_PAYMENT_METHOD = "requires_payment_method", "Waiting for a payment method"
        REQUIRES_CONFIRMATION = "requires_confirmation", "Waiting for confirmation"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    _WAITING = ("requires_payment_method", "requires_confirmation")
    TRANSITIONS = TransitionTable.build(
        Status,
        ours={
            Status.PENDING: {Status.UNKNOWN, Status.REFUSED},
            Status.UNKNOWN: {Status.REFUSED},
        },
        dots={
            Status.PENDING: {*_WAITING, Status.SUCCEEDED, Status.FAILED, Status.CANCELED},
            Status.UNKNOWN: {*_WAITING, Status.SUCCEEDED, Status.FAILED, Status.CANCELED},
            Status.REFUSED: {*_WAITING, Status.SUCCEEDED, Status.FAILED, Status.CANCELED},
            Status.REQUIRES_PAYMENT_METHOD: {
                Status.REQUIRES_CONFIRMATION,
                Status.SUCCEEDED,
                Status.FAILED,
                Status.CANCELED,
            },
            Status.REQUIRES_CONFIRMATION: {Status.SUCCEEDED, Status.FAILED, Status.CANCELED},
            # The payment behind a succeeded intent can still fail (its transfer fails).
            Status.SUCCEEDED: {Status.FAILED},
        },
    )
    OPEN = (Status.REQUIRES_PAYMENT_METHOD, Status.REQUIRES_CONFIRMATION, Status.SUCCEEDED)

    customer = models.ForeignKey(
        PaymentCustomer, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_intents"
    )
    amount_cents = models.BigIntegerField("amount")
    description = models.CharField(max_length=500, blank=True)
    # Labels a person gave (name: value); our key travels beside them in Dots' metadata.
    labels = models.JSONField(default=dict, blank=True)
    payment_method = models.ForeignKey(
        PaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_intents"
    )
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.PENDING)
    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True)
    dots_transfer_id = models.CharField("Dots transfer id", max_length=64, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Never the client secret: Dots answers it once, it is shown once and kept nowhere.
    request_body = models.JSONField("request sent to Dots", default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payment intent"
        verbose_name_plural = "payment intents"
        permissions = [("confirm_paymentintent", "Can confirm a payment intent with a payment method")]

    def __str__(self) -> str:
        return f"Payment intent #{self.pk}"


class CheckoutSession(DotsRecord):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent to Dots"  # local only
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"  # local only
        REFUSED = "refused", "Refused by Dots"  # local only
        OPEN = "open", "Open: waiting for the customer to pay"
        COMPLETE = "complete", "Paid"
        EXPIRED = "expired", "Expired"

    TRANSITIONS = TransitionTable.build(
        Status,
        ours={Status.PENDING: {Status.UNKNOWN, Status.REFUSED}, Status.UNKNOWN: {Status.REFUSED}},
        dots={
            Status.PENDING: {Status.OPEN, Status.COMPLETE, Status.EXPIRED},
            Status.UNKNOWN: {Status.OPEN, Status.COMPLETE, Status.EXPIRED},
            Status.REFUSED: {Status.OPEN, Status.COMPLETE, Status.EXPIRED},
            Status.OPEN: {Status.COMPLETE, Status.EXPIRED},
        },
    )

    customer = models.ForeignKey(
        PaymentCustomer, null=True, blank=True, on_delete=models.PROTECT, related_name="checkout_sessions"
    )
    # [{"name": "Consulting", "unit_amount_cents": 2500, "quantity": 2}, ...]
    line_items = models.JSONField(default=list)
    amount_total_cents = models.BigIntegerField("total")
    success_url = models.URLField("page after paying", max_length=500)
    cancel_url = models.URLField("page after canceling", max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    url = models.URLField("payment page", max_length=500, blank=True)
    expires_at = models.DateTimeField("expires", null=True, blank=True)
    payment_intent = models.ForeignKey(
        PaymentIntent, null=True, blank=True, on_delete=models.SET_NULL, related_name="checkout_sessions"
    )
    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request_body = models.JSONField("request sent to Dots", default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "checkout session"
        verbose_name_plural = "checkout sessions"

    def __str__(self) -> str:
        return f"Checkout session #{self.pk}"


class Payment(DotsRecord):
    """An ACH payment collected from a customer: a Dots `payment` transfer, followed to its end."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent to Dots"  # local only
        UNKNOWN = "unknown", "Sent to Dots, no answer yet"  # local only
        REFUSED = "refused", "Refused by Dots"  # local only
        # Dots' transfer statuses.
        CREATED = "created", "Created in Dots"
        TRANSFER_PENDING = "pending_transfer", "On its way"  # Dots' "pending", renamed: ours is taken
        FLAGGED = "flagged", "Held for review by Dots"
        COMPLETED = "completed", "Received"
        FAILED = "failed", "Failed"
        REVERSED = "reversed", "Reversed"
        CANCELED = "canceled", "Canceled"

    _MOVING = ("created", "pending_transfer", "flagged")
    _ENDS = ("completed", "failed", "reversed", "canceled")
    TRANSITIONS = TransitionTable.build(
        Status,
        ours={Status.PENDING: {Status.UNKNOWN, Status.REFUSED}, Status.UNKNOWN: {Status.REFUSED}},
        dots={
            Status.PENDING: {*_MOVING, *_ENDS},
            Status.UNKNOWN: {*_MOVING, *_ENDS},
            Status.CREATED: {"pending_transfer", "flagged", *_ENDS},
            Status.TRANSFER_PENDING: {"flagged", *_ENDS},
            Status.FLAGGED: {"pending_transfer", *_ENDS},
            Status.COMPLETED: {Status.REVERSED},
        },
    )
    OPEN = (Status.CREATED, Status.TRANSFER_PENDING, Status.FLAGGED)
    _LOCAL = (Status.PENDING, Status.UNKNOWN, Status.REFUSED)

    customer = models.ForeignKey(PaymentCustomer, on_delete=models.PROTECT, related_name="payments")
    amount_cents = models.BigIntegerField("amount")
    # A stored account (a payment method attached to the customer), or one typed once: then only
    # its last four digits are kept, and the full number went to Dots and nowhere else.
    payment_method = models.ForeignKey(
        PaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    account_last4 = models.CharField("account ending", max_length=4, blank=True)
    memo = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.CharField(max_length=500, blank=True)
    dots_transfer_id = models.CharField("Dots transfer id", max_length=64, unique=True, null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "payment"
        verbose_name_plural = "payments"

    def __str__(self) -> str:
        return f"Payment #{self.pk}"

    @classmethod
    def status_from_dots(cls, status: str | None) -> str | None:
        return "pending_transfer" if status == "pending" else status
