"""The append-only audit trail and the few records the shared pieces need."""

from django.conf import settings
from django.db import models

from core.errors import AuditLogIsAppendOnly

GENESIS_HASH = "0" * 64


class AuditEventQuerySet(models.QuerySet):
    # Queryset-level writes bypass Model.save()/delete(), so they are refused here too.
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be updated.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

    _raw_delete = delete


class AuditEvent(models.Model):
    """One thing that happened, written in the same transaction as the change.

    Each event stores a SHA-256 over its own content and the previous event's hash,
    so `manage.py verify_audit_log` can name the first event that was altered or
    removed behind the application's back (PostgreSQL triggers refuse UPDATE and
    DELETE as well; see migration 0002).
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

    occurred_at = models.DateTimeField()
    # PROTECT: an actor's events outlive any attempt to delete the account.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Kept as written: the event still names who acted after a rename.
    actor_label = models.CharField(max_length=200)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ADMIN)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    # object_repr upper-cased, for an indexed prefix search ("inv-104" finds "INV-104 Acme").
    # Derived, so not part of the hash.
    search_key = models.CharField(max_length=200, blank=True, editable=False)
    # {"field": {"before": ..., "after": ...}}, secrets already masked.
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        # Newest first by time; the indexes below end in (occurred_at, id) so that a
        # filtered page 1 stops after 100 index entries instead of sorting them all.
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
        return f"#{self.pk} {self.action} {self.object_repr}".strip()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed once written.")
        self.search_key = self.object_repr.upper()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class AuditChainHead(models.Model):
    """The single row that says which event is the newest in the chain.

    Writers lock it (select_for_update) while they append, so two workers writing at
    once cannot both link to the same predecessor; it also lets the verifier notice
    that the newest events were deleted.
    """

    last_event_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = "audit chain head"


class DemoAccount(models.Model):
    """Marks a login created by `load_demo_data`.

    Demo logins work only while DEBUG is on, and only they may skip a required
    second factor, and only then (core.auth_backends, core.middleware).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="demo_account")

    def __str__(self) -> str:
        return f"demo login {self.user}"
