"""What reconciliation found and what sync learned about the app itself.

A `Discrepancy` is one disagreement between a local record and Dots (a status, an
amount, or a record one side has and the other lacks). It stays open while the
disagreement lasts; it closes when someone adopts Dots' state, or by itself when a
later run finds the two sides agree again. Rows are never deleted: the report is
also the history of what disagreed and who settled it.
"""

from django.conf import settings
from django.db import models


class Discrepancy(models.Model):
    class Kind(models.TextChoices):
        STATUS = "status", "Status differs"
        AMOUNT = "amount", "Amount differs"
        MISSING_IN_DOTS = "missing_in_dots", "Missing in Dots"
        MISSING_LOCALLY = "missing_locally", "Missing here"

    class Resolution(models.TextChoices):
        OPEN = "", "Open"
        ADOPTED = "adopted", "Dots' state adopted"
        AGREES_AGAIN = "agrees_again", "Agrees again (changed on either side)"

    # "payable", "payout_link", ...: the record type as reconciliation names it (see reconciliation.checks).
    record_type = models.CharField(max_length=30)
    local_id = models.BigIntegerField(null=True, blank=True, help_text="The local record's id, if there is one")
    dots_id = models.CharField("Dots id", max_length=64, blank=True)
    label = models.CharField(max_length=200, help_text="How the record reads, e.g. 'Payable INV-104'")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    local_value = models.CharField(max_length=200, blank=True)
    dots_value = models.CharField(max_length=200, blank=True)
    detail = models.TextField(blank=True, help_text="What adopting Dots' state would do")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        verbose_name = "disagreement with Dots"
        verbose_name_plural = "disagreements with Dots"
        permissions = [("adopt_discrepancy", "Can adopt Dots' state for a disagreement")]
        indexes = [models.Index(fields=["resolution", "record_type"], name="discrepancy_open_idx")]
        constraints = [
            # One open row per disagreement: a run that finds it again updates last_seen_at.
            models.UniqueConstraint(
                fields=["record_type", "local_id", "dots_id", "kind"],
                condition=models.Q(resolution=""),
                name="discrepancy_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.get_kind_display().lower()}"

    @property
    def is_open(self) -> bool:
        return self.resolution == self.Resolution.OPEN


class ReconciliationRun(models.Model):
    """One pass of the reconciler: when, what it checked, what it found and settled by itself."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=20, default="schedule")  # schedule | command | admin
    checked = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0, help_text="New disagreements")
    still_open = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0, help_text="Disagreements that went away")
    auto_resolved = models.PositiveIntegerField(default=0, help_text="Outcome-unknown records settled")
    errors = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "reconciliation run"

    def __str__(self) -> str:
        return f"Reconciliation {self.started_at:%Y-%m-%d %H:%M}"


class AppWallet(models.Model):
    """The app wallet's balance as Dots last reported it (kept by the scheduled sync)."""

    dots_app_id = models.CharField("Dots app id", max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    balance_cents = models.BigIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField()

    class Meta:
        verbose_name = "app wallet"

    def __str__(self) -> str:
        return self.name or self.dots_app_id
