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
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from core.admin_actions import message_outcomes, run_row
from core.admin_base import AdminPage, AdminPagesMixin, LargeListAdmin
from core.csv_safe import EchoBuffer, neutralise
from core.errors import DomainError
from core.models import AuditEvent
from core.money import format_cents
from payouts import forms, selectors, transfers
from payouts.models import Payee, PayeeImport, PayoutLink, PayoutRequest, PayoutRun, Transfer, WebhookDelivery
from payouts.services import payee_import_check, payee_imports, payees, payout_links, payout_requests, payout_runs


class ReadOnlyAdmin(AdminPagesMixin, LargeListAdmin):
    """Rows change only through services: no admin edit form, never deleted here."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def form_page(self, request, form, *, title: str, obj=None):
        """One form on the admin's chrome (templates/admin/payouts/form.html)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "original": obj,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/payouts/form.html", context)


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

    def admin_pages(self):
        return [
            AdminPage("add/", "add_page", "add"),
            AdminPage("<int:object_id>/verify/", "verify_page", "verify"),
            AdminPage("<int:object_id>/edit/", "edit_page", "edit"),
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

    def admin_pages(self):
        return [
            AdminPage("<int:object_id>/approve/", "approve_view", "approve"),
            AdminPage("<int:object_id>/cancel/", "cancel_view", "cancel"),
            AdminPage("<int:object_id>/retry/", "retry_view", "retry"),
        ]

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

    def admin_pages(self):
        return [AdminPage("add/", "add_page", "add")]

    def add_page(self, request):
        self.require(request, "payouts.add_payoutlink")
        form = forms.PayoutLinkForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                link = payout_links.payout_link_request(
                    amount_cents=data["amount"],
                    payee_id=data["payee"].pk if data["payee"] else None,
                    delivery_method=data["delivery_method"],
                    memo=data["memo"],
                    tax_exempt=data["tax_exempt"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                link.refresh_from_db()
                messages.success(request, f"{link}: {link.get_status_display()}. {link.last_dots_error}".strip())
                return redirect(reverse("admin:payouts_payoutlink_change", args=[link.pk]))
        return self.form_page(request, form, title="Create payout link")

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

    def admin_pages(self):
        return [AdminPage("add/", "add_page", "add")]

    def add_page(self, request):
        self.require(request, "payouts.add_payoutrequest")
        form = forms.PayoutRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                payout_request = payout_requests.payout_request_request(
                    amount_cents=data["amount"],
                    payee_id=data["payee"].pk if data["payee"] else None,
                    phone=data["phone"],
                    country=data["country"] or "US",
                    memo=data["memo"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error("phone", str(exc))
            else:
                payout_request.refresh_from_db()
                messages.success(request, f"{payout_request}: {payout_request.get_status_display()}.")
                return redirect(reverse("admin:payouts_payoutrequest_change", args=[payout_request.pk]))
        return self.form_page(request, form, title="Send payout request")

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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
