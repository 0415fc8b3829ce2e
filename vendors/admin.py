"""Vendors and their bank accounts in the admin. Thin: every change goes through vendors.services.

Pages that call Dots (adding a vendor, adding or deleting a bank account, deleting a
vendor, "Send to Dots again") run outside the admin's usual `transaction.atomic`, so
no transaction is held open across an HTTP call to Dots.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.admin_actions import message_outcomes, run_row
from core.admin_base import AdminPage, AdminPagesMixin, LargeListAdmin, autocomplete_accepts
from core.errors import ActionQueued, DomainError
from core.exports import ExportColumn, ExportMixin
from vendors import bank_accounts, in_dots, selectors, services
from vendors.errors import InvalidBankDetails
from vendors.forms import BankAccountAddForm, ReasonForm, VerifyForm
from vendors.models import Vendor, VendorBankAccount

SUPPORT = "Details for support"  # a collapsed fieldset (<details>): ids a person reads only to ask for help
DOTS_NO_UPDATE = (
    "Dots has no vendor update: once the vendor is in Dots, its name, contact email, external id and address "
    "stay as they were sent, here and in Dots. To change them, delete the vendor and add it again. "
    "Description and “active” are kept here only and can change at any time."
)


def verification_badge(account: VendorBankAccount) -> str:
    if account.is_retired:
        return mark_safe('<span class="ll-badge ll-badge-retired">Retired</span>')
    if account.is_verified:
        return format_html('<span class="ll-badge ll-badge-verified">Verified</span> by {}', account.verified_by)
    return mark_safe('<span class="ll-badge ll-badge-unverified">Unverified</span> Waiting for verification')


class _ServicePagesMixin(AdminPagesMixin):
    """Shared bits of the custom pages: admin context, and delete without the admin's transaction."""

    def _page_context(self, request, title: str, obj=None, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "title": title,
            "original": obj,
            "object": obj,
            "has_view_permission": self.has_view_permission(request, obj),
            "media": self.media,
            **extra,
        }

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk delete would bypass the services (and Dots).
        actions.pop("delete_selected", None)
        return actions

    def _change_url(self, obj) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                outcome = self.delete_with_service(request, obj, form.cleaned_data["reason"])
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return redirect(self._change_url(obj))
            self.message_user(
                request,
                self.delete_message(obj, outcome),
                messages.SUCCESS if outcome == services.DELETED else messages.WARNING,
            )
            if outcome == services.DELETED:
                return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
            return redirect(self._change_url(obj))
        context = self._page_context(
            request, f"Delete {obj}?", obj, form=form, outcome_text=self.delete_preview(obj), **(extra_context or {})
        )
        return TemplateResponse(request, "admin/vendors/delete_confirmation.html", context)


# --- vendors -----------------------------------------------------------------------------------


