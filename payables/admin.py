"""Payables in the admin: thin classes over payables.services."""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, strip_tags

import payables.admin_approvals  # noqa: F401  (approval policies and approvers)
from core import registry
from core.admin_base import AdminPage, AdminPagesMixin, LargeListAdmin
from core.audit_display import words
from core.errors import DomainError
from core.exports import ExportColumn, ExportMixin
from core.money import format_cents
from core.pagination import COUNT_CAP
from payables import controls, covering, drafts, files, forms, next_step, scheduled, selectors
from payables.admin_acts import PayableActionsMixin
from payables.admin_controls import PayableControlsMixin
from payables.forms import PayableForm, PayableFromFileForm
from payables.models import LineItem, Payable, PayableHold

S = Payable.Status


# Shown on the payable page under a collapsed "Details for support".
SUPPORT_FIELDS = ("dots_id", "last_dots_error")


class LineItemInline(admin.TabularInline):
    model = LineItem
    extra = 0
    fields = ("name", "description", "unit_price_cents", "quantity", "amount")
    readonly_fields = ("amount", "unit_price")

    @admin.display(description="amount")
    def amount(self, item):
        return format_cents(item.amount_cents) if item.pk else ""

    @admin.display(description="unit price")
    def unit_price(self, item):
        return format_cents(item.unit_price_cents)

    def get_fields(self, request, obj=None):
        # Read-only (submitted, or a viewer who may not edit): the price as money, never the cents a
        # read-only field would show.
        if self._editable(obj) and (self.has_change_permission(request, obj) or self.has_add_permission(request, obj)):
            return self.fields
        return ("name", "description", "unit_price", "quantity", "amount")

    def _editable(self, obj):
        return obj is None or obj.is_editable

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class WaitingForMeFilter(admin.SimpleListFilter):
    """Waiting for my approval, or (for whoever reads the dashboard's "Approvals waiting") for one
    approver's: the same rule as the approve service."""

    title = "waiting for"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        choices = [("me", "my approval")]
        for approver in selectors.eligible_approvers():
            if approver.user_id and approver.user_id != request.user.pk:
                choices.append((str(approver.user_id), selectors.approver_label(approver)))
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(selectors.waiting_for(request.user))
        if value and value.isdigit():
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.filter(pk=int(value)).first()
            return queryset.filter(selectors.waiting_for(user)) if user else queryset.none()
        return queryset


class AgingFilter(admin.SimpleListFilter):
    """Unpaid payables (waiting for approval, approved, payment failed) by days past due: the
    dashboard's aging buckets link here."""

    title = "unpaid, by days past due"
    parameter_name = "aging"

    def lookups(self, request, model_admin):
        return [(bucket.key, bucket.label) for bucket in selectors.AGING_BUCKETS]

    def queryset(self, request, queryset):
        bucket = selectors.aging_bucket(self.value() or "")
        if bucket is None:
            return queryset
        return queryset.filter(selectors.aging_q(bucket, timezone.localdate()))


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("none", "No due date")]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.filter(selectors.overdue())
        if self.value() == "none":
            return queryset.filter(due_date__isnull=True)
        return queryset


class VendorFilter(admin.SimpleListFilter):
    """By vendor, listing vendors (a small table) rather than DISTINCT over payables."""

    title = "vendor"
    parameter_name = "vendor"

    def lookups(self, request, model_admin):
        from vendors.models import Vendor

        return [(str(v.pk), v.name) for v in Vendor.objects.order_by("name")[:200]]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(vendor_id=self.value())
        return queryset


class HoldFilter(admin.SimpleListFilter):
    """Payables on hold (nobody approves or pays them until released), or those not held."""

    title = "hold"
    parameter_name = "hold"

    def lookups(self, request, model_admin):
        return [("on", "On hold"), ("off", "Not on hold")]

    def queryset(self, request, queryset):
        held = PayableHold.objects.filter(released_at__isnull=True).values("payable_id")
        if self.value() == "on":
            return queryset.filter(pk__in=held)
        if self.value() == "off":
            return queryset.exclude(pk__in=held)
        return queryset


