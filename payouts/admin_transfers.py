"""Money moved for payees in the admin: transfers into their wallets, payouts out of them, payout batches.

For both, a Payouts operator asks and a Payer who did not ask approves (with a fresh authenticator
code) and it is sent, or rejects it with a reason. `AskedAndApprovedAdmin` holds the pages they
share; each subclass names its service module (ASK, APPROVE, approve, reject) and its ask page.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Case, When
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.admin_base import AdminPage
from core.errors import ActionQueued, DomainError
from core.two_factor import step_up_given, without_code_if_fresh
from payouts import forms
from payouts.admin_shared import NothingToChangeAdmin, money, support_fieldset, when
from payouts.models import Payee, PayeePayout, PayeeTransfer, PayoutBatch, PayoutBatchItem
from payouts.services import payee_payouts, payee_transfers, payout_batches

AWAITING_APPROVAL = "awaiting_approval"
_DECISION_FIELDS = ("requested_by", "requested", "decided_by", "decided", "decision_note")
_SUPPORT = ("id", "dots_transfer_id", "idempotency_key", "sent", "last_error", "last_attempt")


class AskedAndApprovedAdmin(NothingToChangeAdmin):
    """The record's page, and its approve and reject pages (the approver gives a fresh code)."""

    service = payee_transfers  # the module: ASK, APPROVE and the approve/reject functions
    list_filter = ("status",)
    search_fields = ("=dots_transfer_id", "payee__last_name__istartswith")

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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_decide": request.user.has_perm(self.service.APPROVE), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def _record_url(self, obj) -> str:
        return reverse(f"admin:payouts_{self.model._meta.model_name}_change", args=[obj.pk])

    def approve_page(self, request, object_id):
        return self._decide(request, object_id, approve=True)

    def reject_page(self, request, object_id):
        return self._decide(request, object_id, approve=False)

    def approve(self, request, obj, note: str):
        raise NotImplementedError

    def reject(self, request, obj, reason: str):
        raise NotImplementedError

    def facts(self, obj) -> list[tuple[str, str]]:
        return [
            ("Payee", f"{obj.payee.first_name} {obj.payee.last_name}"),
            ("Amount", money(obj.amount_cents)),
            ("Why", obj.reason),
            ("Asked for by", f"{obj.requested_by} on {when(obj.created_at)}"),
        ]

    def _decide(self, request, object_id, *, approve: bool):
        self.require(request, self.service.APPROVE)
        obj = get_object_or_404(self.model, pk=object_id)
        submit = "Approve and send" if approve else "Reject"
        title = f"{submit} {obj}"
        refusal = ""
        if obj.requested_by_id == request.user.pk:
            # Said before any code is asked: the asker never decides, whatever they type.
            refusal = f"You asked for {obj}; another Payer must decide on it."
        elif obj.status != AWAITING_APPROVAL:
            refusal = f"Nothing to decide: it is {obj.get_status_display().lower()}."
        if refusal:
            return self.refusal_page(request, title=title, obj=obj, refusal=refusal, rows=self.facts(obj))
        if approve:
            form = without_code_if_fresh(request, forms.ApproveAndSendForm(request.POST or None))
        else:
            form = forms.DecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and (not approve or step_up_given(request, form)):
            note = form.cleaned_data["note"]
            try:
                if approve:
                    self.approve(request, obj, note)
                else:
                    self.reject(request, obj, note)
            except ActionQueued as exc:
                messages.info(request, f"{obj} approved. {exc}")
            except DomainError as exc:
                obj.refresh_from_db()
                if obj.status == AWAITING_APPROVAL:
                    form.add_error(None, str(exc))
                    return self.form_page(request, form, title=title, obj=obj, rows=self.facts(obj), submit=submit)
                messages.error(request, str(exc))
            else:
                obj.refresh_from_db()
                messages.success(request, f"{obj}: {obj.get_status_display()}.")
            return redirect(self._record_url(obj))
        return self.form_page(request, form, title=title, obj=obj, rows=self.facts(obj), submit=submit)


