"""Transfers to payees in the admin: a Payouts operator asks, a Payer who did not ask approves (and it is sent)."""

from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from core.admin_base import AdminPage
from core.errors import ActionQueued, DomainError
from core.two_factor import step_up_given, without_code_if_fresh
from payouts import forms
from payouts.admin_shared import NothingToChangeAdmin, money, support_fieldset, when
from payouts.models import PayeeTransfer
from payouts.services import payee_transfers

S = PayeeTransfer.Status


@admin.register(PayeeTransfer)
class PayeeTransferAdmin(NothingToChangeAdmin):
    list_display = ("__str__", "status_shown", "reason", "requested_by", "decided_by", "created_at")
    list_filter = ("status",)
    search_fields = ("=dots_transfer_id", "payee__last_name__istartswith")
    change_form_template = "admin/payouts/payeetransfer/change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "payee",
                    "amount",
                    "reason",
                    "status_shown",
                    "failure_reason",
                    "requested_by",
                    "requested",
                    "decided_by",
                    "decided",
                    "decision_note",
                )
            },
        ),
        support_fieldset("id", "dots_transfer_id", "idempotency_key", "sent", "last_error", "last_attempt"),
    )

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return money(obj.amount_cents)

    @admin.display(description="status", ordering="status")
    def status_shown(self, obj):
        return obj.get_status_display()

    @admin.display(description="requested at")
    def requested(self, obj):
        return when(obj.created_at)

    @admin.display(description="approved or rejected at")
    def decided(self, obj):
        return when(obj.decided_at) if obj.decided_at else "not yet"

    @admin.display(description="first sent to Dots")
    def sent(self, obj):
        return when(obj.sent_at) if obj.sent_at else "not yet"

    def admin_pages(self):
        return [
            AdminPage("add/", "add_page", "add"),
            AdminPage("<int:object_id>/approve/", "approve_page", "approve"),
            AdminPage("<int:object_id>/reject/", "reject_page", "reject"),
        ]

    def add_page(self, request):
        self.require(request, payee_transfers.ASK)
        form = forms.PayeeTransferForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                transfer = payee_transfers.transfer_request(
                    actor=request.user, payee_id=data["payee"].pk, amount_cents=data["amount"], reason=data["reason"]
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{transfer}: asked for. A Payer approves it before it is sent.")
                return redirect(reverse("admin:payouts_payeetransfer_change", args=[transfer.pk]))
        return self.form_page(request, form, title="Move money to a payee's wallet")

    def approve_page(self, request, object_id):
        return self._decide(request, object_id, approve=True)

    def reject_page(self, request, object_id):
        return self._decide(request, object_id, approve=False)

    def _decide(self, request, object_id, *, approve: bool):
        self.require(request, payee_transfers.APPROVE)
        transfer = get_object_or_404(PayeeTransfer, pk=object_id)
        title = self._title(transfer, approve)
        refusal = ""
        if transfer.requested_by_id == request.user.pk:
            # Said before any code is asked: the asker never decides, whatever they type.
            refusal = f"You asked for {transfer}; another Payer must decide on it."
        elif transfer.status != S.AWAITING_APPROVAL:
            refusal = f"Nothing to decide: it is {transfer.get_status_display().lower()}."
        if refusal:
            return self.refusal_page(request, title=title, obj=transfer, refusal=refusal, rows=self._facts(transfer))
        if approve:
            form = without_code_if_fresh(request, forms.ApproveAndSendForm(request.POST or None))
        else:
            form = forms.DecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and (not approve or step_up_given(request, form)):
            note = form.cleaned_data["note"]
            try:
                if approve:
                    payee_transfers.transfer_approve(actor=request.user, transfer_id=transfer.pk, note=note)
                else:
                    payee_transfers.transfer_reject(actor=request.user, transfer_id=transfer.pk, reason=note)
            except ActionQueued as exc:
                messages.info(request, f"{transfer} approved. {exc}")
            except DomainError as exc:
                transfer.refresh_from_db()
                if transfer.status == S.AWAITING_APPROVAL:
                    form.add_error(None, str(exc))
                    return self.form_page(request, form, title=title, obj=transfer, rows=self._facts(transfer))
                messages.error(request, str(exc))
            else:
                transfer.refresh_from_db()
                messages.success(request, f"{transfer}: {transfer.get_status_display()}.")
            return redirect(reverse("admin:payouts_payeetransfer_change", args=[transfer.pk]))
        return self.form_page(request, form, title=title, obj=transfer, rows=self._facts(transfer))

    @staticmethod
    def _facts(transfer):
        return [
            ("Payee", f"{transfer.payee.first_name} {transfer.payee.last_name}"),
            ("Amount", money(transfer.amount_cents)),
            ("Why", transfer.reason),
            ("Asked for by", f"{transfer.requested_by} on {when(transfer.created_at)}"),
        ]

    @staticmethod
    def _title(transfer, approve: bool) -> str:
        return f"{'Approve and send' if approve else 'Reject'} {transfer}"
