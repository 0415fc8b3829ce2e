"""Admin for payees, imports, payout runs, payout links and requests, transfers. Thin: services do the work.

Custom pages (add a payee, upload a file, approve a run...) are view methods listed in each
ModelAdmin's `admin_pages()` (core.admin_base.AdminPagesMixin); each checks the permission of
what it does before it shows or does anything. Their forms are in payouts.forms.
"""

import csv

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from core.admin_actions import message_outcomes, run_row
from core.admin_base import AdminPage
from core.countries import country_name
from core.csv_safe import EchoBuffer, neutralise
from core.errors import DomainError
from core.exports import ExportMixin, export_response
from core.models import AuditEvent
from core.money import format_cents
from payouts import (
    admin_links,  # noqa: F401  (registers payout links and requests)
    admin_transfers,  # noqa: F401  (registers transfers to payees)
    exports,
    forms,
    selectors,
    transfers,
)
from payouts.admin_payees import PayeePagesMixin
from payouts.admin_shared import NothingToChangeAdmin, ReadOnlyAdmin, json_block, support_fieldset, when
from payouts.admin_shared import link_to as _link_to
from payouts.models import Payee, PayeeImport, PayoutRun, Transfer, WebhookDelivery
from payouts.services import payee_import_check, payee_imports, payees, payout_runs


def _money(cents):
    return format_cents(cents)


