"""Payables in the admin: thin classes over payables.services."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

import payables.admin_approvals  # noqa: F401  (approval policies and approvers)
from core import registry
from core.admin_actions import RowOutcome, message_outcomes, queued_text, run_row, summarise, without_label
from core.admin_base import AdminPage, AdminPagesMixin, LargeListAdmin
from core.errors import DomainError
from core.money import format_cents
from core.two_factor import step_up_needed, step_up_verify
from payables import drafts, next_step, selectors, services
from payables.errors import PossibleDuplicate
from payables.forms import (
    CommentForm,
    PayableForm,
    PayableFromFileForm,
    PayableSelectionForm,
    ReasonForm,
    StepUpForm,
)
from payables.models import LineItem, Payable

S = Payable.Status


class LineItemInline(admin.TabularInline):
    model = LineItem
    extra = 0
    fields = ("name", "description", "unit_price_cents", "quantity", "amount")
    readonly_fields = ("amount",)

    @admin.display(description="amount")
    def amount(self, item):
        return format_cents(item.amount_cents) if item.pk else ""

    def _editable(self, obj):
        return obj is None or obj.is_editable

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class WaitingForMeFilter(admin.SimpleListFilter):
    title = "waiting for"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("me", "my approval")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(selectors.waiting_for(request.user))
        return queryset


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


@dataclass(frozen=True)
class PayableAction:
    """An action on payables from its page or the list: the permissions it needs (checked before
    its page shows anything), the method that runs it, and whether it acts on a selection."""

    perms: tuple[str, ...]
    method: str
    bulk: bool = True


PAYABLE_ACTIONS = {
    "submit": PayableAction(("payables.submit_payable",), "_do_submit"),
    "approve": PayableAction(("payables.approve_payable",), "_do_approve"),
    "reject": PayableAction(("payables.approve_payable",), "_do_reject"),
    "cancel": PayableAction(("payables.submit_payable",), "_do_cancel"),
    "pay": PayableAction(("payables.pay_payable",), "_do_pay"),
    # Reads a payment back from Dots and records what it says: anyone who sees the payable.
    "check": PayableAction((), "_do_check", bulk=False),
}


@admin.register(Payable)
class PayableAdmin(AdminPagesMixin, LargeListAdmin):
    form = PayableForm
    inlines = [LineItemInline]
    list_display = ("bill_number", "vendor", "total", "due_date", "status_label", "next_step")
    list_filter = ("status", VendorFilter, DueFilter, WaitingForMeFilter)
    search_fields = ("bill_number",)
    search_help_text = "The start of a bill number, for example INV-10."
    list_select_related = ("vendor", "bank_account", "closed_by")
    list_per_page = 50
    ordering = ("-id",)
    actions = ["submit_selected", "approve_selected", "reject_selected", "cancel_selected", "pay_selected"]
    change_form_template = "admin/payables/payable/change_form.html"
    change_list_template = "admin/payables/payable/change_list.html"
    readonly_fields = (
        "total",
        "status_label",
        "dots_id",
        "dots_status",
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
    )

    # --- list --------------------------------------------------------------------------------

    @admin.display(description="total", ordering="total_cents")
    def total(self, payable):
        return format_html('<span class="money">{}</span>', format_cents(payable.total_cents))

    @admin.display(description="status", ordering="status")
    def status_label(self, payable):
        return format_html('<span class="status status-{}">{}</span>', payable.status, payable.get_status_display())

    def get_list_display(self, request):
        # "Next" depends on who looks (their own approval, or whose it waits for): a column bound to
        # this request, sharing one StepCache across the page's rows.
        cache = selectors.StepCache()

        def next_column(payable):
            return next_step.next_step(payable, request.user, cache)

        next_column.short_description = "next"  # type: ignore[attr-defined]
        return [next_column if name == "next_step" else name for name in super().get_list_display(request)]

    @admin.display(description="Dots transfer")
    def payment_transfer(self, payable):
        """The latest payment's transfer as the app that mirrors transfers last saw it (a failure days
        later shows here); the transfer's id alone when no app describes it."""
        shown = registry.record_detail("payables.payable", "payment_transfer", payable)
        return shown if shown is not None else (payable.dots_transfer_id or "none")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # A prefix on an indexed column: a substring scan over a million bills is not a search.
        return queryset.filter(Q(bill_number__startswith=term) | Q(bill_number__startswith=term.upper())), False

    # --- the draft form -------------------------------------------------------------------------

    def get_fields(self, request, obj=None):
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
            "dots_status",
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
        return {
            "payable": payable,
            "steps": steps,
            "can_submit": payable.status == S.CREATED and user.has_perm("payables.submit_payable"),
            "can_cancel": payable.status == S.CREATED and user.has_perm("payables.submit_payable"),
            # Only to someone who can decide the current step now (not its creator, not someone who
            # approved an earlier step and is not on this one, not someone who already approved it).
            "can_decide": next_step.may_approve(payable, user, cache),
            "can_pay": payable.status in next_step.PAYABLE
            and not bank_waits
            and payable.created_by_id != user.pk
            and user.has_perm("payables.pay_payable"),
            "can_check": payable.status in (S.OUTCOME_UNKNOWN, S.PAYMENT_INITIATED),
            "bank_unverified": not payable.bank_account.is_verified,
            "bank_account_link": next_step.bank_account_link(payable, user),
            "closing": next_step.closing(payable),
            "next_step": next_step.next_step(payable, user, cache),
        }

    # --- object actions (buttons on the change page) -------------------------------------------------

    def admin_pages(self):
        return [
            AdminPage("<int:pk>/act/<str:action>/", "action_view", "act"),
            AdminPage("bulk/<str:action>/", "bulk_view", "bulk"),
            AdminPage("from-file/", "from_file_view", "from_file"),
        ]

    def _action(self, request, action: str) -> PayableAction:
        """The action asked for, once the user may view payables and take it (403 otherwise)."""
        spec = PAYABLE_ACTIONS.get(action)
        if spec is None:
            raise PermissionDenied
        self.require(request, "payables.view_payable", *spec.perms)
        return spec

    def _change_url(self, payable):
        return reverse("admin:payables_payable_change", args=[payable.pk])

    def action_view(self, request, pk, action):
        """One payable's action page (its button): the confirmation, then the service."""
        spec = self._action(request, action)
        payable = get_object_or_404(Payable, pk=pk)
        return getattr(self, spec.method)(request, [payable], single=True)

    def _confirm_page(self, request, payables, *, action, title, form, intro="", matches=None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "payables": payables,
            "form": form,
            "action": action,
            "intro": intro,
            "matches": matches or [],
            "selection": PayableSelectionForm(initial={"ids": [p.pk for p in payables]}),
            "back_url": self._change_url(payables[0])
            if len(payables) == 1
            else reverse("admin:payables_payable_changelist"),
        }
        return TemplateResponse(request, "admin/payables/payable/confirm_action.html", context)

    def _finish(self, request, payables, outcomes, *, verb, single):
        if single:
            outcome = outcomes[0]
            if outcome.ok:
                self.message_user(request, f"{outcome.label}: {outcome.reason or verb + '.'}", messages.SUCCESS)
            elif outcome.queued:  # Dots is unreachable: good news all the same
                self.message_user(request, outcome.reason, messages.INFO)
            else:
                self.message_user(request, f"{outcome.label}: {outcome.reason}", messages.ERROR)
            return redirect(self._change_url(payables[0]))
        message_outcomes(self, request, outcomes, verb=verb)
        return redirect(reverse("admin:payables_payable_changelist"))

    def _do_submit(self, request, payables, *, single):
        if request.method != "POST":
            return redirect(self._change_url(payables[0]) if single else reverse("admin:payables_payable_changelist"))
        confirmed = bool(request.POST.get("confirm"))
        reason = request.POST.get("reason", "").strip() if confirmed else ""
        outcomes, duplicates = [], []
        for payable in payables:
            try:
                services.payable_submit(payable_id=payable.pk, actor=request.user, duplicate_reason=reason)
                outcomes.append(RowOutcome(payable.bill_number, True))
            except PossibleDuplicate as exc:
                duplicates.append((payable, exc.matches))
            except DomainError as exc:
                reason = without_label(payable.bill_number, str(exc))
                outcomes.append(RowOutcome(payable.bill_number, False, reason, exc.code))
        if duplicates:
            if outcomes:
                message_outcomes(self, request, outcomes, verb="submitted for approval")
            form = ReasonForm(request.POST if confirmed else None)
            if confirmed:
                form.is_valid()  # says a reason is needed
            return self._confirm_page(
                request,
                [p for p, _ in duplicates],
                action="submit",
                title="Possible duplicate",
                form=form,
                intro="These look like payables we already have. Check the matches; to submit anyway, "
                "say why (it is audited).",
                matches=[(payable, match) for payable, found in duplicates for match in found],
            )
        return self._finish(request, payables, outcomes, verb="submitted for approval", single=single)

    def _do_approve(self, request, payables, *, single):
        if single and not request.POST.get("confirm"):
            return self._confirm_page(request, payables, action="approve", title="Approve payable", form=CommentForm())
        comment = request.POST.get("comment", "")
        outcomes = [self._approve_one(request, p, comment) for p in payables]
        if single:
            return self._finish(request, payables, outcomes, verb="approved", single=True)
        # Two kinds of success: a payable fully approved, and one whose step only recorded this approval.
        full = [o for o in outcomes if o.ok and o.code == "approved"]
        partial = [o for o in outcomes if o.ok and o.code != "approved"]
        done, skipped = summarise([*full, *(o for o in outcomes if not o.ok)], verb="fully approved")
        if done:
            self.message_user(request, done, messages.SUCCESS)
        if partial:
            details = "; ".join(f"{o.label}: {o.reason.rstrip('.')}" for o in partial)
            self.message_user(request, f"{len(partial)} with your approval recorded: {details}.", messages.SUCCESS)
        if queued_text(outcomes):
            self.message_user(request, queued_text(outcomes), messages.INFO)
        if skipped:
            self.message_user(request, skipped, messages.WARNING if full or partial else messages.ERROR)
        return redirect(reverse("admin:payables_payable_changelist"))

    def _approve_one(self, request, payable, comment) -> RowOutcome:
        """One approval; a success says what it did (the payable approved, or a step recorded)."""
        try:
            done = services.payable_approve(payable_id=payable.pk, actor=request.user, comment=comment)
        except DomainError as exc:
            return RowOutcome(payable.bill_number, False, without_label(payable.bill_number, str(exc)), exc.code)
        code = "approved" if done.status == S.APPROVED else "step_recorded"
        return RowOutcome(payable.bill_number, True, next_step.approved_text(done), code)

    def _reasoned(self, request, payables, *, single, action, title, service, verb):
        form = ReasonForm(request.POST if request.POST.get("confirm") else None)
        if not form.is_bound or not form.is_valid():
            return self._confirm_page(request, payables, action=action, title=title, form=form)
        outcomes = [
            run_row(p.bill_number, service, payable_id=p.pk, actor=request.user, reason=form.cleaned_data["reason"])
            for p in payables
        ]
        return self._finish(request, payables, outcomes, verb=verb, single=single)

    def _do_reject(self, request, payables, *, single):
        return self._reasoned(
            request,
            payables,
            single=single,
            action="reject",
            title="Reject payables",
            service=services.payable_reject,
            verb="rejected",
        )

    def _do_cancel(self, request, payables, *, single):
        return self._reasoned(
            request,
            payables,
            single=single,
            action="cancel",
            title="Cancel payables",
            service=services.payable_cancel,
            verb="canceled",
        )

    def _do_pay(self, request, payables, *, single):
        needs_code = step_up_needed(request, settings.PAY_STEP_UP_SECONDS)
        confirmed = request.method == "POST" and bool(request.POST.get("confirm"))
        form = StepUpForm(request.POST if confirmed else None) if needs_code else None
        if confirmed and form is not None and form.is_valid():
            if not step_up_verify(request, form.cleaned_data["otp_token"]):
                form.add_error("otp_token", "That code is wrong or has expired. Enter the current six digits.")
        if not confirmed or (form is not None and form.errors):
            total = sum(p.total_cents for p in payables)
            return self._confirm_page(
                request,
                payables,
                action="pay",
                title="Confirm payment",
                form=form,
                intro=f"Pay {len(payables)} payable{'s' if len(payables) != 1 else ''}, "
                f"{format_cents(total)} in all, from the funding source each one names.",
            )
        outcomes = [run_row(p.bill_number, services.payable_pay, payable_id=p.pk, actor=request.user) for p in payables]
        return self._finish(request, payables, outcomes, verb="sent for payment", single=single)

    def _do_check(self, request, payables, *, single):
        if request.method != "POST":
            return redirect(self._change_url(payables[0]))
        outcomes = [
            run_row(p.bill_number, services.payable_reconcile_payment, payable_id=p.pk, actor=request.user)
            for p in payables
        ]
        return self._finish(request, payables, outcomes, verb="checked with Dots", single=single)

    # --- bulk actions on the list (same services, per-row outcomes) -------------------------------------

    def bulk_view(self, request, action):
        """The confirmation page of an action on the list's selection, posted back with the payables."""
        spec = self._action(request, action)
        if not spec.bulk:
            raise PermissionDenied
        selection = PayableSelectionForm(request.POST or None)
        if not selection.is_valid():
            raise PermissionDenied
        payables = list(selection.cleaned_data["ids"].order_by("id"))
        return getattr(self, spec.method)(request, payables, single=False)

    @admin.action(description="Submit selected payables for approval", permissions=["submit"])
    def submit_selected(self, request, queryset):
        return self._do_submit(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Approve selected payables", permissions=["approve"])
    def approve_selected(self, request, queryset):
        return self._do_approve(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Reject selected payables…", permissions=["approve"])
    def reject_selected(self, request, queryset):
        return self._do_reject(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Cancel selected payables…", permissions=["submit"])
    def cancel_selected(self, request, queryset):
        return self._do_cancel(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Pay selected payables…", permissions=["pay"])
    def pay_selected(self, request, queryset):
        return self._do_pay(request, list(queryset.order_by("id")), single=False)

    def has_submit_permission(self, request):
        return request.user.has_perm("payables.submit_payable")

    def has_approve_permission(self, request):
        return request.user.has_perm("payables.approve_payable")

    def has_pay_permission(self, request):
        return request.user.has_perm("payables.pay_payable")

    # --- create from a PDF ------------------------------------------------------------------------------

    def from_file_view(self, request):
        self.require(request, "payables.add_payable")
        form = PayableFromFileForm(request.POST or None, request.FILES or None)
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
