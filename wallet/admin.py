"""The app wallet in the admin. Thin: every change goes through the wallet services.

Pages that call Dots (adding an app or its bank account, moving money) are plain views,
so no transaction is held open across an HTTP call to Dots.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.admin_base import AdminPage, AdminPagesMixin, LargeListAdmin
from core.errors import ActionQueued, DomainError
from core.money import format_cents
from core.two_factor import step_up_given, without_code_if_fresh
from wallet import ach_accounts, apps_service, transfers
from wallet.admin_kyb import AppKybPages
from wallet.errors import InvalidAchDetails
from wallet.forms import AchAccountForm, AppCreateForm, DecideForm, MoveMoneyForm, VerifyForm
from wallet.models import AchAccount, App, WalletTransfer

SUPPORT = "Details for support"


def when(value) -> str:
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def account_badge(account: AchAccount | None):
    if account is None:
        return mark_safe(
            '<span class="ll-badge ll-badge-unverified">None</span> none added here yet: no money moves before one is '
            "added and verified here"
        )
    if not account.is_current:
        return mark_safe('<span class="ll-badge ll-badge-retired">Replaced</span>')
    if account.is_verified:
        return format_html('<span class="ll-badge ll-badge-verified">Verified</span> by {}', account.verified_by)
    return mark_safe('<span class="ll-badge ll-badge-unverified">Unverified</span> waiting for a second person')


class _Pages(AdminPagesMixin, LargeListAdmin):
    """Rows only services write: no admin edit form, no delete, no save buttons."""

    class Media:
        css = {"all": ("vendors/vendors.css",)}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _get(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return obj

    def _url(self, obj) -> str:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])

    def page(self, request, *, title: str, form=None, obj=None, rows=(), intro="", refusal="", submit=""):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "original": obj,
            "rows": rows,
            "intro": intro,
            "refusal": refusal,
            "submit": submit or title,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/wallet/page.html", context)

    def _without_code_if_fresh(self, request, form):
        return without_code_if_fresh(request, form)

    def _step_up(self, request, form) -> bool:
        """True when this session gave a fresh code (or gives one now); else the form says why."""
        return step_up_given(request, form)


# --- apps ----------------------------------------------------------------------------------------------


@admin.register(App)
class AppAdmin(AppKybPages, _Pages):
    list_display = ("name", "kyb_state", "bank_account", "read_from_dots_at")
    list_filter = ("status",)
    fieldsets = (
        (None, {"fields": ("name", "kyb_state", "balance", "money_out", "connected_users")}),
        ("Bank account", {"fields": ("bank_account", "bank_account_in_dots")}),
        ("KYB", {"fields": ("kyb_company_name", "kyb_ein", "kyb_sent", "kyb_flow")}),
        ("Settings", {"fields": ("auto_refill", "payout_options")}),
        (SUPPORT, {"classes": ("collapse",), "fields": ("dots_app_id", "read_from_dots", "last_dots_error")}),
    )
    readonly_fields = [f for _, opts in fieldsets for f in opts["fields"]]

    def has_add_permission(self, request):
        return request.user.has_perm("wallet.add_app")

    @admin.display(description="KYB state", ordering="status")
    def kyb_state(self, obj):
        return obj.get_status_display()

    def _metrics(self, obj):
        cached = getattr(obj, "_metrics", None)
        if cached is None:
            cached = obj._metrics = apps_service.app_metrics(obj)
        return cached

    @admin.display(description="wallet balance (Dots, now)")
    def balance(self, obj):
        m = self._metrics(obj)
        return format_cents(m.balance_cents) if m.balance_cents is not None else f"unknown: {m.error or 'not given'}"

    @admin.display(description="money out")
    def money_out(self, obj):
        m = self._metrics(obj)
        return format_cents(m.money_out_cents) if m.money_out_cents is not None else "unknown"

    @admin.display(description="connected users")
    def connected_users(self, obj):
        m = self._metrics(obj)
        return str(m.connected_users) if m.connected_users is not None else "unknown"

    @admin.display(description="bank account")
    def bank_account(self, obj):
        account = ach_accounts.current_account(obj)
        if account is None:
            return account_badge(None)
        url = reverse("admin:wallet_achaccount_change", args=[account.pk])
        return format_html('<a href="{}">{}</a> {}', url, account, account_badge(account))

    @admin.display(description="bank account in Dots (now)")
    def bank_account_in_dots(self, obj):
        return apps_service.ach_account_in_dots(obj)

    @admin.display(description="KYB legal name")
    def kyb_company_name(self, obj):
        return obj.kyb_company_name or "not sent from here"

    @admin.display(description="EIN")
    def kyb_ein(self, obj):
        return f"•••••{obj.kyb_ein_last4}" if obj.kyb_ein_last4 else "—"

    @admin.display(description="KYB sent to Dots")
    def kyb_sent(self, obj):
        return when(obj.kyb_submitted_at)

    @admin.display(description="KYB flow link")
    def kyb_flow(self, obj):
        if not obj.kyb_flow_url:
            return "none"
        return format_html(
            '<a href="{}">{}</a> (expires {})', obj.kyb_flow_url, obj.kyb_flow_url, when(obj.kyb_flow_expires_at)
        )

    @admin.display(description="auto-refill")
    def auto_refill(self, obj):
        if not obj.auto_refill_active:
            return "off"
        return (
            f"on: {format_cents(obj.refill_amount_cents or 0)} when the balance falls below "
            f"{format_cents(obj.refill_threshold_cents or 0)}"
        )

    @admin.display(description="payout methods excluded")
    def payout_options(self, obj):
        return ", ".join(obj.payout_options_excluded) or "none"

    @admin.display(description="last read from Dots")
    def read_from_dots(self, obj):
        return when(obj.read_from_dots_at)

    def admin_pages(self):
        return [
            AdminPage("read-from-dots/", "read_view", "read_from_dots"),
            AdminPage("<path:object_id>/bank-account/", "ach_view", "ach_account"),
            AdminPage("<path:object_id>/move/<str:kind>/", "move_view", "move"),
            *self.kyb_pages(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = request.user
        extra = {
            "can_add_ach": user.has_perm("wallet.add_achaccount"),
            "can_move": user.has_perm("wallet.add_wallettransfer"),
            "can_kyb": user.has_perm("wallet.change_app"),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(self, request, extra_context=None):
        extra = {"can_read": request.user.has_perm("wallet.change_app"), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def read_view(self, request):
        self.require(request, "wallet.change_app")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            report = apps_service.apps_read_from_dots(actor=request.user)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"{report.checked} app(s) read from Dots, {report.changed} changed.")
        return redirect(reverse("admin:wallet_app_changelist"))

    def add_view(self, request, form_url="", extra_context=None):
        self.require(request, "wallet.add_app")
        form = AppCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                app = apps_service.app_create(actor=request.user, name=form.cleaned_data["name"])
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"App {app} created in Dots: send its KYB information next.")
                return redirect(self._url(app))
        return self.page(request, title="Create an app in Dots", form=form, submit="Create app")

    def ach_view(self, request, object_id):
        self.require(request, "wallet.add_achaccount")
        app = self._get(request, object_id)
        form = AchAccountForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                account = ach_accounts.ach_account_add(actor=request.user, app_id=app.pk, **form.cleaned_data)
            except InvalidAchDetails as exc:
                for field, errors in exc.errors.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"Bank account {account} added for {app}. A second person must verify it before any deposit "
                    f"or withdrawal.",
                )
                return redirect(self._url(app))
        intro = (
            "The account number is sent to Dots once and never stored or shown here: only its last four digits "
            "are kept. Dots keeps one bank account per app, so this replaces the current one. The new account is "
            "unverified until a second person (not you) records how it was confirmed."
        )
        return self.page(
            request, title=f"Bank account of {app}", form=form, obj=app, intro=intro, submit="Add bank account"
        )

    def move_view(self, request, object_id, kind):
        self.require(request, "wallet.add_wallettransfer")
        if kind not in WalletTransfer.Kind.values:
            raise Http404
        app = self._get(request, object_id)
        account = ach_accounts.current_account(app)
        refusal = ""
        if account is None or not account.is_verified:
            refusal = (
                "The app has no verified bank account: no deposit or withdrawal until a second person verifies it."
            )
        form = self._without_code_if_fresh(request, MoveMoneyForm(request.POST or None))
        if request.method == "POST" and not refusal and form.is_valid() and self._step_up(request, form):
            try:
                transfer = transfers.transfer_request(
                    actor=request.user, app_id=app.pk, kind=kind, amount_cents=form.cleaned_data["amount"]
                )
            except ActionQueued as exc:
                self.message_user(request, str(exc), messages.INFO)
                return redirect(self._url(app))
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                if transfer.status == WalletTransfer.Status.AWAITING_APPROVAL:
                    text = f"{transfer} waits for a second Payer to approve it."
                else:
                    text = f"{transfer} saved; it is being sent to Dots."
                self.message_user(request, text)
                return redirect(self._url(transfer))
        word = "Deposit into" if kind == WalletTransfer.Kind.DEPOSIT else "Withdraw from"
        rows = [("App", str(app)), ("Bank account", str(account) if account else "none")]
        if kind == WalletTransfer.Kind.DEPOSIT:
            intro = "Dots pulls the amount from the app's bank account into the wallet when the bank settles it."
        else:
            intro = "Dots sends the amount from the wallet to the app's bank account; the wallet is debited at once."
        return self.page(
            request,
            title=f"{word} the app wallet",
            form=form,
            obj=app,
            rows=rows,
            intro=intro,
            refusal=refusal,
            submit=f"Ask for the {kind}",
        )


# --- bank accounts --------------------------------------------------------------------------------------


@admin.register(AchAccount)
class AchAccountAdmin(_Pages):
    list_display = ("__str__", "app", "holder_name", "routing_number", "verification", "created_by", "created_at")
    list_select_related = ("app", "created_by", "verified_by")
    fields = (
        "app",
        "holder_name",
        "masked",
        "routing_number",
        "account_type",
        "dots_name",
        "verification",
        "verified_by",
        "verified_at",
        "verification_note",
        "created_by",
        "created_at",
        "replaced_at",
    )
    readonly_fields = fields

    @admin.display(description="account number")
    def masked(self, obj):
        return obj.masked_number

    @admin.display(description="verification")
    def verification(self, obj):
        return account_badge(obj)

    def admin_pages(self):
        return [AdminPage("<path:object_id>/verify/", "verify_view", "verify")]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_verify": request.user.has_perm("wallet.verify_achaccount"), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def verify_view(self, request, object_id):
        self.require(request, "wallet.verify_achaccount")
        account = self._get(request, object_id)
        refusal = ""
        if account.created_by_id == request.user.pk:
            refusal = "You added this bank account, so you cannot verify it: a second person must."
        elif account.is_verified:
            refusal = f"Already verified by {account.verified_by} on {when(account.verified_at)}."
        elif not account.is_current:
            refusal = "A newer bank account replaced this one."
        form = VerifyForm(request.POST or None)
        if request.method == "POST" and not refusal and form.is_valid():
            try:
                ach_accounts.ach_account_verify(
                    actor=request.user, ach_account_id=account.pk, how_confirmed=form.cleaned_data["how_confirmed"]
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"{account} of {account.app} is verified: money may move.")
                return redirect(self._url(account))
        rows = [
            ("App", str(account.app)),
            ("Account holder", account.holder_name),
            ("Routing number", account.routing_number),
            ("Account number", account.masked_number),
            ("Type", account.get_account_type_display()),
            ("Added by", f"{account.created_by or 'found in Dots'} on {when(account.created_at)}"),
        ]
        intro = (
            "Confirm these details with the business through a channel you already trust (a bank letter on "
            "file, a call to a number you already had), then say how you did it."
        )
        return self.page(
            request,
            title=f"Verify {account}",
            form=form,
            obj=account,
            rows=rows,
            intro=intro,
            refusal=refusal,
            submit="Verify bank account",
        )


# --- deposits and withdrawals ----------------------------------------------------------------------------


@admin.register(WalletTransfer)
class WalletTransferAdmin(_Pages):
    list_display = ("__str__", "app", "kind", "amount", "status_words", "requested_by", "decided_by", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("app", "requested_by", "decided_by")
    fieldsets = (
        (None, {"fields": ("app", "kind", "amount", "bank_account", "status_words", "failure_reason")}),
        (
            "Who",
            {"fields": ("requested_by", "created_at", "second_approval", "decided_by", "decided_at", "decision_note")},
        ),
        (
            SUPPORT,
            {"classes": ("collapse",), "fields": ("idempotency_key", "dots_transfer_id", "sent_at", "last_dots_error")},
        ),
    )
    readonly_fields = [f for _, opts in fieldsets for f in opts["fields"]]

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj):
        return format_cents(obj.amount_cents)

    @admin.display(description="status", ordering="status")
    def status_words(self, obj):
        return obj.get_status_display()

    @admin.display(description="bank account")
    def bank_account(self, obj):
        return str(obj.ach_account)

    @admin.display(description="second approval")
    def second_approval(self, obj):
        if not obj.needs_second_approval:
            return f"not needed (up to {format_cents(settings.WALLET_SECOND_APPROVAL_CENTS)})"
        return f"needed (above {format_cents(settings.WALLET_SECOND_APPROVAL_CENTS)})"

    def admin_pages(self):
        return [AdminPage("<path:object_id>/decide/", "decide_view", "decide")]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_decide": request.user.has_perm("wallet.approve_wallettransfer"), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def decide_view(self, request, object_id):
        self.require(request, "wallet.approve_wallettransfer")
        transfer = self._get(request, object_id)
        refusal = ""
        if transfer.requested_by_id == request.user.pk:
            refusal = "You asked for this, so you cannot approve it: a second Payer must."
        elif transfer.status != WalletTransfer.Status.AWAITING_APPROVAL:
            refusal = f"Nothing to decide: it is {transfer.get_status_display().lower()}."
        form = self._without_code_if_fresh(request, DecideForm(request.POST or None))
        if request.method == "POST" and not refusal and form.is_valid() and self._step_up(request, form):
            data = form.cleaned_data
            try:
                if data["decision"] == "approve":
                    transfers.transfer_approve(actor=request.user, transfer_id=transfer.pk, note=data["note"])
                    text = f"{transfer} approved; it is being sent to Dots."
                else:
                    transfers.transfer_reject(actor=request.user, transfer_id=transfer.pk, reason=data["note"])
                    text = f"{transfer} rejected."
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, text)
                return redirect(self._url(transfer))
        rows = [
            ("What", transfer.get_kind_display()),
            ("Amount", format_cents(transfer.amount_cents)),
            ("App", str(transfer.app)),
            ("Bank account", str(transfer.ach_account)),
            ("Asked for by", f"{transfer.requested_by} on {when(transfer.created_at)}"),
        ]
        return self.page(
            request,
            title=f"Approve or reject {transfer}",
            form=form,
            obj=transfer,
            rows=rows,
            refusal=refusal,
            submit="Record the decision",
        )
