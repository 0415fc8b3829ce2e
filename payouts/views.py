"""Admin pages that call services outside the admin's transaction: import upload, preview,
progress JSON, failed-rows CSV, and small forms (add a payee, a payout link, a payout request,
verify a payee). The admin wires them in with `get_urls`, so they share its sign-in and chrome.
"""

import csv

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.csv_safe import EchoBuffer, neutralise
from core.errors import DomainError
from core.money import MoneyFormField
from payouts import csv_import, selectors
from payouts.models import Payee, PayeeImport, PayoutLink, PayoutRun
from payouts.services import payee_imports, payees, payout_links, payout_requests


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text=f"CSV, at most {csv_import.MAX_FILE_BYTES // 1048576} MB. Columns: "
        "first_name, last_name, email, phone; optional country_code, amount, memo, "
        "external_id."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # DATA_UPLOAD_MAX_MEMORY_SIZE does not limit files: check before reading a byte.
        if upload.size > csv_import.MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1048576:.1f} MB; the limit is {csv_import.MAX_FILE_BYTES // 1048576} MB."
            )
        return upload


class PayeeForm(forms.Form):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    email = forms.EmailField()
    phone = forms.CharField(max_length=30)
    country = forms.CharField(max_length=3, initial="US", help_text="Country of the phone number (US, GB, 44...)")


class PayoutLinkForm(forms.Form):
    payee = forms.ModelChoiceField(
        queryset=Payee.objects.all(), required=False, help_text="Leave empty for a link anyone can claim"
    )
    amount = MoneyFormField(min_cents=1)
    delivery_method = forms.ChoiceField(choices=PayoutLink.Delivery.choices)
    memo = forms.CharField(max_length=500, required=False)
    tax_exempt = forms.BooleanField(required=False)


class PayoutRequestForm(forms.Form):
    payee = forms.ModelChoiceField(queryset=Payee.objects.all(), required=False)
    phone = forms.CharField(max_length=30, required=False, help_text="For someone who is not a payee yet")
    country = forms.CharField(max_length=3, initial="US", required=False)
    amount = MoneyFormField(min_cents=1)
    memo = forms.CharField(max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("payee") and not data.get("phone"):
            raise forms.ValidationError("Choose a payee or enter a phone number.")
        return data


class PayeeEditForm(forms.Form):
    external_id = forms.CharField(max_length=100, required=False)
    metadata = forms.JSONField(required=False, help_text='A JSON object, for example {"team": "north"}')

    def clean_metadata(self):
        value = self.cleaned_data["metadata"] or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object.")
        return value


class VerifyForm(forms.Form):
    token = forms.CharField(max_length=10, label="Code the payee received")


def _form_page(request, modeladmin, form, *, title: str, obj=None):
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        "form": form,
        "original": obj,
        "has_view_permission": True,
    }
    return TemplateResponse(request, "admin/payouts/form.html", context)


def _domain_error_to_form(form, exc: DomainError, field: str | None = None):
    form.add_error(field, str(exc))


# --- import ----------------------------------------------------------------------------------------


def import_upload(request, modeladmin):
    if not modeladmin.has_add_permission(request):
        raise PermissionDenied
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            payee_import = payee_imports.payee_import_preview(fileobj=upload, file_name=upload.name, actor=request.user)
        except DomainError as exc:
            _domain_error_to_form(form, exc, "file")
        else:
            return redirect(reverse("admin:payouts_payeeimport_change", args=[payee_import.pk]))
    return _form_page(request, modeladmin, form, title="Import payees")


def import_page(request, modeladmin, payee_import: PayeeImport, extra_context=None):
    can_change = modeladmin.has_change_permission(request, payee_import)
    run = PayoutRun.objects.filter(payee_import=payee_import).first()
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": str(payee_import),
        "original": payee_import,
        "imp": payee_import,
        "problems": selectors.import_problem_rows(payee_import),
        "problems_shown": selectors.PREVIEW_ERRORS_SHOWN,
        "progress": selectors.import_progress(payee_import),
        "can_change": can_change,
        "run": run,
        "amounts": selectors.import_amounts(payee_import) if payee_import.has_amount else None,
        "has_failed_rows": payee_import.invalid_rows or payee_import.failed_count,
        **(extra_context or {}),
    }
    return TemplateResponse(request, "admin/payouts/payeeimport/page.html", context)


