"""Admin for payees, imports, payout runs, payout links and requests, transfers. Thin: services do the work."""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html

from core.admin_actions import message_outcomes, run_row
from core.admin_base import LargeListAdmin
from core.errors import DomainError
from core.models import AuditEvent
from core.money import format_cents
from payouts import selectors, transfers, views
from payouts.models import Payee, PayeeImport, PayoutLink, PayoutRequest, PayoutRun, Transfer, WebhookDelivery
from payouts.services import payees, payout_links, payout_requests, payout_runs


class ReadOnlyAdmin(LargeListAdmin):
    """Rows change only through services: no admin edit form, never deleted here."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


def _money(cents):
    return format_cents(cents)


@admin.register(Payee)
class PayeeAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "email",
        "dots_status",
        "compliance_summary",
        "wallet",
        "default_payout_method",
        "created_at",
    )
    list_filter = ("dots_status",)
    search_fields = ("=phone_e164", "=dots_user_id", "last_name__istartswith", "=email")
    actions = ("refresh_from_dots", "send_verification_token")
    change_form_template = "admin/payouts/payee/change_form.html"

    @admin.display(description="wallet")
    def wallet(self, obj):
        return _money(obj.wallet_cents)

    @admin.display(description="compliance")
    def compliance_summary(self, obj):
        c = obj.compliance or {}
        flags = [name for name, on in (c.get("flags") or {}).items() if on is True]
        parts = [
            "tax form " + ("collected" if c.get("1099_collected") or c.get("w8_ben_collected") else "missing"),
            f"TIN {c.get('tax_id_verification', 'unknown')}",
            "1099 needed" if c.get("must_collect_1099") else "no 1099 needed",
        ]
        if flags:
            parts.append("flags: " + ", ".join(flags))
        return "; ".join(parts) if c else ""

    def get_urls(self):
        return [
            path("add/", self.admin_site.admin_view(lambda r: views.payee_add(r, self)), name="payouts_payee_add"),
            path(
                "<int:object_id>/verify/",
                self.admin_site.admin_view(lambda r, object_id: views.payee_verify(r, self, object_id)),
                name="payouts_payee_verify",
            ),
            path(
                "<int:object_id>/edit/",
                self.admin_site.admin_view(lambda r, object_id: views.payee_edit(r, self, object_id)),
                name="payouts_payee_edit",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Refresh selected payees from Dots", permissions=["change"])
    def refresh_from_dots(self, request, queryset):
        outcomes = [run_row(str(p), payees.payee_refresh, payee_id=p.pk, actor=request.user) for p in queryset]
        message_outcomes(self, request, outcomes, verb="refreshed")

    @admin.action(description="Send a verification code to selected payees", permissions=["change"])
    def send_verification_token(self, request, queryset):
        outcomes = [
            run_row(str(p), payees.payee_send_verification, payee_id=p.pk, actor=request.user) for p in queryset
        ]
        message_outcomes(self, request, outcomes, verb="sent a code")


@admin.register(PayeeImport)
class PayeeImportAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "status",
        "total_rows",
        "valid_rows",
        "invalid_rows",
        "duplicate_rows",
        "created_count",
        "failed_count",
        "uploaded_by",
        "created_at",
    )
    list_filter = ("status",)

    def get_urls(self):
        site = self.admin_site
        return [
            path("add/", site.admin_view(lambda r: views.import_upload(r, self)), name="payouts_payeeimport_add"),
            path(
                "<int:object_id>/progress.json",
                site.admin_view(lambda r, object_id: views.import_progress_json(r, self, object_id)),
                name="payouts_payeeimport_progress",
            ),
            path(
                "<int:object_id>/failed-rows.csv",
                site.admin_view(lambda r, object_id: views.import_failed_rows_csv(r, self, object_id)),
                name="payouts_payeeimport_failed_rows",
            ),
            *[
                path(
                    f"<int:object_id>/{action}/",
                    site.admin_view(
                        lambda r, object_id, action=action: views.import_action(r, self, object_id, action)
                    ),
                    name=f"payouts_payeeimport_{action}",
                )
                for action in ("confirm", "discard", "cancel")
            ],
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payee_import = get_object_or_404(PayeeImport, pk=object_id)
        if not self.has_view_permission(request, payee_import):
            raise PermissionDenied
        return views.import_page(request, self, payee_import, extra_context)


@admin.register(PayoutRun)
class PayoutRunAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "item_count", "total", "created_by", "approved_by", "created_at")
    list_filter = ("status",)

    @admin.display(description="total")
    def total(self, obj):
        return _money(obj.total_cents)

    def has_add_permission(self, request):
        return False

    def has_approve_permission(self, request, obj=None):
        return request.user.has_perm("payouts.approve_payoutrun")

    def get_urls(self):
        site = self.admin_site
        return [
            *[
                path(
                    f"<int:object_id>/{action}/",
                    site.admin_view(lambda r, object_id, action=action: self.run_action(r, object_id, action)),
                    name=f"payouts_payoutrun_{action}",
                )
                for action in ("approve", "cancel", "retry")
            ],
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = get_object_or_404(PayoutRun, pk=object_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(run),
            "original": run,
            "run": run,
            "items": selectors.run_items(run)[:2000],
            "can_approve": self.has_approve_permission(request, run),
        }
        return TemplateResponse(request, "admin/payouts/payoutrun/page.html", context)

    def run_action(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = get_object_or_404(PayoutRun, pk=object_id)
        if not self.has_approve_permission(request, run):
            raise PermissionDenied
        service = {
            "approve": payout_runs.payout_run_approve,
            "cancel": payout_runs.payout_run_cancel,
            "retry": payout_runs.payout_run_retry_failed,
        }[action]
        try:
            service(run_id=run.pk, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            run.refresh_from_db()
            messages.success(request, f"{run}: {run.get_status_display().lower()}.")
        return redirect(reverse("admin:payouts_payoutrun_change", args=[run.pk]))


@admin.register(PayoutLink)
class PayoutLinkAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "payee", "amount", "delivery_method", "status", "dots_id", "created_at")
    list_filter = ("status", "delivery_method")
    search_fields = ("=dots_id",)
    actions = ("refresh_from_dots", "retry_create", "cancel_links", "redeliver")
    change_form_template = "admin/payouts/payoutlink/change_form.html"

    @admin.display(description="amount")
    def amount(self, obj):
        return _money(obj.amount_cents)

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "transfer_shown"]

    @admin.display(description="transfer")
    def transfer_shown(self, obj):
        transfer = transfers.transfer_of_payout_link(obj) if obj.pk else None
        if transfer is None:
            return "none seen yet"
        label = transfer.get_status_display()
        if transfer.failure_reason:
            label += f": {transfer.failure_reason}"
        return _link_to(transfer, "payouts_transfer", f"{label} ({_money(transfer.amount_cents)})")

    def get_urls(self):
        return [
            path(
                "add/",
                self.admin_site.admin_view(lambda r: views.payout_link_add(r, self)),
                name="payouts_payoutlink_add",
            ),
            *super().get_urls(),
        ]

    def _each(self, request, queryset, service, verb):
        outcomes = [run_row(str(link), service, payout_link_id=link.pk, actor=request.user) for link in queryset]
        message_outcomes(self, request, outcomes, verb=verb)

    @admin.action(description="Refresh selected links from Dots", permissions=["change"])
    def refresh_from_dots(self, request, queryset):
        self._each(request, queryset, payout_links.payout_link_refresh, "refreshed")

    @admin.action(description="Retry creating (same key and body)", permissions=["change"])
    def retry_create(self, request, queryset):
        self._each(request, queryset, payout_links.payout_link_push, "sent")

    @admin.action(description="Cancel selected links", permissions=["change"])
    def cancel_links(self, request, queryset):
        self._each(request, queryset, payout_links.payout_link_cancel, "cancelled")

    @admin.action(description="Redeliver selected links", permissions=["change"])
    def redeliver(self, request, queryset):
        self._each(request, queryset, payout_links.payout_link_redeliver, "redelivered")


@admin.register(PayoutRequest)
class PayoutRequestAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "payee", "phone_e164", "amount", "status", "payout_link_shown", "created_at")
    list_filter = ("status",)
    search_fields = ("=dots_id",)
    actions = ("refresh_from_dots", "retry_create")

    @admin.display(description="amount")
    def amount(self, obj):
        return _money(obj.amount_cents)

    @admin.display(description="payout link")
    def payout_link_shown(self, obj):
        if not obj.payout_link_id:
            return ""
        url = reverse("admin:payouts_payoutlink_change", args=[obj.payout_link_id])
        return format_html('<a href="{}">{}</a>', url, obj.payout_link)

    def get_urls(self):
        return [
            path(
                "add/",
                self.admin_site.admin_view(lambda r: views.payout_request_add(r, self)),
                name="payouts_payoutrequest_add",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Refresh selected requests from Dots", permissions=["change"])
    def refresh_from_dots(self, request, queryset):
        outcomes = [
            run_row(str(r), payout_requests.payout_request_refresh, payout_request_id=r.pk, actor=request.user)
            for r in queryset
        ]
        message_outcomes(self, request, outcomes, verb="refreshed")

    @admin.action(description="Retry creating", permissions=["change"])
    def retry_create(self, request, queryset):
        outcomes = [
            run_row(str(r), payout_requests.payout_request_push, payout_request_id=r.pk, actor=request.user)
            for r in queryset
        ]
        message_outcomes(self, request, outcomes, verb="sent")


class TransferChangeList(ChangeList):
    """Resolves the shown page's payees, payout links and payables in three queries (not three per row)."""

    def get_results(self, request):
        super().get_results(request)
        links = transfers.links_for(list(self.result_list))
        for transfer in self.result_list:
            transfer.links = links[transfer.pk]


