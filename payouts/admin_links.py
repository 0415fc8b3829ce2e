"""Payout links and payout requests in the admin: created on their add page, then read, never edited.

The record's page shows what an operator needs (payee, amount, status in words, when, the link to
copy, what happens next); the idempotency key, the request sent to Dots, the raw status history and
Dots' ids are under "Details for support". Registered here, imported by payouts.admin.
"""

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin_actions import message_outcomes, run_row
from core.admin_base import AdminPage
from core.errors import DomainError
from core.exports import ExportColumn, ExportMixin
from payouts import forms, transfers
from payouts.admin_shared import NothingToChangeAdmin, json_block, link_to, money, support_fieldset, when
from payouts.models import PayoutLink, PayoutRequest
from payouts.services import payout_links, payout_requests

_LINK = PayoutLink.Status
_REQUEST = PayoutRequest.Status
_WAITS_FOR_CLAIM = "Dots has sent the link; the payee claims the money with it. Nothing to do but wait."

# What happens next, for each status: the sentence an operator reads under the status.
LINK_NEXT = {
    _LINK.PENDING: "It will be sent to Dots in a moment; this page shows Dots' answer.",
    _LINK.UNKNOWN: (
        "Dots did not answer. The next check with Dots finds it by its key; “Retry creating” on the list "
        "sends the same request again and never makes a second link."
    ),
    _LINK.REFUSED: (
        "Dots refused it (the error is below). Fix the cause, for example the wallet balance, then use "
        "“Retry creating” on the list."
    ),
    _LINK.CREATED: "Dots has made the link. Copy it below for the payee, or wait for Dots to deliver it.",
    _LINK.DELIVERY_PENDING: "Dots is delivering the link to the payee.",
    _LINK.DELIVERY_FAILED: "Dots could not deliver it: use “Redeliver selected links”, or copy the link and send it.",
    _LINK.SENT: _WAITS_FOR_CLAIM,
    _LINK.DELIVERED: _WAITS_FOR_CLAIM,
    _LINK.CLAIMED: "The payee has claimed the money; the transfer shows when it reaches them.",
    _LINK.EXPIRED: "The payee did not claim it in time. Create a new link if the money is still owed.",
    _LINK.FAILED: "Dots could not pay it out. Create a new link if the money is still owed.",
    _LINK.CANCELED: "Nothing will be paid with this link.",
    _LINK.REVERSED: "The payment was taken back after it was claimed.",
}
REQUEST_NEXT = {
    _REQUEST.PENDING: "It will be sent to Dots in a moment; this page shows Dots' answer.",
    _REQUEST.UNKNOWN: "Dots did not answer. The next check with Dots finds it by its key; nothing is sent twice.",
    _REQUEST.REFUSED: "Dots refused it (the error is below). Fix the cause, then use “Retry creating” on the list.",
    _REQUEST.CREATED: "Someone must approve it in Dots' dashboard; then Dots makes a payout link for the payee.",
    _REQUEST.APPROVED: "Approved in Dots: the payout link below pays the payee.",
    _REQUEST.REJECTED: "Rejected in Dots: nothing will be paid.",
}


def status_words(model, status: str) -> str:
    """The status in words; a status Dots added since (not in our list) is shown as Dots names it."""
    return dict(model.Status.choices).get(status, status.replace("_", " ").capitalize())


def created_message(obj, noun: str) -> str:
    """The message after creating a link or request, in plain words."""
    to = f" to {obj.payee.first_name} {obj.payee.last_name}" if obj.payee_id else ""
    if getattr(obj, "phone_e164", "") and not obj.payee_id:
        to = f" to {obj.phone_e164}"
    head = f"{noun} for {money(obj.amount_cents)}{to}"
    if obj.status == obj.Status.PENDING:
        return f"{head} saved; it will be sent to Dots in a moment."
    words = status_words(type(obj), obj.status)
    text = f"{head}: {words[:1].lower()}{words[1:]}."
    return f"{text} {obj.last_dots_error}" if obj.last_dots_error else text


class _PayoutAdmin(NothingToChangeAdmin):
    NEXT: dict = {}

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return money(obj.amount_cents)

    @admin.display(description="status", ordering="status")
    def status_shown(self, obj):
        return status_words(self.model, obj.status)

    @admin.display(description="what happens next")
    def next_step(self, obj):
        return self.NEXT.get(obj.status, "Dots moves it on; this page shows each change.")

    @admin.display(description="payee")
    def payee_shown(self, obj):
        if obj.payee_id is None:
            return getattr(obj, "phone_e164", "") or "anyone who has the link"
        return link_to(obj.payee, "payouts_payee", str(obj.payee))

    @admin.display(description="created")
    def created(self, obj):
        return f"{when(obj.created_at)} by {obj.created_by}"

    @admin.display(description="last change")
    def updated(self, obj):
        return when(obj.updated_at)

    @admin.display(description="idempotency key")
    def key(self, obj):
        return str(obj.idempotency_key)

    @admin.display(description="request sent to Dots")
    def request_json(self, obj):
        return json_block(obj.request_body)

    @admin.display(description="Dots id")
    def dots_id_shown(self, obj):
        return obj.dots_id or "not in Dots yet"

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and obj.last_dots_error:
            main = fieldsets[0][1]
            fieldsets[0] = (fieldsets[0][0], {**main, "fields": (*main["fields"], "last_error")})
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "last_error"]


