"""The managers' audit history: filters, search, an object's own timeline, CSV export."""

import csv
import datetime as dt
import json

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from core import audit, registry
from core.admin_base import ViewOnlyAdmin
from core.audit_actions import EXTRA_OBJECT_TYPES, label_for
from core.audit_display import change_lines, object_type_label
from core.csv_safe import EchoBuffer, neutralise
from core.exports import ExportColumn, ExportMixin
from core.models import AuditEvent

User = get_user_model()


def _other_params(changelist, own: list[str]) -> list[tuple[str, str]]:
    """The list's other filters and search, kept as hidden fields of a filter's own small form."""
    return [
        (key, value)
        for key, values in changelist.params.items()
        if key not in own and key != "p"
        for value in (values if isinstance(values, list) else [values])
    ]


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
    """About 110 actions: one select, grouped by area (the apps declare them through the seam)."""

    title = "action"
    parameter_name = "action"
    template = "admin/core/auditevent/grouped_select_filter.html"

    def lookups(self, request, model_admin):
        return [
            (action, label) for actions in registry.audit_action_areas().values() for action, label in actions.items()
        ]

    def choices(self, changelist):
        current = self.value() or ""
        yield {
            "name": self.parameter_name,
            "empty_label": "Every action",
            "groups": [
                (area, [(action, label, action == current) for action, label in actions.items()])
                for area, actions in registry.audit_action_areas().items()
            ],
            "hidden": _other_params(changelist, [self.parameter_name]),
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]) if current else "",
        }

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


def object_types() -> list[tuple[str, str]]:
    """The kinds of record a person looks up: those with admin pages, and the few non-model
    kinds core writes. Internals (the audit chain head, demo logins, Dots health, line items,
    permissions) have no admin page and are not offered."""
    types = {
        model._meta.label_lower: capfirst(str(model._meta.verbose_name))
        for model in admin.site._registry
        if model._meta.app_label in ("auth", *registry.declared_apps()) and model is not AuditEvent
    }
    types.update(EXTRA_OBJECT_TYPES)
    return sorted(types.items(), key=lambda item: item[1].lower())


class ObjectTypeFilter(admin.SimpleListFilter):
    title = "object type"
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        return object_types()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(object_type=self.value())
        return queryset


