"""Admin for the audit history, and audited admins for users and roles."""

import csv
import datetime as dt
import json

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from core import admin_security, admin_tasks, audit, registry  # noqa: F401  (admin_security: authenticators, lockouts; admin_tasks: django-q2 pages made safe)
from core.admin_base import ViewOnlyAdmin
from core.audit_actions import all_actions, label_for
from core.csv_safe import EchoBuffer, neutralise
from core.models import AuditEvent, QueuedDotsAction

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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- The managers' audit history -----------------------------------------------


class ActorFilter(admin.SimpleListFilter):
    title = "actor"
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        # From the user table, not from the events: DISTINCT over a million events
        # would cost more than the page itself.
        users = User.objects.filter(Q(is_staff=True) | Q(username=audit.SYSTEM_USERNAME)).order_by("username")
        return [(str(u.pk), audit.actor_label_for(u)) for u in users]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(actor_id=self.value())
        return queryset


class ActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return sorted(all_actions().items(), key=lambda item: item[0])

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


class ObjectTypeFilter(admin.SimpleListFilter):
    title = "object type"
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        return sorted(
            (model._meta.label_lower, str(model._meta.verbose_name).capitalize())
            for model in apps.get_models()
            if model._meta.app_label in ("auth", *registry.declared_apps()) and model is not AuditEvent
        )

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(object_type=self.value())
        return queryset


class DateRangeFilter(admin.ListFilter):
    """From/to dates (inclusive) on when the event happened."""

    title = "date range"
    template = "admin/core/date_range_filter.html"
    parameter_from = "occurred_from"
    parameter_to = "occurred_to"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {}
        self.errors = []
        for name in (self.parameter_from, self.parameter_to):
            raw = params.pop(name, [""])
            raw = raw[-1] if isinstance(raw, list) else raw
            if raw:
                try:
                    self.values[name] = dt.date.fromisoformat(raw)
                except ValueError:
                    self.errors.append(f"“{raw}” is not a date (use YYYY-MM-DD).")
            self.used_parameters[name] = raw

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.parameter_from, self.parameter_to]

    def choices(self, changelist):
        # The template renders a small form; it keeps the other filters as hidden fields.
        other = [
            (key, value)
            for key, values in changelist.params.items()
            if key not in self.expected_parameters() and key != "p"
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "from": self.used_parameters.get(self.parameter_from, ""),
            "to": self.used_parameters.get(self.parameter_to, ""),
            "errors": self.errors,
            "hidden": other,
            "clear_url": changelist.get_query_string(remove=self.expected_parameters()),
        }

    def queryset(self, request, queryset):
        tz = timezone.get_current_timezone()
        start = self.values.get(self.parameter_from)
        end = self.values.get(self.parameter_to)
        if start:
            queryset = queryset.filter(occurred_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=tz))
        if end:
            queryset = queryset.filter(
                occurred_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            )
        return queryset


def object_admin_url(event: AuditEvent) -> str | None:
    if not event.object_type or not event.object_id or "." not in event.object_type:
        return None
    app_label, model_name = event.object_type.split(".", 1)
    try:
        return reverse(f"admin:{app_label}_{model_name}_change", args=[event.object_id])
    except NoReverseMatch:
        return None


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdmin):
    """Read-only, newest first, filterable, searchable and exportable."""

    list_display = (
        "id",
        "occurred_at",
        "actor_name",
        "action_label",
        "object_link",
        "change_summary",
        "reason_short",
        "ip_address",
    )
    list_display_links = ("id",)
    list_filter = (ActorFilter, ActionFilter, ObjectTypeFilter, DateRangeFilter)
    search_fields = ("search_key",)  # see get_search_results: exact id or name prefix, never a substring scan
    search_help_text = "An object's exact id, or the start of its name (for example INV-104)."
    list_per_page = 100
    ordering = ("-occurred_at", "-id")
    readonly_fields = (
        "id",
        "occurred_at",
        "actor",
        "actor_label",
        "source",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
        "reason",
        "ip_address",
        "request_id",
        "prev_hash",
        "hash",
    )
    fields = readonly_fields
    change_list_template = "admin/core/auditevent/change_list.html"

    def get_actions(self, request):
        return {}

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(search_key__startswith=term.upper())
        if term.isdigit() or len(term) in (32, 36):
            condition |= Q(object_id=term)
        return queryset.filter(condition), False

    @admin.display(description="actor")
    def actor_name(self, event):
        return event.actor_label

    @admin.display(description="action", ordering="action")
    def action_label(self, event):
        return label_for(event.action)

    @admin.display(description="object")
    def object_link(self, event):
        label = event.object_repr or event.object_type
        url = object_admin_url(event)
        if url:
            return format_html('<a href="{}">{}</a> <span class="quiet">{}</span>', url, label, event.object_type)
        return format_html('{} <span class="quiet">{}</span>', label, event.object_type)

    @admin.display(description="what changed")
    def change_summary(self, event):
        parts = []
        for field, change in list((event.changes or {}).items())[:4]:
            if isinstance(change, dict) and set(change) <= {"before", "after"}:
                parts.append(f"{field}: {change.get('before')!s} → {change.get('after')!s}")
            else:
                parts.append(f"{field}: {change!s}")
        more = len(event.changes or {}) - 4
        if more > 0:
            parts.append(f"and {more} more")
        return "; ".join(parts)

    @admin.display(description="reason")
    def reason_short(self, event):
        return event.reason if len(event.reason) <= 80 else event.reason[:77] + "…"

    # --- CSV export of what the list currently shows -------------------------

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="core_auditevent_export"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_export": request.user.has_perm("core.export_auditevent"),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def export_view(self, request):
        if not request.user.has_perm("core.export_auditevent"):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request).order_by("-occurred_at", "-id")
        audit.record(
            actor=request.user,
            action="audit.exported",
            object_type="core.auditevent",
            object_repr="audit history",
            changes={"filters": {"before": None, "after": request.GET.urlencode() or "(none)"}},
        )
        filename = f"audit-history-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response = StreamingHttpResponse(self._csv_rows(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @staticmethod
    def _csv_rows(queryset):
        writer = csv.writer(EchoBuffer())
        yield writer.writerow(
            [
                "id",
                "occurred_at",
                "actor",
                "source",
                "action",
                "object_type",
                "object_id",
                "object",
                "changes",
                "reason",
                "ip_address",
                "request_id",
                "hash",
            ]
        )
        for event in queryset.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    neutralise(value)
                    for value in (
                        event.pk,
                        event.occurred_at.isoformat(),
                        event.actor_label,
                        event.source,
                        event.action,
                        event.object_type,
                        event.object_id,
                        event.object_repr,
                        json.dumps(event.changes, ensure_ascii=False, sort_keys=True),
                        event.reason,
                        event.ip_address or "",
                        event.request_id,
                        event.hash,
                    )
                ]
            )


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
        "arguments",
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
