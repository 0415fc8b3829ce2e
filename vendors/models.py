"""Vendors we pay, and their bank accounts (Dots "vendor payment methods").

A vendor and a bank account exist in Dots as well as here; `dots_id` is Dots' id
once Dots has them. Dots has no vendor update: only local fields change after
creation. A bank account's full number goes to Dots once and is never stored here.
"""

from django.conf import settings
from django.db import models

from core.models import DotsRecord
from dots.addresses import US_STATES


class Vendor(DotsRecord):
    class DotsStatus(models.TextChoices):
        # Local states of our attempt to create the vendor in Dots.
        PENDING = "pending", "Not yet sent to Dots"
        SENDING = "sending", "Being sent to Dots"
        CREATED = "created", "In Dots"
        FAILED = "failed", "Not in Dots: the last attempt failed"
        # The call may have created it: look for it in Dots before creating again.
        UNKNOWN = "unknown", "Outcome unknown: check Dots before sending again"

    # Fields Dots keeps from creation on: Dots has no vendor update, so once the vendor
    # is in Dots these stay as they were sent (see services.vendor_update).
    DOTS_FIELDS = (
        "name",
        "contact_email",
        "external_id",
        "address_line_1",
        "address_line_2",
        "city",
        "state",
        "postcode",
    )

    name = models.CharField(max_length=200)
    # Local only: Dots' create takes no description and Dots has no vendor update.
    description = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="Your own reference for this vendor.")
    address_line_1 = models.CharField("address line 1", max_length=200)
    address_line_2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, choices=[(s, s) for s in sorted(US_STATES)])
    postcode = models.CharField(max_length=10)
    country = models.CharField(max_length=2, default="US", editable=False)
    # Local only: a vendor we stopped using stays for history but is offered no more.
    active = models.BooleanField(default=True)

    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True, editable=False)
    dots_status = models.CharField(
        "status in Dots", max_length=10, choices=DotsStatus.choices, default=DotsStatus.PENDING, editable=False
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "vendor"
        verbose_name_plural = "vendors"
        indexes = [
            models.Index(fields=["name"], name="vendor_name_idx"),
            # Searched by exact match (admin search), never by substring.
            models.Index(fields=["external_id"], name="vendor_external_id_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class VendorBankAccount(DotsRecord):
    """A vendor's ACH account. Unverified until a second person records how it was confirmed."""

    class AccountType(models.TextChoices):
        CHECKING = "checking", "Checking"
        SAVINGS = "savings", "Savings"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="bank_accounts")
    name = models.CharField(max_length=200)  # the add form gives an example
    routing_number = models.CharField(max_length=9)
    # Never the full number: it goes to Dots once, at creation, and is not kept.
    account_last4 = models.CharField("account number (last four)", max_length=4)
    account_type = models.CharField(max_length=10, choices=AccountType.choices)

    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verification_note = models.TextField("how it was confirmed", blank=True, editable=False)

    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set instead of deleting when payables still point at the account: kept for their
    # history, offered for no new payable.
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )

    class Meta:
        ordering = ["vendor__name", "name", "id"]
        verbose_name = "bank account"
        verbose_name_plural = "bank accounts"
        permissions = [("verify_vendorbankaccount", "Can verify vendor bank account")]
        constraints = [
            # The full account number must never be stored: only four digits fit here.
            models.CheckConstraint(
                condition=models.Q(account_last4__regex=r"^[0-9]{4}$"), name="vendorbankaccount_last4_is_four_digits"
            ),
            models.CheckConstraint(
                condition=models.Q(routing_number__regex=r"^[0-9]{9}$"), name="vendorbankaccount_routing_is_nine_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ••••{self.account_last4}"

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    @property
    def masked_number(self) -> str:
        return f"••••{self.account_last4}"