class ObjectIdFilter(admin.ListFilter):
    """One object's events (the "Audit timeline" link of every change page): its exact id."""

    title = "object"
    parameter_name = "object_id"
    template = "admin/core/auditevent/object_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        raw = params.pop(self.parameter_name, [""])
        self.value = (raw[-1] if isinstance(raw, list) else raw).strip()
        if self.value:
            self.used_parameters[self.parameter_name] = self.value

    def has_output(self):
        return bool(self.value)

    def expected_parameters(self):
        return [self.parameter_name]

    def choices(self, changelist):
        yield {"value": self.value, "clear_url": changelist.get_query_string(remove=[self.parameter_name])}

    def queryset(self, request, queryset):
        if self.value:
            return queryset.filter(object_id=self.value)
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
        yield {
            "from": self.used_parameters.get(self.parameter_from, ""),
            "to": self.used_parameters.get(self.parameter_to, ""),
            "errors": self.errors,
            "hidden": _other_params(changelist, self.expected_parameters()),
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
    return _change_url(event.object_type, event.object_id)


def _change_url(object_type: str, object_id: str) -> str | None:
    if not object_type or not object_id or "." not in object_type:
        return None
    app_label, model_name = object_type.split(".", 1)
    try:
        return reverse(f"admin:{app_label}_{model_name}_change", args=[object_id])
    except NoReverseMatch:
        return None


def timeline_url(object_type: str, object_id: object) -> str:
    """The audit history of one object: its type and its exact id (never a name search)."""
    from urllib.parse import urlencode

    query = urlencode({"object_type": object_type, "object_id": str(object_id)})
    return f"{reverse('admin:core_auditevent_changelist')}?{query}"


@admin.register(AuditEvent)
class AuditEventAdmin(ExportMixin, ViewOnlyAdmin):
    # Excel through core.exports; the CSV is export_view's (same columns, the hash chain included).
    export_permission = "core.export_auditevent"
    export_url_name = "export_list"
    export_columns = (
        ExportColumn("id", "id", "number"),
        ExportColumn("When", "occurred_at", "datetime"),
        ExportColumn("Who", "actor_label"),
        ExportColumn("How", "source"),
        ExportColumn("Action", "action"),
        ExportColumn("Object type", "object_type"),
        ExportColumn("Object id", "object_id"),
        ExportColumn("Object", "object_repr"),
        ExportColumn("What changed", "changes", "json"),
        ExportColumn("Reason", "reason"),
        ExportColumn("IP address", "ip_address"),
        ExportColumn("Request id", "request_id"),
        ExportColumn("Hash", "hash"),
    )
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
    list_filter = (ActorFilter, ActionFilter, ObjectTypeFilter, ObjectIdFilter, DateRangeFilter)
    search_fields = ("search_key",)  # see get_search_results: exact id or name prefix, never a substring scan
    search_help_text = "An object's exact id, or the start of its name (for example INV-104)."
    list_per_page = 100
    ordering = ("-occurred_at", "-id")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "occurred_at",
                    "actor_label",
                    "source",
                    "action_label",
                    "object_link",
                    "what_changed",
                    "reason",
                    "ip_address",
                )
            },
        ),
        (
            "Details for support",
            {
                "classes": ("collapse",),
                "fields": ("id", "action", "object_type", "object_id", "request_id", "prev_hash", "hash"),
            },
        ),
    )
    readonly_fields = (
        "id",
        "occurred_at",
        "actor_label",
        "source",
        "action",
        "action_label",
        "object_type",
        "object_id",
        "object_link",
        "what_changed",
        "reason",
        "ip_address",
        "request_id",
        "prev_hash",
        "hash",
    )
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
        label = event.object_repr or object_type_label(event.object_type)
        kind = object_type_label(event.object_type) if event.object_type else ""
        url = object_admin_url(event)
        if url:
            return format_html('<a href="{}">{}</a> <span class="quiet">{}</span>', url, label, kind)
        return format_html('{} <span class="quiet">{}</span>', label, kind)

    @admin.display(description="what changed")
    def change_summary(self, event):
        lines = list(change_lines(event.object_type, event.changes, related=None))
        shown = [str(line) for line in lines[:4]]
        if len(lines) > 4:
            shown.append(f"and {len(lines) - 4} more")
        return "; ".join(shown)

    @admin.display(description="what changed")
    def what_changed(self, event):
        lines = list(change_lines(event.object_type, event.changes, related={}))
        if not lines:
            return "Nothing recorded"
        rows = format_html_join(
            "",
            "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td></tr>",
            ((line.field, line.before if line.before is not None else "", line.after) for line in lines),
        )
        return format_html(
            '<table class="audit-changes"><thead><tr><th>Field</th><th>Before</th><th>After</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="reason")
    def reason_short(self, event):
        return event.reason if len(event.reason) <= 80 else event.reason[:77] + "…"

    # --- the page -----------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="core_auditevent_export"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_export": request.user.has_perm("core.export_auditevent"),
            "timeline_of": self._timeline_of(request),
            # Eight columns and the filters need the width: the app list stays on the home page.
            "is_nav_sidebar_enabled": False,
        }
        return super().changelist_view(request, extra_context=extra_context)

    @staticmethod
    def _timeline_of(request) -> dict | None:
        """What the "Audit timeline" link was opened for: the object's kind, name and page."""
        object_type = request.GET.get("object_type", "")
        object_id = request.GET.get("object_id", "")
        if not object_type or not object_id:
            return None
        latest = (
            AuditEvent.objects.filter(object_type=object_type, object_id=object_id)
            .exclude(object_repr="")
            .order_by("-id")
            .values_list("object_repr", flat=True)
            .first()
        )
        return {
            "kind": object_type_label(object_type),
            "name": latest or f"#{object_id}",
            "url": _change_url(object_type, object_id),
        }

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
