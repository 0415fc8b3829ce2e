"""The append-only audit trail and the few records the shared pieces need."""

from django.conf import settings
from django.db import models

from core.errors import AuditLogIsAppendOnly
from core.registry import action_kind_choices

GENESIS_HASH = "0" * 64


class AuditEventQuerySet(models.QuerySet):
    # Queryset-level writes bypass Model.save()/delete(), so they are refused here too.
    def update(self, **kwargs: object) -> int:
        raise AuditLogIsAppendOnly("Audit events cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

    def _raw_delete(self, using: str | None) -> int:
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """One thing that happened, written in the same transaction as the change.

    Each event stores a SHA-256 over its own content and the previous event's hash,
    so `manage.py verify_audit_log` can name the first event that was altered or
    removed behind the application's back (PostgreSQL triggers refuse UPDATE and
    DELETE as well; see core.db_guards, installed by the initial migration).
    """

    class Source(models.TextChoices):
        ADMIN = "admin", "Admin"
        TASK = "task", "Background task"
        WEBHOOK = "webhook", "Webhook"
        SYNC = "sync", "Sync"
        RECONCILE = "reconcile", "Reconciliation"
        COMMAND = "command", "Command"
        IMPORT = "import", "Import"
        SYSTEM = "system", "System"

    occurred_at = models.DateTimeField("when")
    # PROTECT: an actor's events outlive any attempt to delete the account.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="actor",
    )
    # Kept as written: the event still names who acted after a rename.
    actor_label = models.CharField("who", max_length=200)
    source = models.CharField("how", max_length=20, choices=Source.choices, default=Source.ADMIN)
    action = models.CharField("action code", max_length=80)
    object_type = models.CharField("object type code", max_length=100, blank=True)
    object_id = models.CharField("object ID", max_length=64, blank=True)
    object_repr = models.CharField("object", max_length=200, blank=True)
    # object_repr upper-cased, for an indexed prefix search ("inv-104" finds "INV-104 Acme").
    # Derived, so not part of the hash.
    search_key = models.CharField("search key", max_length=200, blank=True, editable=False)
    # {"field": {"before": ..., "after": ...}}, secrets already masked.
    changes = models.JSONField("what changed", default=dict, blank=True)
    reason = models.TextField("reason", blank=True)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    request_id = models.CharField("request ID", max_length=64, blank=True)
    prev_hash = models.CharField("previous event's hash", max_length=64)
    hash = models.CharField("hash (SHA-256)", max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        # Newest first by time; the indexes below end in (occurred_at, id) so that a
        # filtered page 1 stops after 100 index entries instead of sorting them all.
        verbose_name = "audit event"
        ordering = ["-occurred_at", "-id"]
        permissions = [("export_auditevent", "Can export audit events as CSV")]
        indexes = [
            models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_idx"),
            # "What did X do in March": a range scan of one actor's month, in page order.
            models.Index(fields=["actor", "occurred_at", "id"], name="audit_actor_time_idx"),
            models.Index(fields=["action", "occurred_at", "id"], name="audit_action_time_idx"),
            models.Index(fields=["occurred_at", "id"], name="audit_occurred_idx"),
            models.Index(fields=["object_id"], name="audit_object_id_idx"),
            # LIKE 'X%' can use a btree only with a pattern opclass under a non-C collation.
            models.Index(fields=["search_key"], name="audit_search_key_idx", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        from core.audit_actions import label_for  # the seam's words for the action, not its code

        return f"#{self.pk} {label_for(self.action)}: {self.object_repr}".strip().rstrip(":")

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed once written.")
        self.search_key = self.object_repr.upper()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class DotsRecord(models.Model):
    """A local record that is also sent to Dots: remembers the last call to Dots and why it failed.

    `last_dots_error` is "" after a call Dots answered well; the record's page shows it with
    its time so a person can see what went wrong and send again.
    """

    last_dots_error = models.TextField("last error from Dots", blank=True, editable=False)
    last_dots_attempt_at = models.DateTimeField("last try with Dots", null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class AuditChainHead(models.Model):
    """The single row that says which event is the newest in the chain.

    Writers lock it (select_for_update) while they append, so two workers writing at
    once cannot both link to the same predecessor; it also lets the verifier notice
    that the newest events were deleted.
    """

    last_event_id = models.BigIntegerField("newest event", null=True)
    last_hash = models.CharField("newest event's hash", max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = "audit chain head"

    def __str__(self) -> str:
        return f"audit chain head (event #{self.last_event_id})"


class DemoAccount(models.Model):
    """Marks a login created by `load_demo_data`.

    Demo logins work only while DEBUG is on, and only they may skip a required
    second factor, and only then (core.auth_backends, core.middleware).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="demo_account", verbose_name="user"
    )

    class Meta:
        verbose_name = "demo login"

    def __str__(self) -> str:
        return f"demo login {self.user}"


class DotsHealth(models.Model):
    """The single row (pk=1) that says whether Dots has been answering.

    `core.dots_health` writes it: every call Dots could not answer counts a failure;
    the first answer after failures clears it. Successful calls do not write here
    while all is well (a sync of a thousand pages must not add a thousand writes).
    """

    failing_since = models.DateTimeField("failing since", null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField("failures in a row", default=0)
    last_failure_at = models.DateTimeField("last failure", null=True, blank=True)
    last_failure_message = models.TextField("last failure's message", blank=True)
    last_success_at = models.DateTimeField("last answer", null=True, blank=True)
    # Set when the failures first counted as an outage (audited once), cleared when it ends.
    outage_started_at = models.DateTimeField("unreachable since", null=True, blank=True)

    class Meta:
        verbose_name = "Dots health"
        verbose_name_plural = "Dots health"

    def __str__(self) -> str:
        if self.failing_since is None:
            return "Dots answering"
        return f"Dots failing since {self.failing_since:%Y-%m-%d %H:%M} ({self.consecutive_failures} failures)"


class QueuedDotsAction(models.Model):
    """A user's action (or a background push) waiting to be sent to Dots.

    Queued while Dots is unreachable, or after a background push failed; run later by
    `core.tasks.run_queued_dots_actions` AS `actor` (permissions and segregation of
    duties are checked again then). `arguments` holds the service's other keyword
    arguments: never secrets or account numbers.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.WAITING, Status.RUNNING)

    # The kinds are declared by the apps (core.registry.action_kind in each app's seam.py).
    kind = models.CharField("action", max_length=40, choices=action_kind_choices)
    # The record acted on, as its model label and primary key (shown with a link).
    target_type = models.CharField("record type code", max_length=100)
    target_id = models.CharField("record ID", max_length=64)
    target_repr = models.CharField("record", max_length=200, blank=True)
    # PROTECT: who asked stays known for as long as the action does.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="asked by"
    )
    arguments = models.JSONField("details", default=dict, blank=True)
    # Two active actions with the same key are one action asked twice (see core.action_queue).
    dedupe_key = models.CharField("one-at-a-time key", max_length=200)
    status = models.CharField("status", max_length=20, choices=Status.choices, default=Status.WAITING)
    attempts = models.PositiveIntegerField("tries", default=0)
    next_attempt_at = models.DateTimeField("next try")
    first_attempt_at = models.DateTimeField("first try", null=True, blank=True)
    # Keyed calls stop retrying on their own at this time (Dots forgets keys after 24 h).
    give_up_at = models.DateTimeField("stops trying at", null=True, blank=True)
    claimed_at = models.DateTimeField("started at", null=True, blank=True)
    last_error = models.TextField("last error", blank=True)
    created_at = models.DateTimeField("queued at", auto_now_add=True)
    finished_at = models.DateTimeField("finished at", null=True, blank=True)

    class Meta:
        verbose_name = "queued Dots action"
        ordering = ["-id"]
        permissions = [("cancel_queueddotsaction", "Can cancel a waiting queued Dots action")]
        indexes = [
            # The drain: due waiting actions, oldest first.
            models.Index(fields=["status", "next_attempt_at", "id"], name="queued_action_due_idx"),
            models.Index(fields=["target_type", "target_id"], name="queued_action_target_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=models.Q(status__in=["waiting", "running"]),
                name="queued_action_one_active_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}: {self.target_repr}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class SyncFollowed(models.Model):
    """A record the sync re-reads from Dots while it may still change, less often the longer it stays still.

    `sync_due_at` is when the scheduled sync reads it next (NULL: at once); indexed so the due
    ones are found by a range on one column at any table size (core.sync_runner).
    """

    sync_checked_at = models.DateTimeField("last read by the sync", null=True, blank=True, editable=False)
    sync_due_at = models.DateTimeField("next read by the sync", null=True, blank=True, editable=False, db_index=True)

    class Meta:
        abstract = True


class SyncProgress(models.Model):
    """Where one step of the sync with Dots stands: its cursor, its lease and what its last run did.

    One row per step (core.sync_runner). The cursor is the last record read in the pass under
    way (a pk, or Dots' `starting_after` for a listing); a run killed mid-pass resumes after it.
    The lease says one run holds the step until `lease_until`: a second run finds it held and
    leaves the step to the first (leases are shorter than django-q2's task timeout, so a killed
    run's lease has lapsed before its task could be presented again).
    """

    step = models.CharField(max_length=100, unique=True)
    cursor = models.CharField("resume after", max_length=200, blank=True)
    pass_full = models.BooleanField("pass reads every record", default=False)
    pass_started_at = models.DateTimeField("pass started", null=True, blank=True)
    last_pass_finished_at = models.DateTimeField("last pass finished", null=True, blank=True)
    last_full_pass_at = models.DateTimeField("last full pass finished", null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    last_run_started_at = models.DateTimeField("last run started", null=True, blank=True)
    last_run_finished_at = models.DateTimeField("last run finished", null=True, blank=True)
    last_due = models.IntegerField("due", null=True, blank=True)
    last_read = models.IntegerField("read", null=True, blank=True)
    last_left = models.IntegerField("left for the next run", null=True, blank=True)
    last_duration_ms = models.IntegerField("last run took (ms)", null=True, blank=True)
    last_summary = models.TextField("last run", blank=True)

    class Meta:
        verbose_name = "sync step progress"
        verbose_name_plural = "sync steps' progress"

    def __str__(self) -> str:
        return self.step


class Holiday(models.Model):
    """A day the office is closed: business days (core.business_days) skip it, as they skip weekends."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        # "Holidays" alone could be anyone's: these are the days the company does not count as business days.
        verbose_name = "company holiday"

    def __str__(self) -> str:
        return f"{self.name} ({self.date:%d %b %Y})"
