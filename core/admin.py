"""Audited admins for users and roles, and the queued Dots actions (the audit history: core.admin_audit)."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from core import admin_audit, admin_security, admin_tasks, audit  # noqa: F401  (admin_audit: the audit history; admin_security: authenticators, lockouts; admin_tasks: django-q2 pages made safe)
from core.admin_base import ViewOnlyAdmin
from core.audit_display import value_text
from core.models import Holiday, QueuedDotsAction

User = get_user_model()


# --- Audited admins for plain records (no service layer behind them) -----------


class AuditedModelAdmin(admin.ModelAdmin):
    """Writes an audit event, with the changed fields, for every add, change and delete.

    For records that have no service functions (users, roles). Business records go
    through their app's services.py, which audit themselves.
    """

    audit_action_prefix = "record"
    audit_fields: tuple[str, ...] | None = None  # None: every form field

    def _snapshot(self, obj, fields) -> dict:
        snapshot = {}
        for name in fields:
            value = getattr(obj, name, None)
            if value is not None and hasattr(value, "all"):  # many-to-many manager
                value = sorted(str(v) for v in value.all()) if obj.pk else []
            snapshot[name] = value
        return snapshot

    def _fields_for(self, form) -> list[str]:
        fields = list(self.audit_fields or form.base_fields)
        return [f for f in fields if f not in ("password", "password1", "password2")]

    def save_model(self, request, obj, form, change):
        fields = self._fields_for(form)
        self._audit_before = self._snapshot(obj.__class__.objects.get(pk=obj.pk), fields) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        after = self._snapshot(obj, self._fields_for(form))
        before = getattr(self, "_audit_before", {})
        changes = audit.diff(before, after)
        if "password" in form.changed_data or "password1" in form.changed_data:
            changes["password"] = {"before": "••••", "after": "changed"}
        if change and not changes:
            return
        action = f"{self.audit_action_prefix}.{'updated' if change else 'created'}"
        audit.record(actor=request.user, action=action, target=obj, changes=changes)

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit.record(actor=request.user, action=f"{self.audit_action_prefix}.deleted", target=obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audit.record(actor=request.user, action=f"{self.audit_action_prefix}.deleted", target=obj)
            super().delete_queryset(request, queryset)


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class LedgerlineUserAdmin(AuditedModelAdmin, UserAdmin):
    audit_action_prefix = "user"
    audit_fields = (
        "username",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "user_permissions",
    )
    list_filter = ("is_staff", "is_active", "groups")

    # What raises a person's own power: nobody changes these on their own account, and only a
    # superuser makes a superuser or grants single permissions (roles are the way to grant).
    SELF_LOCKED = ("groups", "user_permissions", "is_superuser", "is_staff", "is_active")
    SUPERUSER_ONLY = ("is_superuser", "user_permissions")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            readonly += self.SUPERUSER_ONLY
        if obj is not None and obj.pk == request.user.pk:
            readonly += self.SELF_LOCKED
        return list(dict.fromkeys(readonly))

    def has_change_permission(self, request, obj=None):
        # A superuser's account is a superuser's business.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (obj.pk == request.user.pk or (obj.is_superuser and not request.user.is_superuser)):
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Group)
class LedgerlineGroupAdmin(AuditedModelAdmin, GroupAdmin):
    """The roles. What each may do comes from the apps' seams (synced after every migrate), so
    here they are read: a role is given to a person on the person's page, never widened here."""

    audit_action_prefix = "group"
    audit_fields = ("name", "permissions")
    ordering = ("name",)  # also the order roles are offered in on a person's page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Actions queued while Dots is unreachable (core.action_queue) -------------------------------------


class CancelQueuedActionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=500, help_text="Why it must not be sent (audited)."
    )


@admin.register(QueuedDotsAction)
class QueuedDotsActionAdmin(ViewOnlyAdmin):
    """Read-only list of what waits for Dots; Administrators may cancel a waiting action."""

    list_display = (
        "id",
        "kind",
        "target_link",
        "actor",
        "status",
        "created_at",
        "attempts",
        "next_attempt_at",
        "short_error",
    )
    list_filter = ("status", "kind")
    list_select_related = ("actor",)
    ordering = ("-id",)
    list_per_page = 100
    actions = ["cancel_selected"]
    fields = (
        "kind",
        "target_link",
        "actor",
        "status",
        "details",
        "attempts",
        "created_at",
        "first_attempt_at",
        "next_attempt_at",
        "give_up_at",
        "claimed_at",
        "finished_at",
        "last_error",
    )
    readonly_fields = fields

    @admin.display(description="record")
    def target_link(self, action):
        app_label, _, model_name = action.target_type.partition(".")
        try:
            url = reverse(f"admin:{app_label}_{model_name}_change", args=[action.target_id])
        except NoReverseMatch:
            return action.target_repr
        return format_html('<a href="{}">{}</a>', url, action.target_repr)

    @admin.display(description="details")
    def details(self, action):
        # The service's other arguments ({"reason": ...}), in words: never shown as JSON.
        return value_text(action.arguments) if action.arguments else "Nothing else"

    @admin.display(description="last error")
    def short_error(self, action):
        return action.last_error[:120] + ("…" if len(action.last_error) > 120 else "")

    def has_cancel_permission(self, request):
        return request.user.has_perm("core.cancel_queueddotsaction")

    @admin.action(description="Cancel selected waiting actions…", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        from core import action_queue
        from core.admin_actions import message_outcomes, run_row

        chosen = list(queryset.order_by("id"))
        form = CancelQueuedActionForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid():
            outcomes = [
                run_row(
                    str(a), action_queue.cancel, action_id=a.pk, actor=request.user, reason=form.cleaned_data["reason"]
                )
                for a in chosen
            ]
            message_outcomes(self, request, outcomes, verb="cancelled")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel queued Dots actions",
            "opts": self.model._meta,
            "actions_chosen": chosen,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/core/queueddotsaction/cancel.html", context)


@admin.register(Holiday)
class HolidayAdmin(AuditedModelAdmin):
    """The office's holidays: reminders and escalations count business days without them (core.business_days)."""

    list_display = ("date", "name")
    date_hierarchy = "date"
    search_fields = ("name",)
