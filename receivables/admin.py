"""Money in, in the admin: payment customers and their payment methods (intents, sessions and payments
are in admin_money.py). Records are created on their add page through the services, then read;
ids, keys and what was sent to Dots are under "Details for support"."""

import phonenumbers
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin_actions import message_outcomes, run_row
from core.admin_base import AdminPage
from core.errors import ActionQueued, DomainError
from payouts.admin_shared import NothingToChangeAdmin, json_block, link_to, support_fieldset, when
from receivables import forms
from receivables.models import PaymentCustomer, PaymentMethod
from receivables.services import customers, methods


def status_words(model, status: str) -> str:
    return dict(model.Status.choices).get(status, status.replace("_", " ").capitalize())


class MoneyInAdmin(NothingToChangeAdmin):
    """Read-only record pages with the shared displays; creating is a custom add page."""

    SHOWN_TO_SOME: tuple[str, ...] = ()  # read-only fields added to the page only for those who may act

    @admin.display(description="status", ordering="status")
    def status_shown(self, obj):
        return status_words(self.model, obj.status)

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

    @admin.display(description="customer")
    def customer_shown(self, obj):
        if obj.customer_id is None:
            return "anyone who has the link"
        return link_to(obj.customer, "receivables_paymentcustomer", str(obj.customer))

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and getattr(obj, "last_dots_error", ""):
            main = fieldsets[0][1]
            fieldsets[0] = (fieldsets[0][0], {**main, "fields": (*main["fields"], "last_error")})
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "last_error", *self.SHOWN_TO_SOME]

    def page(self, request, form, *, title: str, notice: str = ""):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "notice": notice,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/receivables/form.html", context)

    def each(self, request, queryset, service, verb, arg):
        outcomes = [run_row(str(obj), service, **{arg: obj.pk}, actor=request.user) for obj in queryset]
        message_outcomes(self, request, outcomes, verb=verb)

    def after_create(self, request, obj, name: str, error: DomainError | None = None):
        """To the new record's page, with Dots' answer in words."""
        obj.refresh_from_db()
        if isinstance(error, ActionQueued):
            messages.warning(request, str(error))
        elif error is not None:
            messages.error(request, f"{obj} was saved but is not in Dots: {error}")
        else:
            messages.success(
                request,
                f"{obj}: {status_words(type(obj), obj.status)[:1].lower()}{status_words(type(obj), obj.status)[1:]}.",
            )
        return redirect(reverse(f"admin:receivables_{name}_change", args=[obj.pk]))


