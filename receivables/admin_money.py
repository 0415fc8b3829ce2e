"""Payment intents, checkout sessions and payments from customers in the admin (imported by receivables.admin).

A new intent's client secret is shown once, on the page the create answers with (rendered from the
POST itself: no redirect, no message storage, nothing kept), and never again.
"""

from django import forms as django_forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin_base import AdminPage
from core.errors import DomainError
from payouts.admin_shared import link_to, money, support_fieldset, when
from receivables import forms
from receivables.admin import MoneyInAdmin, status_words
from receivables.errors import AlreadyRequested
from receivables.models import CheckoutSession, Payment, PaymentIntent
from receivables.services import intents, payments, sessions

_INTENT = PaymentIntent.Status
INTENT_NEXT = {
    _INTENT.PENDING: "It has not reached Dots yet: use “Send to Dots again” on the list.",
    _INTENT.UNKNOWN: "Dots did not answer. The next check finds it by its key; nothing is created twice.",
    _INTENT.REFUSED: "Dots refused it (the error is below). Fix the cause, then “Send to Dots again”.",
    _INTENT.REQUIRES_PAYMENT_METHOD: "Waiting for the customer to give a payment method, or confirm it with one "
    "attached to the customer.",
    _INTENT.REQUIRES_CONFIRMATION: "Confirm it with the customer's payment method to collect the money.",
    _INTENT.SUCCEEDED: "The payment succeeded; the money reaches the app wallet when Dots settles it.",
    _INTENT.FAILED: "The payment failed. Create a new intent if the money is still owed.",
    _INTENT.CANCELED: "Nothing will be collected with this intent.",
}
_SESSION = CheckoutSession.Status
SESSION_NEXT = {
    _SESSION.PENDING: "It has not reached Dots yet: use “Send to Dots again” on the list.",
    _SESSION.UNKNOWN: "Dots did not answer. The next check finds it by its key; nothing is created twice.",
    _SESSION.REFUSED: "Dots refused it (the error is below). Fix the cause, then “Send to Dots again”.",
    _SESSION.OPEN: "Send the payment page to the customer; this page follows it until they pay or it expires.",
    _SESSION.COMPLETE: "The customer paid; the payment intent below shows the payment.",
    _SESSION.EXPIRED: "The customer did not pay in time. Create a new session if the money is still owed.",
}
_PAYMENT = Payment.Status
PAYMENT_NEXT = {
    _PAYMENT.PENDING: "It has not reached Dots yet.",
    _PAYMENT.UNKNOWN: "Dots did not answer. The next check finds it by its key; it is never sent twice.",
    _PAYMENT.REFUSED: "Nothing was collected (the reason is below). Collect it again if the money is still owed.",
    _PAYMENT.CREATED: "Dots has started the bank debit; it takes a few days.",
    _PAYMENT.TRANSFER_PENDING: "The bank debit is on its way.",
    _PAYMENT.FLAGGED: "Dots is reviewing it before it goes on.",
    _PAYMENT.COMPLETED: "The money is in the app wallet.",
    _PAYMENT.FAILED: "The bank debit failed (the reason is below).",
    _PAYMENT.REVERSED: "The payment was taken back after it arrived.",
    _PAYMENT.CANCELED: "Nothing will be collected.",
}


class _Next:
    NEXT: dict = {}

    @admin.display(description="what happens next")
    def next_step(self, obj):
        return self.NEXT.get(obj.status, "Dots moves it on; this page shows each change.")

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return money(obj.amount_cents)