def import_action(request, modeladmin, object_id, action: str):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    payee_import = get_object_or_404(PayeeImport, pk=object_id)
    if not modeladmin.has_change_permission(request, payee_import):
        raise PermissionDenied
    service = {
        "confirm": payee_imports.payee_import_confirm,
        "discard": payee_imports.payee_import_discard,
        "cancel": payee_imports.payee_import_cancel,
    }[action]
    try:
        service(import_id=payee_import.pk, actor=request.user)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        done = {
            "confirm": "Import started.",
            "discard": "Import discarded: nothing was created.",
            "cancel": "Cancel requested: rows being created now finish, the rest are not imported.",
        }
        messages.success(request, done[action])
    return redirect(reverse("admin:payouts_payeeimport_change", args=[payee_import.pk]))


def import_progress_json(request, modeladmin, object_id):
    payee_import = get_object_or_404(PayeeImport, pk=object_id)
    if not modeladmin.has_view_permission(request, payee_import):
        raise PermissionDenied
    return JsonResponse(selectors.import_progress(payee_import))


def import_failed_rows_csv(request, modeladmin, object_id):
    """Each invalid or failed row as it was in the file, plus an `error` column; formulas neutralised."""
    payee_import = get_object_or_404(PayeeImport, pk=object_id)
    if not modeladmin.has_view_permission(request, payee_import):
        raise PermissionDenied
    writer = csv.writer(EchoBuffer())
    width = len(payee_import.header)

    def lines():
        yield writer.writerow([neutralise(c) for c in payee_import.header] + ["error"])
        for row in selectors.failed_rows(payee_import):
            cells = list(row.cells)[:width] + [""] * max(width - len(row.cells), 0)
            yield writer.writerow([neutralise(c) for c in cells] + [neutralise(row.error)])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{payee_import.pk}-failed-rows.csv"'
    return response


# --- payees, links, requests -------------------------------------------------------------------------


def payee_add(request, modeladmin):
    if not modeladmin.has_add_permission(request):
        raise PermissionDenied
    form = PayeeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payee = payees.payee_create(
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                country=data["country"],
                actor=request.user,
            )
        except DomainError as exc:
            _domain_error_to_form(form, exc)
        else:
            verb = "linked to the Dots user that already has this phone" if payee.linked_existing else "created"
            messages.success(request, f"{payee} {verb}.")
            return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
    return _form_page(request, modeladmin, form, title="Add payee")


def payee_verify(request, modeladmin, object_id):
    payee = get_object_or_404(Payee, pk=object_id)
    if not modeladmin.has_change_permission(request, payee):
        raise PermissionDenied
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payees.payee_verify(payee_id=payee.pk, token=form.cleaned_data["token"], actor=request.user)
        except DomainError as exc:
            _domain_error_to_form(form, exc, "token")
        else:
            messages.success(request, f"{payee} is verified.")
            return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
    return _form_page(request, modeladmin, form, title=f"Verify {payee}", obj=payee)


def payee_edit(request, modeladmin, object_id):
    payee = get_object_or_404(Payee, pk=object_id)
    if not modeladmin.has_change_permission(request, payee):
        raise PermissionDenied
    form = PayeeEditForm(request.POST or None, initial={"external_id": payee.external_id, "metadata": payee.metadata})
    if request.method == "POST" and form.is_valid():
        try:
            payees.payee_update(
                payee_id=payee.pk,
                metadata=form.cleaned_data["metadata"],
                external_id=form.cleaned_data["external_id"],
                actor=request.user,
            )
        except DomainError as exc:
            _domain_error_to_form(form, exc)
        else:
            messages.success(request, f"{payee} updated in Dots.")
            return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
    return _form_page(request, modeladmin, form, title=f"Edit {payee}", obj=payee)


def payout_link_add(request, modeladmin):
    if not modeladmin.has_add_permission(request):
        raise PermissionDenied
    form = PayoutLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        link = payout_links.payout_link_request(
            amount_cents=data["amount"],
            payee_id=data["payee"].pk if data["payee"] else None,
            delivery_method=data["delivery_method"],
            memo=data["memo"],
            tax_exempt=data["tax_exempt"],
            actor=request.user,
        )
        link.refresh_from_db()
        messages.success(request, f"{link}: {link.get_status_display()}. {link.last_dots_error}".strip())
        return redirect(reverse("admin:payouts_payoutlink_change", args=[link.pk]))
    return _form_page(request, modeladmin, form, title="Create payout link")


def payout_request_add(request, modeladmin):
    if not modeladmin.has_add_permission(request):
        raise PermissionDenied
    form = PayoutRequestForm(request.POST or None)
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
            _domain_error_to_form(form, exc, "phone")
        else:
            payout_request.refresh_from_db()
            messages.success(request, f"{payout_request}: {payout_request.get_status_display()}.")
            return redirect(reverse("admin:payouts_payoutrequest_change", args=[payout_request.pk]))
    return _form_page(request, modeladmin, form, title="Send payout request")