@admin.register(PaymentCustomer)
class PaymentCustomerAdmin(MoneyInAdmin):
    SHOWN_TO_SOME = ("attach_link",)
    list_display = ("__str__", "email", "phone_shown", "payee_shown", "status_shown", "created_at")
    list_filter = ("status",)
    search_fields = ("=dots_id", "^business_name", "^last_name", "=email")
    actions = ("refresh_from_dots", "retry_create", "read_methods")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "business_name",
                    "email",
                    "phone_shown",
                    "address_shown",
                    "payee_shown",
                    "status_shown",
                    "methods_shown",
                    "created",
                    "updated",
                )
            },
        ),
        support_fieldset("id", "dots_id_shown", "dots_user_id", "key", "request_json", "last_attempt"),
    )

    @admin.display(description="address")
    def address_shown(self, obj):
        if not obj.address_line_1:
            return "none given"
        parts = [obj.address_line_1, obj.address_line_2, f"{obj.city}, {obj.state} {obj.postcode}", obj.country]
        return ", ".join(p for p in parts if p)

    @admin.display(description="also our payee")
    def payee_shown(self, obj):
        if obj.payee_id is None:
            return "no"
        return link_to(obj.payee, "payouts_payee", str(obj.payee))

    @admin.display(description="payment methods")
    def methods_shown(self, obj):
        rows = [
            (
                reverse("admin:receivables_paymentmethod_change", args=[m.pk]),
                str(m),
                "attached" if m.attached else "detached",
            )
            for m in obj.payment_methods.all()
        ]
        if not rows:
            return "None read from Dots yet."
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a> ({})', rows)

    @admin.display(description="attach")
    def attach_link(self, obj):
        if not obj.dots_id:
            return "Send the customer to Dots first."
        url = reverse("admin:receivables_paymentcustomer_attach", args=[obj.pk])
        return format_html('<a class="button" href="{}">Attach a payment method</a>', url)

    @admin.display(description="phone")
    def phone_shown(self, obj):
        if not obj.phone_e164:
            return "none given"
        return phonenumbers.format_number(
            phonenumbers.parse(obj.phone_e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not request.user.has_perm(methods.CHANGE):
            return fieldsets
        main = fieldsets[0][1]
        return [(fieldsets[0][0], {**main, "fields": (*main["fields"], "attach_link")}), *fieldsets[1:]]

    def admin_pages(self):
        return [AdminPage("add/", "add_page", "add"), AdminPage("<path:object_id>/attach/", "attach_page", "attach")]

    def add_page(self, request):
        self.require(request, customers.ADD)
        form = forms.CustomerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            fields = {name: data[name] for name in ("first_name", "last_name", "business_name", "email", "phone")}
            address = {
                k: data[f]
                for k, f in (
                    ("line_1", "address_line_1"),
                    ("line_2", "address_line_2"),
                    ("city", "city"),
                    ("state", "state"),
                    ("postcode", "postcode"),
                )
            }
            try:
                customer = customers.payment_customer_request(
                    actor=request.user,
                    country=data["phone_country"] or "US",
                    address=address if address["line_1"] else None,
                    payee_id=data["payee"].pk if data["payee"] else None,
                    **fields,
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                try:
                    customers.payment_customer_push(payment_customer_id=customer.pk, actor=request.user)
                except DomainError as exc:
                    return self.after_create(request, customer, "paymentcustomer", exc)
                return self.after_create(request, customer, "paymentcustomer")
        return self.page(request, form, title="Add payment customer")

    def attach_page(self, request, object_id):
        self.require(request, methods.CHANGE)
        customer = self.get_object(request, object_id)
        if customer is None:
            return redirect(reverse("admin:receivables_paymentcustomer_changelist"))
        form = forms.AttachMethodForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                method = methods.payment_method_attach(
                    payment_customer_id=customer.pk,
                    dots_payment_method_id=form.cleaned_data["dots_payment_method_id"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error("dots_payment_method_id", str(exc))
            else:
                messages.success(request, f"{method} attached to {customer}.")
                return redirect(reverse("admin:receivables_paymentcustomer_change", args=[customer.pk]))
        return self.page(request, form, title=f"Attach a payment method to {customer}")

    @admin.action(description="Refresh selected customers from Dots", permissions=["change"])
    def refresh_from_dots(self, request, queryset):
        self.each(request, queryset, customers.payment_customer_refresh, "refreshed", "payment_customer_id")

    @admin.action(description="Send to Dots again", permissions=["add"])
    def retry_create(self, request, queryset):
        self.each(request, queryset, customers.payment_customer_push, "sent", "payment_customer_id")

    @admin.action(description="Read payment methods from Dots", permissions=["change"])
    def read_methods(self, request, queryset):
        self.each(request, queryset, methods.payment_methods_read, "read", "payment_customer_id")


@admin.register(PaymentMethod)
class PaymentMethodAdmin(NothingToChangeAdmin):
    list_display = ("__str__", "customer", "attached_shown", "refreshed")
    list_filter = ("attached",)
    search_fields = ("=dots_id", "=mask")
    actions = ("detach",)
    fieldsets = (
        (None, {"fields": ("kind", "mask", "customer_shown", "attached_shown", "in_use", "refreshed")}),
        support_fieldset("id", "dots_id"),
    )

    def has_add_permission(self, request):
        return False  # Dots collects bank details on its own pages; they are attached from the customer's page

    @admin.display(description="kind")
    def kind(self, obj):
        return "Bank account (ACH)" if obj.platform == "ach" else (obj.platform or "unknown").capitalize()

    @admin.display(description="customer")
    def customer_shown(self, obj):
        return link_to(obj.customer, "receivables_paymentcustomer", str(obj.customer)) if obj.customer_id else "none"

    @admin.display(description="attached", boolean=False)
    def attached_shown(self, obj):
        return "Attached" if obj.attached else "Not attached"

    @admin.display(description="in use by")
    def in_use(self, obj):
        from receivables.selectors import uses_of_method

        return ", ".join(uses_of_method(obj)) or "nothing waiting on it"

    @admin.display(description="last read from Dots")
    def refreshed(self, obj):
        return when(obj.refreshed_at) or "never"

    @admin.action(description="Detach selected payment methods", permissions=["change"])
    def detach(self, request, queryset):
        outcomes = [
            run_row(str(m), methods.payment_method_detach, payment_method_id=m.pk, actor=request.user) for m in queryset
        ]
        message_outcomes(self, request, outcomes, verb="detached")


from receivables import admin_money  # noqa: E402,F401  (registers intents, sessions and payments)
