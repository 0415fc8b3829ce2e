"""The reconciliation report (disagreements with Dots), its runs, and the app wallet. Thin: services do the work."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django_q.tasks import async_task

from core import sync_runner
from core.admin_actions import message_outcomes, run_row
from core.admin_base import ViewOnlyAdmin
from core.exports import ExportColumn, ExportMixin
from core.money import format_cents
from reconciliation import services
from reconciliation.models import AppWallet, Discrepancy, ReconciliationRun


class OpenFilter(admin.SimpleListFilter):
    """Open disagreements by default: the report is a to-do list first, a history second."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("open", "Open"), ("settled", "Settled"), ("all", "All"))

    def choices(self, changelist):
        value = self.value() or "open"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(resolution="")
        if value == "settled":
            return queryset.exclude(resolution="")
        return queryset


@admin.register(Discrepancy)
class DiscrepancyAdmin(ExportMixin, ViewOnlyAdmin):
    export_columns = (
        ExportColumn("Record", "label"),
        ExportColumn("Record type", "record_type"),
        ExportColumn("Disagreement", "kind"),
        ExportColumn("Here", "local_value"),
        ExportColumn("In Dots", "dots_value"),
        ExportColumn("What adopting Dots' state would do", "detail"),
        ExportColumn("First seen", "first_seen_at", "datetime"),
        ExportColumn("Last seen", "last_seen_at", "datetime"),
        ExportColumn("Settled", "resolution"),
        ExportColumn("Settled at", "resolved_at", "datetime"),
        ExportColumn("Settled by", "resolved_by__username"),
        ExportColumn("Dots id", "dots_id"),
    )
    list_display = (
        "record",
        "kind",
        "local_value",
        "dots_value",
        "detail",
        "last_seen_at",
        "resolution_text",
        "resolved_by",
    )
    list_filter = (OpenFilter, "record_type", "kind")
    search_fields = ("=dots_id", "label__istartswith")
    actions = ("adopt_dots_state",)
    change_list_template = "admin/reconciliation/discrepancy/change_list.html"

    @admin.display(description="record", ordering="label")
    def record(self, obj):
        check = services.all_checks().get(obj.record_type)
        if obj.local_id and check is not None:
            app_label, model_name = check.model.split(".")
            try:
                url = reverse(f"admin:{app_label}_{model_name}_change", args=[obj.local_id])
            except NoReverseMatch:
                url = ""
            if url:
                return format_html('<a href="{}">{}</a>', url, obj.label)
        return obj.label

    @admin.display(description="settled", ordering="resolution")
    def resolution_text(self, obj):
        if obj.is_open:
            return "open"
        return f"{obj.get_resolution_display()} {obj.resolved_at:%Y-%m-%d %H:%M}"

    def has_adopt_permission(self, request):
        return request.user.has_perm("reconciliation.adopt_discrepancy")

    @admin.action(description="Adopt Dots' state for the selected disagreements", permissions=["adopt"])
    def adopt_dots_state(self, request, queryset):
        outcomes = [
            run_row(d.label, services.discrepancy_adopt, discrepancy_id=d.pk, actor=request.user) for d in queryset
        ]
        message_outcomes(self, request, outcomes, verb="adopted from Dots")

    def get_urls(self):
        return [
            path("run/", self.admin_site.admin_view(self.run_now), name="reconciliation_discrepancy_run"),
            *super().get_urls(),
        ]

    def run_now(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_adopt_permission(request):
            raise PermissionDenied
        async_task("reconciliation.tasks.reconcile")
        self.message_user(request, "Reconciliation with Dots started; reload this page in a moment.", messages.INFO)
        return redirect("admin:reconciliation_discrepancy_changelist")

    def changelist_view(self, request, extra_context=None):
        last = ReconciliationRun.objects.exclude(finished_at=None).first()
        extra_context = {
            **(extra_context or {}),
            "last_run": last,
            "can_run": self.has_adopt_permission(request),
            "sync_steps": sync_runner.step_states(),
        }
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ViewOnlyAdmin):
    list_display = (
        "started_at",
        "finished_at",
        "trigger",
        "auto_resolved",
        "opened",
        "still_open",
        "closed",
        "has_errors",
    )

    @admin.display(boolean=True, description="errors")
    def has_errors(self, obj):
        return bool(obj.errors)


@admin.register(AppWallet)
class AppWalletAdmin(ViewOnlyAdmin):
    list_display = ("__str__", "dots_app_id", "balance", "synced_at")
    # The balance as money, never the stored cents (issue #15).
    fields = ("name", "dots_app_id", "balance", "synced_at")
    readonly_fields = fields

    @admin.display(description="balance")
    def balance(self, obj):
        return format_cents(obj.balance_cents) if obj.balance_cents is not None else "unknown"