@admin.register(PaymentIntent)
class PaymentIntentAdmin(_Next, MoneyInAdmin):
    SHOWN_TO_SOME = ("confirm_link",)
    NEXT = INTENT_NEXT
    list_display = ("__str__", "customer", "amount", "status_shown", "created_at")
    list_filter = ("status",)
    search_fields = ("=dots_id",)
    actions = ("refresh_from_dots", "retry_create")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer_shown",
                    "amount",
                    "description",
                    "labels_shown",
                    "status_shown",
                    "next_step",
                    "method_shown",
                    "created",
                    "updated",
                )
            },
        ),
        support_fieldset("id", "dots_id_shown", "dots_transfer_id", "key", "request_json", "last_attempt"),
    )

    class Media:
        js = ("receivables/copy.js",)

    @admin.display(description="labels")
    def labels_shown(self, obj):
        if not obj.labels:
            return "none"
        return format_html_join(mark_safe("<br>"), "{}: {}", sorted(obj.labels.items()))

    @admin.display(description="payment method")
    def method_shown(self, obj):
        if obj.payment_method_id is None:
            return "none yet"
        return link_to(obj.payment_method, "receivables_paymentmethod", str(obj.payment_method))

    @admin.display(description="confirm")
    def confirm_link(self, obj):
        if obj.status not in (_INTENT.REQUIRES_PAYMENT_METHOD, _INTENT.REQUIRES_CONFIRMATION):
            return "nothing to confirm"
        url = reverse("admin:receivables_paymentintent_confirm", args=[obj.pk])
        return format_html('<a class="button" href="{}">Confirm with a payment method</a>', url)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not request.user.has_perm(intents.CONFIRM):
            return fieldsets
        main = fieldsets[0][1]
        return [(fieldsets[0][0], {**main, "fields": (*main["fields"], "confirm_link")}), *fieldsets[1:]]

    def admin_pages(self):
        return [AdminPage("add/", "add_page", "add"), AdminPage("<path:object_id>/confirm/", "confirm_page", "confirm")]

    def add_page(self, request):
        self.require(request, intents.ADD)
        form = forms.PaymentIntentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                intent = intents.payment_intent_request(
                    actor=request.user,
                    amount_cents=data["amount"],
                    customer_id=data["customer"].pk,
                    description=data["description"],
                    labels=data["labels"],
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                try:
                    intent, secret = intents.payment_intent_push(payment_intent_id=intent.pk, actor=request.user)
                except DomainError as exc:
                    return self.after_create(request, intent, "paymentintent", exc)
                return self.created_page(request, intent, secret)
        return self.page(request, form, title="Create payment intent")

    def created_page(self, request, intent, secret: str):
        """Dots' answer, with the client secret shown this once (never stored, never logged)."""
        summary = (
            f"{intent} for {money(intent.amount_cents)} from {intent.customer} is in Dots: "
            f"{status_words(PaymentIntent, intent.status).lower()}."
        )
        if not secret:
            summary += " Dots' answer was found after it was lost, so its client secret cannot be shown."
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{intent} created",
            "intent": intent,
            "summary": summary,
            "client_secret": secret,
            "media": django_forms.Media(js=["receivables/copy.js"]),
        }
        return TemplateResponse(request, "admin/receivables/intent_created.html", context)

    def confirm_page(self, request, object_id):
        self.require(request, intents.CONFIRM)
        intent = self.get_object(request, object_id)
        if intent is None:
            return redirect(reverse("admin:receivables_paymentintent_changelist"))
        form = forms.ConfirmIntentForm(request.POST or None, intent=intent)
        if request.method == "POST" and form.is_valid():
            try:
                intent = intents.payment_intent_confirm(
                    payment_intent_id=intent.pk,
                    payment_method_id=form.cleaned_data["payment_method"].pk,
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{intent} confirmed: {status_words(PaymentIntent, intent.status).lower()}.")
                return redirect(reverse("admin:receivables_paymentintent_change", args=[intent.pk]))
        return self.page(request, form, title=f"Confirm {intent} ({money(intent.amount_cents)})")

    @admin.action(description="Refresh selected intents from Dots", permissions=["change"])
    def refresh_from_dots(self, request, queryset):
        self.each(request, queryset, intents.payment_intent_refresh, "refreshed", "payment_intent_id")

    @admin.action(description="Send to Dots again", permissions=["add"])
    def retry_create(self, request, queryset):
        self.each(request, queryset, _push_intent, "sent", "payment_intent_id")


def _push_intent(*, payment_intent_id, actor):
    intents.payment_intent_push(payment_intent_id=payment_intent_id, actor=actor)


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(_Next, MoneyInAdmin):
    NEXT = SESSION_NEXT
    list_display = ("__str__", "customer", "total", "status_shown", "expires", "created_at")
    list_filter = ("status",)
    search_fields = ("=dots_id",)
    actions = ("refresh_from_dots", "retry_create")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer_shown",
                    "items_shown",
                    "total",
                    "status_shown",
                    "next_step",
                    "url_to_copy",
                    "expires",
                    "intent_shown",
                    "success_url",
                    "cancel_url",
                    "created",
                    "updated",
                )
            },
        ),
        support_fieldset("id", "dots_id_shown", "key", "request_json", "last_attempt"),
    )

    class Media:
        js = ("receivables/copy.js",)

    @admin.display(description="total", ordering="amount_total_cents")
    def total(self, obj):
        return money(obj.amount_total_cents)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj):
        return when(obj.expires_at) or "not known yet"

    @admin.display(description="items")
    def items_shown(self, obj):
        rows = [
            (
                i.get("quantity"),
                i.get("name"),
                money(i.get("unit_amount_cents")),
                money(i.get("unit_amount_cents", 0) * i.get("quantity", 0)),
            )
            for i in obj.line_items
        ]
        return format_html_join(mark_safe("<br>"), "{} × {} at {} = {}", rows)

    @admin.display(description="payment page to copy")
    def url_to_copy(self, obj):
        if not obj.url:
            return "Dots has not made the page yet."
        return format_html(
            '<input type="text" readonly class="vTextField ll-copy-source" id="checkout-url" value="{}" '
            'aria-label="Payment page for the customer"> <button type="button" class="button ll-copy" '
            'data-copy="checkout-url">Copy</button>',
            obj.url,
        )

    @admin.display(description="payment intent")
    def intent_shown(self, obj):
        if obj.payment_intent_id is None:
            return "none yet"
        intent = obj.payment_intent
        label = f"{intent}: {status_words(PaymentIntent, intent.status).lower()}"
        return link_to(intent, "receivables_paymentintent", label)

    def admin_pages(self):
        return [AdminPage("add/", "add_page", "add")]

    def add_page(self, request):
        self.require(request, sessions.ADD)
        form = forms.CheckoutSessionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                session = sessions.checkout_session_request(
                    actor=request.user,
                    line_items=data["line_items"],
                    success_url=data["success_url"],
                    cancel_url=data["cancel_url"],
                    customer_id=data["customer"].pk if data["customer"] else None,
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                try:
                    sessions.checkout_session_push(checkout_session_id=session.pk, actor=request.user)
                except DomainError as exc:
                    return self.after_create(request, session, "checkoutsession", exc)
                return self.after_create(request, session, "checkoutsession")
        return self.page(request, form, title="Create checkout session")

    @admin.action(description="Refresh selected sessions from Dots", permissions=["change"])
    def refresh_from_dots(self, request, queryset):
        self.each(request, queryset, sessions.checkout_session_refresh, "refreshed", "checkout_session_id")

    @admin.action(description="Send to Dots again", permissions=["add"])
    def retry_create(self, request, queryset):
        self.each(request, queryset, sessions.checkout_session_push, "sent", "checkout_session_id")


@admin.register(Payment)
class PaymentAdmin(_Next, MoneyInAdmin):
    NEXT = PAYMENT_NEXT
    list_display = ("__str__", "customer", "amount", "account", "status_shown", "created_at")
    list_filter = ("status",)
    search_fields = ("=dots_transfer_id",)
    actions = ("refresh_from_dots",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer_shown",
                    "amount",
                    "account",
                    "memo",
                    "status_shown",
                    "failure_shown",
                    "next_step",
                    "created",
                    "updated",
                )
            },
        ),
        support_fieldset("id", "dots_transfer_id", "key", "last_attempt"),
    )

    @admin.display(description="bank account")
    def account(self, obj):
        return f"ending {obj.account_last4}" if obj.account_last4 else "unknown"

    @admin.display(description="why it failed")
    def failure_shown(self, obj):
        return obj.failure_reason or "—"

    def admin_pages(self):
        return [AdminPage("add/", "add_page", "add")]

    def add_page(self, request):
        self.require(request, payments.ADD)
        form = forms.PaymentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            method = data["payment_method"]
            try:
                payment = payments.payment_request(
                    actor=request.user,
                    customer_id=data["customer"].pk,
                    amount_cents=data["amount"],
                    payment_method_id=method.pk if method else None,
                    account_last4=data["account_number"][-4:],
                    memo=data["memo"],
                    request_key=data["request_key"],
                )
            except AlreadyRequested as exc:
                messages.warning(request, str(exc))
                return redirect(reverse("admin:receivables_payment_change", args=[exc.record.pk]))
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                ach_info = None
                if method is None:
                    ach_info = {
                        "routing_number": data["routing_number"],
                        "account_number": data["account_number"],
                        "account_type": data["account_type"],
                    }
                try:
                    payments.payment_push(payment_id=payment.pk, actor=request.user, ach_info=ach_info)
                except DomainError as exc:
                    return self.after_create(request, payment, "payment", exc)
                return self.after_create(request, payment, "payment")
        notice = (
            "A typed account number is sent to Dots once and never stored or shown here: only its last four "
            "digits are kept."
        )
        return self.page(request, form, title="Collect a payment", notice=notice)

    @admin.action(description="Refresh selected payments from Dots", permissions=["change"])
    def refresh_from_dots(self, request, queryset):
        self.each(request, queryset, payments.payment_refresh, "refreshed", "payment_id")