@admin.register(PayeeTransfer)
class PayeeTransferAdmin(AskedAndApprovedAdmin):
    service = payee_transfers
    list_display = ("__str__", "status_shown", "reason", "requested_by", "decided_by", "created_at")
    change_form_template = "admin/payouts/payeetransfer/change_form.html"
    fieldsets = (
        (None, {"fields": ("payee", "amount", "reason", "status_shown", "failure_reason", *_DECISION_FIELDS)}),
        support_fieldset(*_SUPPORT),
    )

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
                return redirect(self._record_url(transfer))
        return self.form_page(request, form, title="Move money to a payee's wallet")

    def approve(self, request, obj, note: str):
        payee_transfers.transfer_approve(actor=request.user, transfer_id=obj.pk, note=note)

    def reject(self, request, obj, reason: str):
        payee_transfers.transfer_reject(actor=request.user, transfer_id=obj.pk, reason=reason)


@admin.register(PayeePayout)
class PayeePayoutAdmin(AskedAndApprovedAdmin):
    service = payee_payouts
    list_display = ("__str__", "status_shown", "payout_method_words", "reason", "requested_by", "created_at")
    change_form_template = "admin/payouts/payeetransfer/change_form.html"  # approve / reject, as for transfers
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "payee",
                    "amount",
                    "payout_method_words",
                    "reason",
                    "status_shown",
                    "failure_reason",
                    "refusal",
                    *_DECISION_FIELDS,
                )
            },
        ),
        support_fieldset(*_SUPPORT, "payout_method_id"),
    )

    @admin.display(description="Dots' refusal")
    def refusal(self, obj):
        if obj.status == PayeePayout.Status.REFUSED:
            return obj.last_dots_error or "refused"
        return "none"

    def facts(self, obj):
        return [*super().facts(obj), ("Paid to", obj.payout_method_words)]

    def add_page(self, request):
        """First the payee, then (with the methods Dots lists for them) the method, amount and reason."""
        self.require(request, payee_payouts.ASK)
        payee_id = request.POST.get("payee") or request.GET.get("payee")
        known = payee_id is not None and payee_id.isdigit()
        payee = Payee.objects.filter(pk=payee_id, dots_user_id__isnull=False).first() if known else None
        if payee is None:
            form = forms.ChoosePayeeForm(request.GET if "payee" in request.GET else None)
            return self.form_page(
                request,
                form,
                title="Pay out from a payee's wallet",
                intro="Choose the payee first: their payout methods are then read from Dots.",
                submit="Next: choose the payout method",
                method="get",
            )
        try:
            options = payee_payouts.payout_method_options(payee_id=payee.pk, actor=request.user)
        except DomainError as exc:
            return self.refusal_page(request, title=f"Pay out from {payee}'s wallet", refusal=str(exc))
        if not options:
            return self.refusal_page(
                request,
                title=f"Pay out from {payee}'s wallet",
                refusal=f"{payee} has no payout method in Dots yet: add one on the payee's page, Payout methods.",
            )
        form = forms.PayeePayoutForm(request.POST or None, payee=payee, options=options)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                payout = payee_payouts.payout_request(
                    actor=request.user,
                    payee_id=payee.pk,
                    amount_cents=data["amount"],
                    payout_method=form.chosen_method(),
                    reason=data["reason"],
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{payout}: asked for. A Payer approves it before it is sent.")
                return redirect(self._record_url(payout))
        wallet = money(payee.wallet_cents) if payee.wallet_cents is not None else "not read yet"
        return self.form_page(
            request,
            form,
            title=f"Pay out from {payee}'s wallet",
            rows=[("Payee", str(payee)), ("Wallet, as last read from Dots", wallet)],
            intro="The money leaves the payee's own Dots wallet for the payout method chosen below.",
            submit="Ask for this payout",
        )

    def approve(self, request, obj, note: str):
        payee_payouts.payout_approve(actor=request.user, payout_id=obj.pk, note=note)

    def reject(self, request, obj, reason: str):
        payee_payouts.payout_reject(actor=request.user, payout_id=obj.pk, reason=reason)


@admin.register(PayoutBatch)
class PayoutBatchAdmin(AskedAndApprovedAdmin):
    service = payout_batches
    list_display = ("__str__", "status_shown", "outcomes", "reason", "requested_by", "created_at")
    search_fields = ("=dots_batch_id",)
    change_form_template = "admin/payouts/payoutbatch/change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "payees",
                    "total",
                    "reason",
                    "status_shown",
                    "outcomes",
                    "refusal",
                    "results_read",
                    *_DECISION_FIELDS,
                )
            },
        ),
        support_fieldset("id", "dots_batch_id", "idempotency_key", "sent", "last_error", "last_attempt"),
    )
    SHOWN_ITEMS = 500

    @admin.display(description="payees")
    def payees(self, obj):
        return f"{obj.item_count:,}"

    @admin.display(description="total", ordering="total_cents")
    def total(self, obj):
        return money(obj.total_cents)

    @admin.display(description="outcomes")
    def outcomes(self, obj):
        return payout_batches.outcome_summary(obj)

    @admin.display(description="Dots' refusal")
    def refusal(self, obj):
        if obj.status == PayoutBatch.Status.REFUSED:
            return obj.last_dots_error or "refused"
        return "none"

    @admin.display(description="outcomes last read from Dots")
    def results_read(self, obj):
        return when(obj.results_read_at) if obj.results_read_at else "not yet"

    def facts(self, obj):
        return [
            ("Payees", f"{obj.item_count:,}"),
            ("Total from the app wallet", money(obj.total_cents)),
            ("Why", obj.reason),
            ("Built by", f"{obj.requested_by} on {when(obj.created_at)}"),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = PayoutBatch.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        extra = dict(extra_context or {})
        if batch is not None:
            items = list(
                batch.items.select_related("payee")
                .annotate(first=Case(When(status__in=PayoutBatchItem.NOT_PAID, then=0), default=1))
                .order_by("first", "id")[: self.SHOWN_ITEMS]
            )
            extra.update(
                items=[
                    {
                        "payee": f"{item.payee.first_name} {item.payee.last_name}",
                        "amount": money(item.amount_cents),
                        "outcome": item.get_status_display(),
                        "reason": item.reason,
                    }
                    for item in items
                ],
                more_items=max(0, batch.item_count - len(items)),
                outcome_summary=payout_batches.outcome_summary(batch),
            )
        return super().change_view(request, object_id, form_url, extra)

    def add_page(self, request):
        self.require(request, payout_batches.ASK)
        form = forms.PayoutBatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                batch = payout_batches.batch_request(actor=request.user, rows=data["chosen"], reason=data["reason"])
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{batch}: built. A Payer approves it before it is sent.")
                return redirect(self._record_url(batch))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Build a payout batch",
            "form": form,
            "max_items": f"{PayoutBatch.MAX_ITEMS:,}",
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/payouts/payoutbatch/build.html", context)

    def approve(self, request, obj, note: str):
        payout_batches.batch_approve(actor=request.user, batch_id=obj.pk, note=note)

    def reject(self, request, obj, reason: str):
        payout_batches.batch_reject(actor=request.user, batch_id=obj.pk, reason=reason)


def pay_out_in_batch_page(model_admin, request, queryset):
    """The payee list's action: one amount for every chosen payee, built into one payout batch."""
    chosen = list(queryset.order_by("first_name", "last_name", "id"))
    in_dots = [payee for payee in chosen if payee.dots_user_id]
    form = forms.OneAmountBatchForm(request.POST if request.POST.get("post") == "yes" else None)
    refusal = ""
    if not in_dots:
        refusal = "None of the chosen payees has a Dots user yet: nothing can be paid to them."
    elif len(in_dots) > PayoutBatch.MAX_ITEMS:
        refusal = f"A batch holds at most {PayoutBatch.MAX_ITEMS:,} payees (Dots' limit); {len(in_dots):,} are chosen."
    if not refusal and form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            batch = payout_batches.batch_request(
                actor=request.user, rows=[(payee.pk, data["amount"]) for payee in in_dots], reason=data["reason"]
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{batch}: built. A Payer approves it before it is sent.")
            return redirect(reverse("admin:payouts_payoutbatch_change", args=[batch.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Pay out to the chosen payees in one batch",
        "form": form,
        "refusal": refusal,
        "count": len(in_dots),
        "not_in_dots": len(chosen) - len(in_dots),
        "shown": in_dots[:20],
        "more": max(0, len(in_dots) - 20),
        "selected": [payee.pk for payee in chosen],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/payouts/payee/batch.html", context)