class HasUnverifiedFilter(admin.SimpleListFilter):
    title = "bank accounts"
    parameter_name = "unverified"

    def lookups(self, request, model_admin):
        return (("yes", "Has accounts waiting for verification"), ("no", "All accounts verified"))

    def queryset(self, request, queryset):
        waiting = Exists(selectors.unverified_bank_accounts().filter(vendor=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(waiting)
        if self.value() == "no":
            return queryset.filter(~waiting)
        return queryset


class BankAccountInline(admin.TabularInline):
    model = VendorBankAccount
    fields = ("account", "masked", "routing_number", "account_type", "verification")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = "bank accounts (no update in Dots: delete and add again to change one)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="name")
    def account(self, obj):
        url = reverse("admin:vendors_vendorbankaccount_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.name)

    @admin.display(description="account number")
    def masked(self, obj):
        return obj.masked_number

    @admin.display(description="verification")
    def verification(self, obj):
        return verification_badge(obj)


@admin.register(Vendor)
class VendorAdmin(ExportMixin, _ServicePagesMixin, LargeListAdmin):
    export_columns = (
        ExportColumn("Name", "name"),
        ExportColumn("Contact email", "contact_email"),
        ExportColumn("Address line 1", "address_line_1"),
        ExportColumn("Address line 2", "address_line_2"),
        ExportColumn("City", "city"),
        ExportColumn("State", "state"),
        ExportColumn("Postcode", "postcode"),
        ExportColumn("External id", "external_id"),
        ExportColumn("Active", "active", "bool"),
        ExportColumn("In Dots", "dots_status"),
        ExportColumn("Dots id", "dots_id"),
    )
    list_display = (
        "name",
        "contact_email",
        "city_state",
        "bank_account_column",
        "unverified_column",
        "dots_column",
        "active",
    )
    # States in use only (a DISTINCT over the vendor table), not all 56 codes.
    list_filter = ("active", ("state", admin.AllValuesFieldListFilter), HasUnverifiedFilter, "dots_status")
    search_fields = ("name", "external_id")  # see get_search_results: prefix and exact only
    search_help_text = "The start of a vendor's name, or its exact external id."
    inlines = [BankAccountInline]
    actions = ["send_to_dots"]
    dots_readonly = ("dots_status", "last_error", "created_by", "created_at", "dots_id", "last_attempt")
    fieldsets = (
        (None, {"fields": ("name", "contact_email", "external_id", "description", "active")}),
        ("Address (United States)", {"fields": ("address_line_1", "address_line_2", "city", "state", "postcode")}),
        ("Dots", {"fields": dots_readonly[:4], "description": DOTS_NO_UPDATE}),
        (SUPPORT, {"classes": ("collapse",), "fields": dots_readonly[4:]}),
    )

    class Media:
        css = {"all": ("vendors/vendors.css",)}

    def get_queryset(self, request):
        return selectors.vendor_list_for_admin()

    def get_search_results(self, request, queryset, search_term):
        # Typed into a form's vendor menu: only the vendors that form accepts (autocomplete_accepts).
        accepted = autocomplete_accepts(self.admin_site, request)
        if accepted is not None:
            queryset = queryset.filter(pk__in=accepted.values("pk"))
        term = search_term.strip()
        if not term:
            return queryset, False
        # Prefix and exact matches use the indexes; a substring scan would not.
        return queryset.filter(Q(name__istartswith=term) | Q(external_id=term)), False

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.dots_readonly)
        if obj is not None and services.vendor_fields_locked(obj):
            fields += list(Vendor.DOTS_FIELDS)
        return fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    @admin.display(description="last error from Dots")
    def last_error(self, obj):
        return obj.last_dots_error or "none"

    @admin.display(description="last call to Dots")
    def last_attempt(self, obj):
        return obj.last_dots_attempt_at or "never"

    @admin.display(description="city / state", ordering="city")
    def city_state(self, obj):
        return f"{obj.city}, {obj.state}"

    @admin.display(description="bank accounts")
    def bank_account_column(self, obj):
        return obj.bank_account_count

    @admin.display(description="unverified")
    def unverified_column(self, obj):
        if obj.unverified_count:
            return format_html('<span class="ll-badge ll-badge-unverified">{} unverified</span>', obj.unverified_count)
        return "0"

    @admin.display(description="Dots", ordering="dots_status")
    def dots_column(self, obj):
        return format_html(
            '<span class="ll-dots-{}" title="{}">{}</span>',
            obj.dots_status,
            obj.last_dots_error,
            obj.get_dots_status_display(),
        )

    # Adding calls Dots (services.vendor_create), which must not run inside the admin's
    # transaction: run the add form without it. Changes stay local and keep the transaction.
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is None:
            return self._changeform_view(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        editable = [f for f in services.VENDOR_AUDIT_FIELDS if f in form.cleaned_data]
        if change:
            data = {f: form.cleaned_data[f] for f in form.changed_data if f in editable}
            services.vendor_update(actor=request.user, vendor_id=obj.pk, data=data)
            return
        vendor = services.vendor_create(actor=request.user, **{f: form.cleaned_data[f] for f in editable})
        # The admin goes on with `obj` (log entry, redirect): make it the saved row.
        obj.pk = vendor.pk
        obj._state.adding = False
        obj._state.db = vendor._state.db
        for name in (
            "dots_id",
            "dots_status",
            "last_dots_error",
            "last_dots_attempt_at",
            "created_by_id",
            "created_at",
            "updated_at",
        ):
            setattr(obj, name, getattr(vendor, name))
        if vendor.last_dots_error:
            self.message_user(
                request,
                f"{vendor} was saved here but is not in Dots yet: {vendor.last_dots_error} "
                f"Use “Send to Dots again” on its page.",
                messages.WARNING,
            )

    def admin_pages(self):
        return [AdminPage("<path:object_id>/send-to-dots/", "send_to_dots_view", "send_to_dots")]

    def send_to_dots_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        vendor = self.get_object(request, unquote(object_id))
        if vendor is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, vendor):
            raise PermissionDenied
        try:
            vendor = services.vendor_send_to_dots(actor=request.user, vendor_id=vendor.pk)
        except ActionQueued as exc:  # Dots is unreachable: it will be sent when Dots answers
            self.message_user(request, str(exc), messages.INFO)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"{vendor} is now in Dots.", messages.SUCCESS)
        return redirect(self._change_url(vendor))

    @admin.action(description="Send selected vendors to Dots again", permissions=["change"])
    def send_to_dots(self, request, queryset):
        outcomes = [run_row(v.name, services.vendor_send_to_dots, actor=request.user, vendor_id=v.pk) for v in queryset]
        message_outcomes(self, request, outcomes, verb="sent to Dots")

    def delete_with_service(self, request, obj, reason):
        return services.vendor_delete(actor=request.user, vendor_id=obj.pk, reason=reason)

    def delete_preview(self, obj) -> str:
        if selectors.vendor_has_payables(obj):
            return (
                f"Payables refer to {obj}, so it cannot be deleted: it will be deactivated instead "
                f"(kept for their history, offered for no new payable)."
            )
        accounts = obj.bank_accounts.count()
        return (
            f"{obj} and its {accounts} bank account(s) will be deleted in Dots and here. "
            f"The audit history keeps a record."
        )

    def delete_message(self, obj, outcome) -> str:
        if outcome == services.DELETED:
            return f"{obj} was deleted in Dots and here."
        return f"Payables refer to {obj}: it was deactivated instead of deleted."


# --- bank accounts -----------------------------------------------------------------------------


class VerificationFilter(admin.SimpleListFilter):
    title = "verification"
    parameter_name = "verification"

    def lookups(self, request, model_admin):
        return (("waiting", "Waiting for verification"), ("verified", "Verified"), ("retired", "Retired"))

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.filter(verified_at__isnull=True, retired_at__isnull=True)
        if self.value() == "verified":
            return queryset.filter(verified_at__isnull=False, retired_at__isnull=True)
        if self.value() == "retired":
            return queryset.filter(retired_at__isnull=False)
        return queryset


@admin.register(VendorBankAccount)
class VendorBankAccountAdmin(ExportMixin, _ServicePagesMixin, LargeListAdmin):
    export_columns = (
        ExportColumn("Name", "name"),
        ExportColumn("Vendor", "vendor__name"),
        ExportColumn("Account number", "account_last4", "last4"),
        ExportColumn("Routing number", "routing_number"),
        ExportColumn("Account type", "account_type"),
        ExportColumn("Verified", "verified_at", "datetime"),
        ExportColumn("Verified by", "verified_by__username"),
        ExportColumn("Added by", "created_by__username"),
        ExportColumn("Added", "created_at", "datetime"),
        ExportColumn("Dots id", "dots_id"),
    )
    list_display = (
        "name",
        "vendor",
        "masked_number_column",
        "routing_number",
        "account_type",
        "verification_column",
        "created_by",
        "created_at",
    )
    list_filter = (VerificationFilter, "account_type")
    list_select_related = ("vendor", "created_by", "verified_by")
    search_fields = ("vendor__name",)  # see get_search_results
    search_help_text = "The start of the vendor's name, or an account's last four digits."
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "vendor",
                    "name",
                    "masked_number_column",
                    "routing_number",
                    "account_type",
                    "verification_column",
                    "verified_by",
                    "verified_at",
                    "verification_note",
                    "created_by",
                    "created_at",
                    "retired_at",
                    "retired_by",
                )
            },
        ),
        (SUPPORT, {"classes": ("collapse",), "fields": ("dots_id",)}),
    )
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    class Media:
        css = {"all": ("vendors/vendors.css",)}

    @admin.display(description="account number")
    def masked_number_column(self, obj):
        return obj.masked_number

    @admin.display(description="verification")
    def verification_column(self, obj):
        return verification_badge(obj)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q(vendor__name__istartswith=term)
        if term.isdigit() and len(term) == 4:
            matches |= Q(account_last4=term)
        return queryset.filter(matches), False

    # Dots has no update for payment methods: an account is deleted and added again, never edited.
    def has_change_permission(self, request, obj=None):
        return False

    def has_verify_permission(self, request, obj=None):
        return request.user.has_perm("vendors.verify_vendorbankaccount")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # What the add page's vendor menu offers (core.admin_base.autocomplete_accepts): as its form accepts.
        if db_field.name == "vendor":
            kwargs["queryset"] = selectors.vendors_for_new_bank_account()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def admin_pages(self):
        return [
            AdminPage("<path:object_id>/verify/", "verify_view", "verify"),
            AdminPage("<path:object_id>/in-dots/", "in_dots_view", "in_dots"),
        ]

    def in_dots_view(self, request, object_id):
        """What Dots holds for this account, beside what we hold (masked), read now: nothing changes."""
        self.require(request, "vendors.view_vendorbankaccount")
        account = self.get_object(request, unquote(object_id))
        if account is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = self._page_context(
            request, f"{account} in Dots", account, account=account, found=in_dots.bank_account_in_dots(account)
        )
        return TemplateResponse(request, "admin/vendors/vendorbankaccount/in_dots.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_verify": self.has_verify_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    # The add page calls Dots, so it is a plain view: no admin transaction around it, and
    # the row is saved only after Dots accepted the account.
    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = BankAccountAddForm(request.POST, admin_site=self.admin_site)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    account = bank_accounts.bank_account_create(
                        actor=request.user,
                        vendor_id=data["vendor"].pk,
                        name=data["name"],
                        routing_number=data["routing_number"],
                        account_number=data["account_number"],
                        account_type=data["account_type"],
                    )
                except InvalidBankDetails as exc:
                    for field, errors in exc.errors.items():
                        for error in errors:
                            form.add_error(field if field in form.fields else None, error)
                except DomainError as exc:
                    form.add_error(None, str(exc))
                else:
                    self.message_user(
                        request,
                        f"Bank account {account} added for {account.vendor}. It waits for a second person to "
                        f"verify it; nothing can be paid to it before.",
                        messages.SUCCESS,
                    )
                    return redirect(reverse("admin:vendors_vendor_change", args=[account.vendor_id]))
        else:
            form = BankAccountAddForm(initial={"vendor": request.GET.get("vendor")}, admin_site=self.admin_site)
        context = self._page_context(request, "Add bank account", form=form, add=True)
        return TemplateResponse(request, "admin/vendors/vendorbankaccount/add_form.html", context)

    def verify_view(self, request, object_id):
        account = self.get_object(request, unquote(object_id))
        if account is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_verify_permission(request, account):
            raise PermissionDenied
        refusal = ""
        if account.created_by_id == request.user.pk:
            refusal = "You added this bank account, so you cannot verify it: a second person must."
        elif account.is_verified:
            refusal = f"Already verified by {account.verified_by} on {account.verified_at:%Y-%m-%d %H:%M}."
        elif account.is_retired:
            refusal = "This account is retired."
        form = VerifyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                bank_accounts.bank_account_verify(
                    actor=request.user, bank_account_id=account.pk, how_confirmed=form.cleaned_data["how_confirmed"]
                )
            except DomainError as exc:
                field = "how_confirmed" if exc.code == "verification-note-required" else None
                form.add_error(field, str(exc))
            else:
                self.message_user(request, f"{account} of {account.vendor} is verified.", messages.SUCCESS)
                return redirect(self._change_url(account))
        context = self._page_context(
            request,
            f"Verify {account}",
            account,
            form=form,
            refusal=refusal,
            account=account,
            badge=verification_badge(account),
        )
        return TemplateResponse(request, "admin/vendors/vendorbankaccount/verify.html", context)

    def delete_with_service(self, request, obj, reason):
        return bank_accounts.bank_account_delete(actor=request.user, bank_account_id=obj.pk, reason=reason)

    def delete_preview(self, obj) -> str:
        if selectors.bank_account_in_use(obj):
            return (
                f"Payables use {obj}, so it cannot be deleted: it will be retired instead "
                f"(kept for their history, offered for no new payable)."
            )
        return f"{obj} of {obj.vendor} will be deleted in Dots and here. The audit history keeps a record."

    def delete_message(self, obj, outcome) -> str:
        if outcome == services.DELETED:
            return f"{obj} of {obj.vendor} was deleted in Dots and here."
        return f"Payables use {obj}: it was retired instead of deleted."
