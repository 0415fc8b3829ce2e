"""The payee's own pages besides add, verify and edit: the address, the W-9 and the W-8BEN, payout methods,
delete (mixed into PayeeAdmin)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from core.errors import DomainError
from payouts import forms
from payouts.models import Payee
from payouts.services import payees


class PayeePagesMixin:
    def w9_page(self, request, object_id):
        self.require(request, "payouts.change_payee")
        payee = get_object_or_404(Payee, pk=object_id)
        initial = {}
        if payee.address_line_1 and payee.address_country == "US":  # the US address last sent, to start from
            initial = {
                "line_1": payee.address_line_1,
                "line_2": payee.address_line_2,
                "city": payee.address_city,
                "state": payee.address_state,
                "postcode": payee.address_postcode,
            }
        form = forms.PayeeW9Form(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            address = {k: data[k] for k in ("line_1", "line_2", "city", "state", "postcode") if data[k]}
            w9 = {
                "entity_type": data["entity_type"],
                "first_name": payee.first_name,
                "last_name": payee.last_name,
                "date_of_birth": data["date_of_birth"].isoformat(),
                "tin": data["tin"],
                "address": {**address, "country": "US"},
            }
            if data["business_name"]:
                w9["business_name"] = data["business_name"].strip()
            try:
                payees.payee_set_w9(payee_id=payee.pk, w9=w9, actor=request.user)
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"W-9 of {payee} sent to Dots.")
                return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
        intro = format_html(
            'Payee outside the United States? <a href="{}">Use the W-8BEN</a>.',
            reverse("admin:payouts_payee_w8ben", args=[payee.pk]),
        )
        return self.form_page(request, form, title=f"W-9 of {payee}", obj=payee, intro=intro, submit="Send the W-9")

    def w8ben_page(self, request, object_id):
        self.require(request, "payouts.change_payee")
        payee = get_object_or_404(Payee, pk=object_id)
        full_name = f"{payee.first_name} {payee.last_name}"
        initial = {"name": full_name, "signer_name": full_name, "signer_email": payee.email}
        if payee.address_line_1 and payee.address_country != "US":
            initial.update(
                line_1=payee.address_line_1,
                line_2=payee.address_line_2,
                city=payee.address_city,
                state=payee.address_state,
                postcode=payee.address_postcode,
                country=payee.address_country,
            )
        form = forms.PayeeW8benForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                payees.payee_set_w8ben(payee_id=payee.pk, w8ben=form.dots_w8ben(), actor=request.user)
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"W-8BEN of {payee} sent to Dots.")
                return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
        intro = format_html(
            'For a payee outside the United States. A US person or business files the <a href="{}">W-9</a> instead.',
            reverse("admin:payouts_payee_w9", args=[payee.pk]),
        )
        return self.form_page(
            request, form, title=f"W-8BEN of {payee}", obj=payee, intro=intro, submit="Send the W-8BEN"
        )

    def address_page(self, request, object_id):
        self.require(request, "payouts.change_payee")
        payee = get_object_or_404(Payee, pk=object_id)
        form = forms.PayeeAddressForm(request.POST or None, initial=forms.PayeeAddressForm.initial_from(payee))
        if request.method == "POST" and form.is_valid():
            try:
                payees.payee_set_address(payee_id=payee.pk, address=form.dots_address(), actor=request.user)
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Address of {payee} sent to Dots.")
                return redirect(reverse("admin:payouts_payee_change", args=[payee.pk]))
        intro = (
            "The address is sent to Dots and kept here to show on the payee's page."
            if not payee.address_line_1
            else "Sending a new address replaces the one Dots has."
        )
        return self.form_page(
            request, form, title=f"Address of {payee}", obj=payee, intro=intro, submit="Send the address to Dots"
        )

    def remove_page(self, request, object_id):
        self.require(request, "payouts.delete_payee")
        payee = get_object_or_404(Payee, pk=object_id)
        form = forms.PayeeDeleteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                payees.payee_delete(payee_id=payee.pk, reason=form.cleaned_data["reason"], actor=request.user)
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{payee} is deleted in Dots and here.")
                return redirect(reverse("admin:payouts_payee_changelist"))
        return self.form_page(request, form, title=f"Delete {payee}", obj=payee)

    def payout_methods_page(self, request, object_id):
        # Reading needs view_payee (Payers and Managers read it too); adding needs change_payee.
        self.require(request, "payouts.view_payee")
        can_add = request.user.has_perm("payouts.change_payee")
        if request.method == "POST" and not can_add:
            raise PermissionDenied
        payee = get_object_or_404(Payee, pk=object_id)
        form = forms.PayoutMethodForm(request.POST or None) if can_add else None
        if form is not None and request.method == "POST" and form.is_valid():
            try:
                payees.payee_add_payout_method(payee_id=payee.pk, fields=form.dots_fields(), actor=request.user)
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Payout method added to {payee} in Dots.")
                return redirect(reverse("admin:payouts_payee_payout_methods", args=[payee.pk]))
        methods, error = [], ""
        try:
            methods = payees.payee_payout_methods(payee_id=payee.pk, actor=request.user)
        except DomainError as exc:
            error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Payout methods of {payee}",
            "form": form,
            "original": payee,
            "methods": methods,
            "error": error,
            "submit": "Add this payout method",
            "can_add": can_add,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/payouts/payee/payout_methods.html", context)
