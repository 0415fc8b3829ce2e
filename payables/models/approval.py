"""Who approves payables: Dots dashboard users, and the policies that pick them.

Dots can only change a policy's priority. An edit therefore creates a new version
in Dots and deletes the old one there; here every version is kept (retired ones
with `retired_at`), so the history of who changed what stays readable.
"""

import uuid

from django.conf import settings
from django.db import models

from core.models import DotsRecord
from core.money import MoneyField


class Approver(models.Model):
    """A Dots dashboard user (integer id), linked to a local user by email."""

    dots_user_id = models.IntegerField("Dots user id", unique=True)
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    dots_role = models.CharField(max_length=40, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="dots_approver"
    )
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name", "dots_user_id"]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip() or self.email or f"user {self.dots_user_id}"
        return f"{name} (#{self.dots_user_id})"


class ApprovalPolicy(DotsRecord):
    """One version of an approval policy. `lineage` groups the versions of one policy."""

    class AmountComparator(models.TextChoices):
        AT_MOST = "<=", "at most"
        EXACTLY = "==", "exactly"
        AT_LEAST = ">=", "at least"

    lineage = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    description = models.CharField(max_length=200)
    priority = models.PositiveIntegerField(default=1, help_text="Lower numbers are tried first.")
    amount_comparator = models.CharField(max_length=2, choices=AmountComparator.choices, blank=True)
    amount_cents = MoneyField("amount", null=True, blank=True)
    vendors = models.ManyToManyField(
        "vendors.Vendor",
        blank=True,
        related_name="+",
        help_text="The policy applies when the vendor is one of these (any if empty).",
    )

    # last_dots_error / last_dots_attempt_at (DotsRecord): the outcome of the last push of this
    # version as a whole; each Dots policy of it keeps its own on its ApprovalPolicyDotsCopy row.

    # Told when a payable under this policy waits too long (payables.reminders); the Managers when empty.
    escalation_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Told when a payable under this policy waits for approval too long (the Managers if empty).",
    )
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["retired_at", "priority", "id"]
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"{self.description} (v{self.version})"

    @property
    def is_current(self) -> bool:
        return self.retired_at is None

    @property
    def dots_id(self) -> str | None:
        """The Dots id of a version kept in Dots as one policy (one vendor or none); None while it
        is not there yet, and for a version with one copy per vendor (see its `dots_copies`)."""
        copies = list(self.dots_copies.all())
        return copies[0].dots_id if len(copies) == 1 else None


class ApprovalPolicyDotsCopy(DotsRecord):
    """One Dots policy of a version. Dots applies a policy only when all its conditions hold, so
    "vendor is A or B" is one Dots policy per vendor, each with the version's amount condition
    and steps. Every version has its rows: one per vendor, or one (vendor None) for a version
    that names no vendor. `deleted_in_dots_at`: the retired version's copy is gone from Dots."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="dots_copies")
    vendor = models.ForeignKey("vendors.Vendor", null=True, on_delete=models.PROTECT, related_name="+")
    dots_id = models.CharField("Dots id", max_length=64, unique=True, null=True, blank=True)
    deleted_in_dots_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "vendor__name", "id"]
        constraints = [models.UniqueConstraint(fields=["policy", "vendor"], name="one_dots_copy_per_vendor")]

    def __str__(self) -> str:
        return f"{self.policy} for {self.vendor.name if self.vendor_id else 'any vendor'}"


class ApprovalStep(models.Model):
    """One step of a policy: `num_approvals_required` distinct people from `approvers`."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(default=1)
    num_approvals_required = models.PositiveIntegerField("approvals needed", default=1)
    approvers = models.ManyToManyField(Approver, related_name="+")

    class Meta:
        ordering = ["policy", "order", "id"]

    def __str__(self) -> str:
        return f"step {self.order}: {self.num_approvals_required} of {self.approvers.count()}"