def _link_to(obj, admin_name: str, label: str):
    try:
        url = reverse(f"admin:{admin_name}_change", args=[obj.pk])
    except NoReverseMatch:  # that admin is not registered
        return label
    return format_html('<a href="{}">{}</a>', url, label)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = (
        "dots_id",
        "type",
        "status",
        "failure_reason",
        "amount",
        "who",
        "link_or_payable",
        "dots_created_at",
    )
    list_filter = ("status", "type")
    search_fields = ("=dots_id", "=dots_user_id")
    change_list_template = "admin/payouts/transfer/change_list.html"

    def has_add_permission(self, request):
        return False

    def get_changelist(self, request, **kwargs):
        return TransferChangeList

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "who", "link_or_payable"]

    def _links(self, obj) -> transfers.TransferLinks:
        # The list page resolved them for every row (TransferChangeList); the change page asks here.
        if not hasattr(obj, "links"):
            obj.links = transfers.links_for([obj])[obj.pk]
        return obj.links

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return _money(obj.amount_cents)

    @admin.display(description="who")
    def who(self, obj):
        payee = self._links(obj).payee
        return _link_to(payee, "payouts_payee", str(payee)) if payee else obj.dots_user_id

    @admin.display(description="for")
    def link_or_payable(self, obj):
        links = self._links(obj)
        if links.payout_link is not None:
            return _link_to(links.payout_link, "payouts_payoutlink", f"payout link #{links.payout_link.pk}")
        if links.payable is not None:
            return _link_to(links.payable, "payables_payable", f"payable {links.payable}")
        return ""

    def get_urls(self):
        return [
            path("sync/", self.admin_site.admin_view(self.sync_view), name="payouts_transfer_sync"),
            *super().get_urls(),
        ]

    def sync_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            result = transfers.transfers_sync(actor=request.user, source=AuditEvent.Source.ADMIN)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, result.summary())
            for line in result.lines + result.errors:
                messages.info(request, line)
        return redirect(reverse("admin:payouts_transfer_changelist"))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every delivery to /webhooks/dots/, accepted or refused and why. Read-only: written by the receiver."""

    list_display = (
        "received_at",
        "msg_id",
        "event_type",
        "outcome",
        "refusal_reason",
        "processing",
        "object_type",
        "object_id",
        "processed_at",
    )
    list_filter = ("outcome", "event_type", "processing")
    search_fields = ("=msg_id", "=object_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