@admin.register(PayoutLink)
class PayoutLinkAdmin(ExportMixin, _PayoutAdmin):
    export_columns = (
        ExportColumn("Payout link", "id", "number"),
        ExportColumn("Payee first name", "payee__first_name"),
        ExportColumn("Payee last name", "payee__last_name"),
        ExportColumn("Amount", "amount_cents", "money"),
        ExportColumn("Delivery", "delivery_method"),
        ExportColumn("Status", "status"),
        ExportColumn("Tax exempt", "tax_exempt", "bool"),
        ExportColumn("Memo", "memo"),
        ExportColumn("Created by", "created_by__username"),
        ExportColumn("Created", "created_at", "datetime"),
        ExportColumn("Dots id", "dots_id"),
    )
    NEXT = LINK_NEXT
    list_display = ("__str__", "payee", "amount", "delivery_method", "status_shown", "created_at")
    list_filter = ("status", "delivery_method")
    search_fields = ("=dots_id",)
    actions = ("refresh_from_dots", "retry_create", "cancel_links", "redeliver")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "payee_shown",
                    "amount",
                    "status_shown",
                    "next_step",
                    "link_to_copy",
                    "delivery_method",
                    "memo",
                    "tax_exempt_shown",
                    "transfer_shown",
                    "history",
                    "created",
                    "updated",
                )
            },
        ),
        support_fieldset(
            "id",
            "dots_id_shown",
            "key",
            "request_json",
            "timeline_json",
            "claimed_user_id",
            "transfer_dots_id",
            "last_attempt",
        ),
    )

    class Media:
        js = ("payouts/copy_link.js",)
        css = {"all": ("payouts/payouts.css",)}

    @admin.display(description="link to copy")
    def link_to_copy(self, obj):
        if not obj.link:
            return "Dots has not made the link yet."
        return format_html(
            '<input type="text" readonly class="vTextField ll-copy-source" id="payout-link-url" value="{}" '
            'aria-label="Link to claim the money"> <button type="button" class="button ll-copy" '
            'data-copy="payout-link-url">Copy</button>',
            obj.link,
        )

    @admin.display(description="tax exempt")
    def tax_exempt_shown(self, obj):
        return "Yes" if obj.tax_exempt else "No"

    @admin.display(description="transfer")
    def transfer_shown(self, obj):
        transfer = transfers.transfer_of_payout_link(obj) if obj.pk else None
        if transfer is None:
            return "none seen yet"
        label = transfer.get_status_display()
        if transfer.failure_reason:
            label += f": {transfer.failure_reason}"
        return link_to(transfer, "payouts_transfer", f"{label} ({money(transfer.amount_cents)})")

    @admin.display(description="status history")
    def history(self, obj):
        if not obj.timeline:
            return "Not in Dots yet."
        rows = [(when(e.get("seen_at")), status_words(PayoutLink, e.get("status", ""))) for e in obj.timeline]
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)

    @admin.display(description="status history as Dots reported it")
    def timeline_json(self, obj):
        return json_block(obj.timeline)

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
                messages.success(request, created_message(link, "Payout link"))
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
class PayoutRequestAdmin(ExportMixin, _PayoutAdmin):
    export_columns = (
        ExportColumn("Payout request", "id", "number"),
        ExportColumn("Payee first name", "payee__first_name"),
        ExportColumn("Payee last name", "payee__last_name"),
        ExportColumn("Phone", "phone_e164"),
        ExportColumn("Amount", "amount_cents", "money"),
        ExportColumn("Status", "status"),
        ExportColumn("Memo", "memo"),
        ExportColumn("Created by", "created_by__username"),
        ExportColumn("Created", "created_at", "datetime"),
        ExportColumn("Dots id", "dots_id"),
    )
    NEXT = REQUEST_NEXT
    list_display = ("__str__", "payee", "phone_e164", "amount", "status_shown", "payout_link_shown", "created_at")
    list_filter = ("status",)
    search_fields = ("=dots_id",)
    actions = ("refresh_from_dots", "retry_create")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "payee_shown",
                    "amount",
                    "status_shown",
                    "next_step",
                    "payout_link_shown",
                    "memo",
                    "created",
                    "updated",
                )
            },
        ),
        support_fieldset("id", "dots_id_shown", "key", "request_json", "last_attempt"),
    )

    @admin.display(description="payout link")
    def payout_link_shown(self, obj):
        if not obj.payout_link_id:
            return "none yet" if obj.status != _REQUEST.REJECTED else "none"
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
                messages.success(request, created_message(payout_request, "Payout request"))
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