@admin.register(Payee)
class PayeeAdmin(ExportMixin, PayeePagesMixin, NothingToChangeAdmin):
    export_columns = exports.PAYEE_COLUMNS
    list_display = (
        "__str__",
        "email",
        "status_in_dots",
        "compliance_summary",
        "wallet",
        "default_payout_method",
        "created_at",
    )
    list_filter = ("dots_status",)
    search_fields = ("=phone_e164", "=dots_user_id", "last_name__istartswith", "=email")
    actions = ("refresh_from_dots", "send_verification_token", "pay_out_in_batch")
    change_form_template = "admin/payouts/payee/change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "email",
                    "phone_e164",
                    "country",
                    "status_in_dots",
                    "wallet",
                    "default_payout_method",
                    "compliance_summary",
                    "address_shown",
                    "linked",
                    "external_id",
                    "metadata_shown",
                    "created",
                )
            },
        ),
        support_fieldset("id", "dots_user_id", "compliance_json", "metadata_json", "last_error", "last_attempt"),
    )

    @admin.display(description="wallet balance", ordering="wallet_cents")
    def wallet(self, obj):
        return _money(obj.wallet_cents) if obj.wallet_cents is not None else "not read from Dots yet"

    @admin.display(description="status in Dots", ordering="dots_status")
    def status_in_dots(self, obj):
        return obj.dots_status.replace("_", " ").capitalize() if obj.dots_status else "not in Dots yet"

    @admin.display(description="linked to an existing Dots user")
    def linked(self, obj):
        return "Yes: Dots already had a user with this phone" if obj.linked_existing else "No"

    @admin.display(description="metadata")
    def metadata_shown(self, obj):
        if not obj.metadata:
            return "none"
        return format_html_join(", ", "{}: {}", sorted((str(k), str(v)) for k, v in obj.metadata.items()))

    @admin.display(description="created")
    def created(self, obj):
        return f"{when(obj.created_at)} by {obj.created_by}" if obj.created_by_id else when(obj.created_at)

    @admin.display(description="compliance as Dots sent it")
    def compliance_json(self, obj):
        return json_block(obj.compliance)

    @admin.display(description="metadata as sent to Dots")
    def metadata_json(self, obj):
        return json_block(obj.metadata)

    @admin.display(description="address")
    def address_shown(self, obj):
        if not obj.address_line_1:
            return "none sent to Dots from here"
        lines = [obj.address_line_1, obj.address_line_2, obj.address_line_3]
        place = " ".join(part for part in (obj.address_city + ",", obj.address_state, obj.address_postcode) if part)
        lines += [place, country_name(obj.address_country)]
        sent = f"sent to Dots {when(obj.address_sent_at)}" if obj.address_sent_at else ""
        return format_html_join(mark_safe("<br>"), "{}", [(line,) for line in lines + [sent] if line])

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

    def admin_pages(self):
        return [
            AdminPage("add/", "add_page", "add"),
            AdminPage("<int:object_id>/verify/", "verify_page", "verify"),
            AdminPage("<int:object_id>/edit/", "edit_page", "edit"),
            AdminPage("<int:object_id>/remove/", "remove_page", "remove"),
            AdminPage("<int:object_id>/tax-form/", "w9_page", "w9"),
            AdminPage("<int:object_id>/w-8ben/", "w8ben_page", "w8ben"),
            AdminPage("<int:object_id>/address/", "address_page", "address"),
            AdminPage("<int:object_id>/payout-methods/", "payout_methods_page", "payout_methods"),
        ]

    def add_page(self, request):
        self.require(request, "payouts.add_payee")
        form = forms.PayeeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                payee = payees.payee_create(
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"],
                    phone=data["phone"],
                    country=data["country"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                verb = "linked to the Dots user that already has this phone" if payee.linked_existing else "created"
                messages.success(request, f"{payee} {verb}.")
                return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
        return self.form_page(request, form, title="Add payee")

    def verify_page(self, request, object_id):
        self.require(request, "payouts.change_payee")
        payee = get_object_or_404(Payee, pk=object_id)
        form = forms.VerifyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                payees.payee_verify(payee_id=payee.pk, token=form.cleaned_data["token"], actor=request.user)
            except DomainError as exc:
                form.add_error("token", str(exc))
            else:
                messages.success(request, f"{payee} is verified.")
                return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
        return self.form_page(request, form, title=f"Verify {payee}", obj=payee)

    def edit_page(self, request, object_id):
        self.require(request, "payouts.change_payee")
        payee = get_object_or_404(Payee, pk=object_id)
        form = forms.PayeeEditForm(
            request.POST or None, initial={"external_id": payee.external_id, "metadata": payee.metadata}
        )
        if request.method == "POST" and form.is_valid():
            try:
                payees.payee_update(
                    payee_id=payee.pk,
                    metadata=form.cleaned_data["metadata"],
                    external_id=form.cleaned_data["external_id"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{payee} updated in Dots.")
                return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
        return self.form_page(request, form, title=f"Edit {payee}", obj=payee)

    @admin.action(description="Refresh selected payees from Dots", permissions=["change"])
    def refresh_from_dots(self, request, queryset):
        outcomes = [run_row(str(p), payees.payee_refresh, payee_id=p.pk, actor=request.user) for p in queryset]
        message_outcomes(self, request, outcomes, verb="refreshed")

    @admin.action(description="Pay out to selected payees in one batch…", permissions=["payout_batch"])
    def pay_out_in_batch(self, request, queryset):
        return admin_transfers.pay_out_in_batch_page(self, request, queryset)

    def has_payout_batch_permission(self, request):
        return request.user.has_perm("payouts.add_payoutbatch")

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

    def admin_pages(self):
        return [
            AdminPage("add/", "upload_page", "add"),
            AdminPage("<int:object_id>/progress.json", "progress_json", "progress"),
            AdminPage("<int:object_id>/failed-rows.csv", "failed_rows_csv", "failed_rows"),
            AdminPage("<int:object_id>/confirm/", "confirm_view", "confirm"),
            AdminPage("<int:object_id>/discard/", "discard_view", "discard"),
            AdminPage("<int:object_id>/cancel/", "cancel_view", "cancel"),
        ]

    def upload_page(self, request):
        self.require(request, "payouts.add_payeeimport")
        form = forms.UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                payee_import = payee_import_check.payee_import_upload(
                    fileobj=upload, file_name=upload.name, actor=request.user
                )
            except DomainError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect(reverse("admin:payouts_payeeimport_change", args=[payee_import.pk]))
        return self.form_page(request, form, title="Import payees")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self.require(request, "payouts.view_payeeimport")
        if request.method not in ("GET", "HEAD"):
            # A page to read: its actions post to their own URLs, each checking its own permission.
            return HttpResponseNotAllowed(["GET"])
        payee_import = get_object_or_404(PayeeImport, pk=object_id)
        checking = payee_import.status == PayeeImport.Status.CHECKING
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(payee_import),
            "original": payee_import,
            "imp": payee_import,
            "problems": [] if checking else selectors.import_problem_rows(payee_import),
            "problems_shown": selectors.PREVIEW_ERRORS_SHOWN,
            "progress": selectors.import_progress(payee_import),
            "can_change": self.has_change_permission(request, payee_import),
            "run": PayoutRun.objects.filter(payee_import=payee_import).first(),
            "amounts": selectors.import_amounts(payee_import) if payee_import.has_amount else None,
            "has_failed_rows": payee_import.invalid_rows or payee_import.failed_count,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/payouts/payeeimport/page.html", context)

    def progress_json(self, request, object_id):
        self.require(request, "payouts.view_payeeimport")
        return JsonResponse(selectors.import_progress(get_object_or_404(PayeeImport, pk=object_id)))

    def failed_rows_csv(self, request, object_id):
        """Each invalid or failed row as it was in the file, plus an `error` column; formulas neutralised."""
        self.require(request, "payouts.view_payeeimport")
        payee_import = get_object_or_404(PayeeImport, pk=object_id)
        writer = csv.writer(EchoBuffer())
        width = len(payee_import.header)

        def lines():
            yield writer.writerow([neutralise(c) for c in payee_import.header] + ["error"])
            for row in selectors.failed_rows(payee_import):
                cells = list(row.cells)[:width] + [""] * max(width - len(row.cells), 0)
                yield writer.writerow([neutralise(c) for c in cells] + [neutralise(row.error)])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{payee_import.pk}-failed-rows.csv"'
        return response

    def confirm_view(self, request, object_id):
        return self._import_step(request, object_id, payee_imports.payee_import_confirm, done="Import started.")

    def discard_view(self, request, object_id):
        return self._import_step(
            request, object_id, payee_imports.payee_import_discard, done="Import discarded: nothing was created."
        )

    def cancel_view(self, request, object_id):
        return self._import_step(
            request,
            object_id,
            payee_imports.payee_import_cancel,
            done="Cancel requested: rows being created now finish, the rest are not imported.",
        )

    def _import_step(self, request, object_id, service, *, done: str):
        self.require(request, "payouts.change_payeeimport")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        payee_import = get_object_or_404(PayeeImport, pk=object_id)
        try:
            service(import_id=payee_import.pk, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done)
        return redirect(reverse("admin:payouts_payeeimport_change", args=[payee_import.pk]))


@admin.register(PayoutRun)
class PayoutRunAdmin(ExportMixin, ReadOnlyAdmin):
    export_columns = exports.PAYOUT_RUN_COLUMNS
    list_display = ("__str__", "status", "item_count", "total", "created_by", "approved_by", "created_at")
    list_filter = ("status",)

    @admin.display(description="total")
    def total(self, obj):
        return _money(obj.total_cents)

    def has_add_permission(self, request):
        return False

    def has_approve_permission(self, request, obj=None):
        return request.user.has_perm("payouts.approve_payoutrun")

    def admin_pages(self):
        return [
            AdminPage("<int:object_id>/approve/", "approve_view", "approve"),
            AdminPage("<int:object_id>/cancel/", "cancel_view", "cancel"),
            AdminPage("<int:object_id>/retry/", "retry_view", "retry"),
            AdminPage("<int:object_id>/items/<str:fmt>/", "items_export_view", "items_export"),
        ]

    def items_export_view(self, request, object_id, fmt):
        self.require(request, "payouts.view_payoutrun")
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET"])
        run = get_object_or_404(PayoutRun, pk=object_id)
        return export_response(
            request,
            selectors.run_items(run),
            exports.PAYOUT_RUN_ITEM_COLUMNS,
            fmt=fmt,
            name=f"payout-run-{run.pk}-items",
            what=f"Payouts of {run}",
            object_type="payouts.payoutrun",
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self.require(request, "payouts.view_payoutrun")
        if request.method not in ("GET", "HEAD"):
            # A page to read: its actions post to their own URLs, each checking its own permission.
            return HttpResponseNotAllowed(["GET"])
        run = get_object_or_404(PayoutRun, pk=object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(run),
            "original": run,
            "run": run,
            "items": selectors.run_items(run)[:2000],
            "can_approve": self.has_approve_permission(request, run),
            "item_exports": [
                (label, reverse("admin:payouts_payoutrun_items_export", args=[run.pk, fmt]))
                for fmt, label in (("csv", "CSV"), ("xlsx", "Excel"))
            ],
        }
        return TemplateResponse(request, "admin/payouts/payoutrun/page.html", context)

    def approve_view(self, request, object_id):
        return self._run_step(request, object_id, payout_runs.payout_run_approve)

    def cancel_view(self, request, object_id):
        return self._run_step(request, object_id, payout_runs.payout_run_cancel)

    def retry_view(self, request, object_id):
        return self._run_step(request, object_id, payout_runs.payout_run_retry_failed)

    def _run_step(self, request, object_id, service):
        self.require(request, "payouts.approve_payoutrun")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = get_object_or_404(PayoutRun, pk=object_id)
        try:
            service(run_id=run.pk, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            run.refresh_from_db()
            messages.success(request, f"{run}: {run.get_status_display().lower()}.")
        return redirect(reverse("admin:payouts_payoutrun_change", args=[run.pk]))


class TransferChangeList(ChangeList):
    """Resolves the shown page's payees, payout links and payables in three queries (not three per row)."""

    def get_results(self, request):
        super().get_results(request)
        links = transfers.links_for(list(self.result_list))
        for transfer in self.result_list:
            transfer.links = links[transfer.pk]


@admin.register(Transfer)
class TransferAdmin(ExportMixin, NothingToChangeAdmin):
    export_columns = exports.TRANSFER_COLUMNS
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
    fieldsets = (
        (None, {"fields": ("amount", "status", "failure_reason", "type", "who", "link_or_payable", "created")}),
        support_fieldset(
            "id",
            "dots_id",
            "dots_user_id",
            "payout_link_dots_id",
            "payable_dots_id",
            "fingerprint",
            "synced",
            "checked",
        ),
    )

    def has_add_permission(self, request):
        return False

    def get_changelist(self, request, **kwargs):
        return TransferChangeList

    @admin.display(description="created in Dots")
    def created(self, obj):
        return when(obj.dots_created_at) or "not known"

    @admin.display(description="last read from Dots")
    def synced(self, obj):
        return when(obj.synced_at)

    @admin.display(description="last checked while open")
    def checked(self, obj):
        return when(obj.checked_at) or "not yet"

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
        if payee is not None:
            return _link_to(payee, "payouts_payee", str(payee))
        return "a Dots user who is not one of our payees" if obj.dots_user_id else "not known"

    @admin.display(description="for")
    def link_or_payable(self, obj):
        links = self._links(obj)
        if links.payout_link is not None:
            return _link_to(links.payout_link, "payouts_payoutlink", f"payout link #{links.payout_link.pk}")
        if links.payable is not None:
            return _link_to(links.payable, "payables_payable", f"payable {links.payable}")
        return "no payout link or payable of ours"

    # Refreshing writes transfers and the audit trail: for those who move payout money (Payouts
    # operators, Payers), not for read-only roles. (No role holds a transfer permission of its own.)
    SYNC_PERMS = ("payouts.change_payoutlink", "payouts.approve_payoutrun")

    def admin_pages(self):
        return [AdminPage("sync/", "sync_view", "sync")]

    def has_sync_permission(self, request) -> bool:
        user = request.user
        return user.has_perm("payouts.view_transfer") and any(user.has_perm(perm) for perm in self.SYNC_PERMS)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_sync": self.has_sync_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def sync_view(self, request):
        if not self.has_sync_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
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
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "received_at",
                    "event_type",
                    "outcome",
                    "refusal_reason",
                    "processing",
                    "note",
                    "processing_error",
                    "processed_at",
                    "attempts",
                )
            },
        ),
        support_fieldset("id", "msg_id", "signed_at", "object_type", "object_id", "body_bytes", "payload_json"),
    )

    @admin.display(description="body as received (secrets masked)")
    def payload_json(self, obj):
        return json_block(obj.payload) if obj.payload is not None else "not kept"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
