"""The app's KYB pages (its compliance information and the hosted KYB flow link) and its wallet settings.

A mixin of wallet.admin.AppAdmin: each view checks "wallet.change_app" (Administrators) first.
"""

from django.contrib import messages
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from core.admin_base import AdminPage
from core.errors import DomainError
from core.money import format_cents
from wallet import app_settings, kyb
from wallet.errors import InvalidCompliance
from wallet.kyb_forms import CompanyForm, DirectorFormSet, SettingsForm, body_from, initial_from, put_errors


class AppKybPages:
    def kyb_pages(self) -> list[AdminPage]:
        return [
            AdminPage("<path:object_id>/kyb/", "kyb_view", "kyb"),
            AdminPage("<path:object_id>/kyb-flow/", "kyb_flow_view", "kyb_flow"),
            AdminPage("<path:object_id>/settings/", "settings_view", "settings"),
        ]

    def kyb_view(self, request, object_id):
        self.require(request, "wallet.change_app")  # type: ignore[attr-defined]
        app = self._get(request, object_id)  # type: ignore[attr-defined]
        try:
            held = kyb.compliance_read(app)
            read_error = ""
        except DomainError as exc:
            held, read_error = None, str(exc)
        initial, directors, last4 = initial_from(held)
        if request.method == "POST":
            company = CompanyForm(request.POST)
            formset = DirectorFormSet(request.POST, prefix="director")
            if company.is_valid() and formset.is_valid():
                body, rows = body_from(company, formset)
                try:
                    kyb.compliance_send(actor=request.user, app_id=app.pk, body=body)
                except InvalidCompliance as exc:
                    put_errors(exc.errors, company, formset, rows)
                except DomainError as exc:
                    company.add_error(None, str(exc))
                else:
                    app.refresh_from_db()
                    self.message_user(  # type: ignore[attr-defined]
                        request, f"KYB information of {app} sent to Dots. KYB state: {app.get_status_display()}."
                    )
                    return redirect(self._url(app))  # type: ignore[attr-defined]
        else:
            company = CompanyForm(initial=initial)
            formset = DirectorFormSet(initial=directors, prefix="director")
        for i, form in enumerate(formset.forms):
            if last4.get(f"ssn-{i}"):
                form.fields["ssn"].help_text = f"Dots holds one ending {last4[f'ssn-{i}']}; leave empty to keep it."
        if last4.get("ein"):
            company.fields["ein"].help_text = f"Dots holds one ending {last4['ein']}; leave empty to keep it."
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.model._meta,  # type: ignore[attr-defined]
            "title": f"KYB information of {app}",
            "original": app,
            "company": company,
            "formset": formset,
            "held": held is not None,
            "read_error": read_error,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/wallet/kyb.html", context)

    def kyb_flow_view(self, request, object_id):
        self.require(request, "wallet.change_app")  # type: ignore[attr-defined]
        app = self._get(request, object_id)  # type: ignore[attr-defined]
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            app = kyb.kyb_flow_create(actor=request.user, app_id=app.pk)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)  # type: ignore[attr-defined]
        else:
            self.message_user(  # type: ignore[attr-defined]
                request, "New KYB flow link created; the previous one no longer works. Share it with the app's owner."
            )
        return redirect(self._url(app))  # type: ignore[attr-defined]

    def settings_view(self, request, object_id):
        self.require(request, "wallet.change_app")  # type: ignore[attr-defined]
        app = self._get(request, object_id)  # type: ignore[attr-defined]
        initial = {
            "auto_refill_active": app.auto_refill_active,
            "refill_amount": app.refill_amount_cents,
            "refill_threshold": app.refill_threshold_cents,
            "payout_options_excluded": app.payout_options_excluded,
        }
        form = SettingsForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                app_settings.settings_change(
                    actor=request.user,
                    app_id=app.pk,
                    auto_refill_active=data["auto_refill_active"],
                    refill_amount_cents=data["refill_amount"],
                    refill_threshold_cents=data["refill_threshold"],
                    payout_options_excluded=list(data["payout_options_excluded"]),
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Settings of {app} changed in Dots.")  # type: ignore[attr-defined]
                return redirect(self._url(app))  # type: ignore[attr-defined]
        intro = (
            f"Dots keeps no copy we can read: this page shows what was last sent from here. The refill amount and "
            f"threshold are {format_cents(app_settings.MIN_CENTS)} to {format_cents(app_settings.MAX_CENTS)}."
        )
        return self.page(  # type: ignore[attr-defined]
            request, title=f"Wallet settings of {app}", form=form, obj=app, intro=intro, submit="Save in Dots"
        )