@admin.register(Payable)
class PayableAdmin(ExportMixin, PayableActionsMixin, PayableControlsMixin, AdminPagesMixin, LargeListAdmin):
    export_columns = (
        ExportColumn("Bill number", "bill_number"),
        ExportColumn("Vendor", "vendor__name"),
        ExportColumn("Amount", "total_cents", "money"),
        ExportColumn("Due date", "due_date", "date"),
        ExportColumn("Status", "status"),
        ExportColumn("Status changed", "status_changed_at", "datetime"),
        ExportColumn("Bank account", "bank_account__name"),
        ExportColumn("Bank account number", "bank_account__account_last4", "last4"),
        ExportColumn("External id", "external_id"),
        ExportColumn("Description", "description"),
        ExportColumn("Created by", "created_by__username"),
        ExportColumn("Created", "created_at", "datetime"),
        ExportColumn("Submitted", "submitted_at", "datetime"),
        ExportColumn("Why it was rejected or canceled", "closed_reason"),
        ExportColumn("Why the payment failed", "failure_reason"),
        ExportColumn("Dots id", "dots_id"),
    )
    form = PayableForm
    autocomplete_fields = ("vendor",)  # thousands of vendors: found by typing the start of the name
    inlines = [LineItemInline]
    list_display = ("bill_number", "vendor", "total", "due_date", "status_label", "next_column")
    list_filter = ("status", HoldFilter, VendorFilter, DueFilter, AgingFilter, WaitingForMeFilter)
    search_fields = ("bill_number", "vendor__name", "external_id")
    search_help_text = "Part of a bill number (INV-2002, inv 2002 and 2002 alike), a vendor's name or an external id."
    list_select_related = ("vendor", "bank_account", "closed_by")
    list_per_page = 50
    ordering = ("-id",)
    actions = [
        "submit_selected",
        "approve_selected",
        "reject_selected",
        "cancel_selected",
        "pay_selected",
        "schedule_due_selected",
    ]
    change_form_template = "admin/payables/payable/change_form.html"
    change_list_template = "admin/payables/payable/change_list.html"
    readonly_fields = (
        "total",
        "amount_entered",
        "status_label",
        "dots_id",
        "dots_status_words",
        "failure_reason",
        "payment_transfer",
        "last_dots_error",
        "approval_policy",
        "approval_policy_reason",
        "created_by",
        "created_at",
        "submitted_by",
        "submitted_at",
        "pay_requested_by",
        "pay_requested_at",
        "pdf",
    )

    # --- list --------------------------------------------------------------------------------

    @admin.display(description="total", ordering="total_cents")
    def total(self, payable):
        return format_html('<span class="money">{}</span>', format_cents(payable.total_cents))

    @admin.display(description="status in Dots")
    def dots_status_words(self, payable):
        """Dots' own status code in words ("submitted_for_approval" reads "Submitted for approval")."""
        return words(payable.dots_status) if payable.dots_status else "-"

    @admin.display(description="status", ordering="status")
    def status_label(self, payable):
        label = format_html('<span class="status status-{}">{}</span>', payable.status, payable.get_status_display())
        if payable.escalated_at and payable.status == S.SUBMITTED:
            label = format_html('{} <span class="status escalated">escalated</span>', label)
        if payable.pay_on and not payable.pay_run_outcome and payable.status == S.APPROVED:
            label = format_html(
                '{} <span class="scheduled">scheduled for {}</span>', label, date_format(payable.pay_on, "j M Y")
            )
        if getattr(payable, "on_hold", False):
            label = format_html('{} <span class="status status-on-hold">On hold</span>', label)
        return label

    def get_queryset(self, request):
        # Whether each payable is on hold, in the list's one query (its status column says so).
        held = PayableHold.objects.filter(payable=OuterRef("pk"), released_at__isnull=True)
        return super().get_queryset(request).annotate(on_hold=Exists(held))

    def get_list_display(self, request):
        # "Next" depends on who looks (their own approval, or whose it waits for): a column bound to
        # this request, sharing one StepCache across the page's rows.
        cache = selectors.StepCache()

        def next_column(payable):
            if getattr(payable, "on_hold", False):
                return "On hold: released by hand or on its release date"
            return next_step.next_step(payable, request.user, cache)

        next_column.short_description = "next"  # type: ignore[attr-defined]
        return [next_column if name == "next_column" else name for name in super().get_list_display(request)]

    @admin.display(description="next")
    def next_column(self, payable):
        """Replaced per request by get_list_display (the words depend on who looks); this plain form
        names the column for Django's checks."""
        return next_step.NEXT_STEP.get(payable.status, "")

    @admin.display(description="amount")
    def amount_entered(self, payable):
        """The amount entered without line items, as money (read-only pages)."""
        return format_cents(payable.amount_cents) if payable.amount_cents is not None else "with line items"

    @admin.display(description="Dots transfer")
    def payment_transfer(self, payable):
        """The latest payment's transfer as the app that mirrors transfers last saw it (a failure days
        later shows here); the transfer's id alone when no app describes it."""
        shown = registry.record_detail("payables.payable", "payment_transfer", payable)
        return shown if shown is not None else (payable.dots_transfer_id or "none")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        # The search's indexed scan (selectors.search) runs once: the matching ids, newest first and no
        # more than the list ever counts; the page and its count then read those rows by id.
        found = selectors.search(queryset, search_term).order_by("-pk").values_list("pk", flat=True)
        return queryset.filter(pk__in=list(found[: COUNT_CAP + 1])), False

    # --- the draft form -------------------------------------------------------------------------

    def get_fields(self, request, obj=None):
        fields = self._fields(obj)
        if obj is not None and not obj.is_editable:
            # Read-only: money as "$66.00", never the cents a read-only field would show.
            fields = ["amount_entered" if name == "amount_cents" else name for name in fields]
        if obj is not None and (not obj.is_editable or not self.has_change_permission(request, obj)):
            # Read-only: the PDF linked to its download page, never to a /media/ URL nothing serves.
            fields = ["pdf" if name == "file" else name for name in fields]
        return fields

    def get_fieldsets(self, request, obj=None):
        # Ids and Dots' raw error are for support, not for the accountant reading the page.
        fields = self.get_fields(request, obj)
        support = [name for name in fields if name in SUPPORT_FIELDS]
        fieldsets: list = [(None, {"fields": [name for name in fields if name not in SUPPORT_FIELDS]})]
        if support:
            fieldsets.append(("Details for support", {"classes": ("collapse",), "fields": support}))
        return fieldsets

    @admin.display(description="bill (PDF)")
    def pdf(self, payable):
        return files.file_link(payable) or "No PDF attached"

    def _fields(self, obj):
        editable = [
            "vendor",
            "bank_account",
            "bill_number",
            "description",
            "external_id",
            "due_date",
            "funding_source",
            "amount_cents",
            "file",
        ]
        if obj is None:
            return editable
        return editable + [
            "total",
            "status_label",
            "dots_id",
            "dots_status_words",
            "failure_reason",
            "payment_transfer",
            "last_dots_error",
            "created_by",
            "created_at",
            "submitted_by",
            "submitted_at",
            "pay_requested_by",
            "pay_requested_at",
        ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A new bill names an active vendor that is in Dots, and one of its live bank accounts.
        from vendors import selectors as vendor_selectors

        if db_field.name == "vendor":
            kwargs["queryset"] = vendor_selectors.vendors_for_payables()
        elif db_field.name == "bank_account":
            kwargs["queryset"] = vendor_selectors.bank_accounts_for_payables()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.readonly_fields)
        if obj is not None and not obj.is_editable:
            readonly += [
                "vendor",
                "bank_account",
                "bill_number",
                "description",
                "external_id",
                "due_date",
                "funding_source",
                "amount_cents",
                "file",
            ]
        return readonly

    def has_change_permission(self, request, obj=None):
        # Submitted payables are read-only for everyone (as in Dots); actions still work.
        if obj is not None and not obj.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        self._before = drafts.payable_edit_snapshot(Payable.objects.get(pk=obj.pk)) if change else {}
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        drafts.payable_record_edit(
            payable_id=form.instance.pk, actor=request.user, before=getattr(self, "_before", {}), created=not change
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The payable Django already loaded for this page: no second fetch for the panel.
        context.update(self._page_context(request, obj))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def _page_context(self, request, payable):
        if payable is None:
            return {}

        cache = selectors.StepCache()
        steps = selectors.step_view(payable, cache) if payable.status != S.CREATED else []
        user = request.user
        bank_waits = next_step.waits_for_bank_account(payable)
        control = self._controls_context(payable, user, bank_waits)
        return {
            **control,
            "payable": payable,
            "steps": steps,
            "can_submit": payable.status == S.CREATED and user.has_perm("payables.submit_payable"),
            "can_cancel": payable.status == S.CREATED and user.has_perm("payables.submit_payable"),
            # Only to someone who can decide the current step now (not its creator, not someone who
            # approved an earlier step and is not on this one, not someone who already approved it).
            "can_decide": next_step.may_approve(payable, user, cache),
            "can_pay": payable.status in next_step.PAYABLE
            and control["pay_controls_pass"]
            and payable.created_by_id != user.pk
            and user.has_perm("payables.pay_payable"),
            "can_check": payable.status in (S.OUTCOME_UNKNOWN, S.PAYMENT_INITIATED),
            "bank_unverified": not payable.bank_account.is_verified,
            "bank_account_link": next_step.bank_account_link(payable, user),
            "closing": next_step.closing(payable),
            "next_step": next_step.next_step(payable, user, cache),
            "in_flight": payable.status in Payable.PAYMENT_IN_FLIGHT,
            "scheduled_text": scheduled.scheduled_text(payable),
            "can_schedule": payable.status == S.APPROVED
            and not bank_waits
            and payable.created_by_id != user.pk
            and user.has_perm("payables.pay_payable")
            and not (payable.pay_run_claimed_at and not payable.pay_run_outcome),
            "can_unschedule": payable.pay_on is not None
            and not payable.pay_run_claimed_at
            and user.has_perm("payables.pay_payable"),
            "escalated": payable.escalated_at is not None and payable.status == S.SUBMITTED,
            # Approvers of the current step who are away, and their backups (payables.covering).
            "away": covering.away_approvers(payable, cache) if payable.status == S.SUBMITTED else [],
            "can_add_backup": user.has_perm("payables.change_approvalpolicy"),
        }

    def _controls_context(self, payable, user, bank_waits):
        """What the payable's page says about its controls: hold, changes since approval, overrides."""
        from payables import holds, overrides
        from payables.models import ControlOverride

        hold = controls.active_hold(payable)
        bound = controls.binding(payable) if payable.status in controls.PAYABLE_STATUSES else None
        bank_override = bank_waits and controls.usable_override(payable, ControlOverride.Control.BANK_ACCOUNT_VERIFIED)
        approved_it = payable.status in controls.PAYABLE_STATUSES and controls.approved_by(payable, user)
        payer_override = approved_it and controls.usable_override(
            payable, ControlOverride.Control.APPROVER_IS_NOT_PAYER
        )
        return {
            "hold": hold,
            "hold_text": controls.hold_text(hold) if hold else "",
            "can_hold": hold is None and payable.status in holds.HOLDABLE and user.has_perm("payables.hold_payable"),
            "can_release": hold is not None and user.has_perm("payables.hold_payable"),
            "binding": bound,
            "outstanding": controls.outstanding_text(payable) if bound and bound.must_approve_again else "",
            "can_approve_again": bool(bound and bound.must_approve_again and controls.may_approve_again(payable, user)),
            "approved_it": approved_it and not payer_override,
            "can_override": payable.status in overrides.OPEN and user.has_perm("payables.override_control"),
            "overrides_waiting": overrides.waiting_confirmation(payable),
            "sent_back_as": payable.sent_back_as.first(),
            "pay_controls_pass": hold is None
            and (not bank_waits or bool(bank_override))
            and not (approved_it and not payer_override)
            and not (bound and bound.must_approve_again),
        }

    # --- object actions (buttons on the change page) -------------------------------------------------

    def admin_pages(self):
        return [
            AdminPage("<int:pk>/act/<str:action>/", "action_view", "act"),
            AdminPage("bulk/<str:action>/", "bulk_view", "bulk"),
            AdminPage("from-file/", "from_file_view", "from_file"),
            AdminPage("bank-accounts/", "bank_accounts_view", "bank_accounts"),
            AdminPage("<int:pk>/status/", "status_view", "status"),
            AdminPage("<int:pk>/file/", "file_view", "file"),
            AdminPage("<int:pk>/add-backup/<int:absent_user_id>/", "add_backup_view", "add_backup"),
            # Controls (payables.admin_controls): each page checks its own permission.
            AdminPage("<int:pk>/hold/", "hold_view", "hold"),
            AdminPage("<int:pk>/release/", "release_view", "release"),
            AdminPage("<int:pk>/send-back/", "send_back_view", "send_back"),
            AdminPage("<int:pk>/approve-again/", "approve_again_view", "approve_again"),
            AdminPage("<int:pk>/override/", "override_view", "override"),
        ]

    def add_backup_view(self, request, pk, absent_user_id):
        """An Administrator adds an absent approver's backup to the step (a new policy version)."""
        self.require(request, "payables.change_approvalpolicy")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        payable = get_object_or_404(Payable, pk=pk)
        try:
            policy = covering.policy_add_backup(
                actor=request.user, payable_id=payable.pk, absent_user_id=absent_user_id
            )
        except DomainError as exc:
            self.message_user(request, f"{payable}: {exc}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"{policy} now lists the backup. It applies to payables submitted from now on; {payable} keeps "
                "the steps it was submitted with in Dots.",
                messages.SUCCESS,
            )
        return redirect(self._change_url(payable))

    def file_view(self, request, pk):
        """The bill's PDF, to whoever may see the payable: read from storage, never a public media URL."""
        self.require(request, "payables.view_payable")
        payable = get_object_or_404(Payable, pk=pk)
        if not payable.file:
            raise Http404("This payable has no PDF attached.")
        return files.download_response(payable)

    def status_view(self, request, pk):
        """A payable's status, for its page's script while a payment is under way (JSON)."""
        self.require(request, "payables.view_payable")
        payable = get_object_or_404(Payable.objects.select_related("bank_account", "closed_by"), pk=pk)
        return JsonResponse(
            {
                "status": payable.status,
                "status_display": payable.get_status_display(),
                "in_flight": payable.status in Payable.PAYMENT_IN_FLIGHT,
                "next": strip_tags(str(next_step.next_step(payable, request.user))),
            }
        )

    def bank_accounts_view(self, request):
        """The bank accounts a bill of the chosen vendor may name, for the form's script (JSON)."""
        from vendors import selectors as vendor_selectors

        self.require(request, "payables.add_payable")  # who enters payables (and edits drafts)
        vendor = request.GET.get("vendor", "")
        if vendor.isdigit():
            accounts = vendor_selectors.bank_accounts_for_payables(vendor_id=int(vendor)).order_by("name", "id")
            help_text = forms.VENDOR_ACCOUNTS
        else:  # no vendor chosen (cleared): no accounts, as on the form (forms.limit_bank_accounts)
            accounts = vendor_selectors.bank_accounts_for_payables().none()
            help_text = forms.CHOOSE_VENDOR_FIRST
        choices = [{"id": a.pk, "label": forms.bank_account_label(a)} for a in accounts]
        return JsonResponse({"empty_label": "---------", "help_text": help_text, "accounts": choices})

    # --- create from a PDF ------------------------------------------------------------------------------

    def from_file_view(self, request):
        self.require(request, "payables.add_payable")
        form = PayableFromFileForm(request.POST or None, request.FILES or None, admin_site=self.admin_site)
        if request.method == "POST" and form.is_valid():
            try:
                payable = drafts.payable_create_from_file(
                    actor=request.user,
                    upload=form.cleaned_data["file"],
                    vendor=form.cleaned_data["vendor"],
                    bank_account=form.cleaned_data["bank_account"],
                )
            except DomainError as exc:
                form.add_error("file", str(exc))
            else:
                self.message_user(
                    request,
                    f"Dots read {payable.bill_number or 'the bill'}: check the draft, then save and submit it.",
                    messages.SUCCESS,
                )
                return redirect(self._change_url(payable))
        context = {
            **self.admin_site.each_context(request),
            "title": "Create a payable from a PDF",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/payables/payable/from_file.html", context)
