"""The pages of a payable's controls in the admin: hold and release, send back for changes, approve
again after a change, and emergency overrides. Thin: each page checks its own permission, asks
what the service needs (a reason, a date), then calls the service once (PayableAdmin mixes this in).
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.errors import DomainError
from core.people import full_name
from payables import controls, holds, next_step, overrides, send_back
from payables.errors import ReasonRequired
from payables.forms import CommentForm, HoldForm, OverrideForm, ReasonForm, SendBackForm
from payables.models import ControlOverride, Payable

# Which field a refusal is about, so the form names it (anything else shows above the form).
_FIELD_OF = {ReasonRequired: "reason"}


def _add_error(form, exc: DomainError, default: str | None = None) -> None:
    field = next((name for kind, name in _FIELD_OF.items() if isinstance(exc, kind)), default)
    form.add_error(field if field in form.fields else None, str(exc))


class PayableControlsMixin:
    """Views for PayableAdmin.admin_pages: hold, release, send_back, approve_again, override."""

    def _control_page(self, request, payable, *, title, intro, form, submit, extra=None):
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": title,
            "opts": Payable._meta,
            "payable": payable,
            "intro": intro,
            "form": form,
            "submit": submit,
            "back_url": reverse("admin:payables_payable_change", args=[payable.pk]),
            **(extra or {}),
        }
        return TemplateResponse(request, "admin/payables/payable/control_page.html", context)

    def _back(self, request, payable, text, level=messages.INFO):
        self.message_user(request, text, level)  # type: ignore[attr-defined]
        return redirect(reverse("admin:payables_payable_change", args=[payable.pk]))

    # --- hold -----------------------------------------------------------------------------------

    def hold_view(self, request, pk):
        self.require(request, "payables.view_payable", "payables.hold_payable")  # type: ignore[attr-defined]
        payable = get_object_or_404(Payable.objects.select_related("vendor"), pk=pk)
        hold = controls.active_hold(payable)
        if hold is not None:
            return self._back(request, payable, f"{payable} is already {controls.hold_text(hold)}.")
        if payable.status not in holds.HOLDABLE:
            return self._back(
                request, payable, f"{payable} is {payable.get_status_display().lower()}: there is nothing to hold."
            )
        form = HoldForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                holds.payable_hold(
                    payable_id=payable.pk,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    release_on=form.cleaned_data["release_on"],
                )
            except DomainError as exc:
                _add_error(form, exc, "release_on" if "release date" in str(exc) else None)
            else:
                return self._back(
                    request,
                    payable,
                    f"{payable} is on hold: nobody can approve or pay it until it is released.",
                    messages.SUCCESS,
                )
        return self._control_page(
            request,
            payable,
            title=f"Put {payable} on hold",
            intro="While it is held, nobody can approve or pay this payable. Say why; give a date if the "
            "hold should lift itself.",
            form=form,
            submit="Put on hold",
        )

    def release_view(self, request, pk):
        self.require(request, "payables.view_payable", "payables.hold_payable")  # type: ignore[attr-defined]
        payable = get_object_or_404(Payable.objects.select_related("vendor"), pk=pk)
        hold = controls.active_hold(payable)
        if hold is None:
            return self._back(request, payable, f"{payable} is not on hold.")
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                holds.payable_release(payable_id=payable.pk, actor=request.user, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                _add_error(form, exc)
            else:
                return self._back(request, payable, f"{payable} is released from hold.", messages.SUCCESS)
        return self._control_page(
            request,
            payable,
            title=f"Release {payable} from hold",
            intro=f"{payable} is {controls.hold_text(hold)}. Once released, it can be approved and paid again.",
            form=form,
            submit="Release the hold",
        )

    # --- send back for changes ------------------------------------------------------------------------

    def send_back_view(self, request, pk):
        self.require(request, "payables.view_payable", "payables.approve_payable")  # type: ignore[attr-defined]
        payable = get_object_or_404(Payable.objects.select_related("vendor", "created_by"), pk=pk)
        if not next_step.may_approve(payable, request.user):
            return self._back(
                request, payable, f"{payable} does not wait for your approval, so you cannot send it back."
            )
        form = SendBackForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                draft = send_back.payable_send_back(
                    payable_id=payable.pk, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as exc:
                _add_error(form, exc)
            else:
                clerk = full_name(draft.created_by)
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    f"{payable} was rejected in Dots and sent back: "
                    f"this new draft is for {clerk} to change and submit.",
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:payables_payable_change", args=[draft.pk]))
        clerk = full_name(payable.created_by)
        return self._control_page(
            request,
            payable,
            title=f"Send {payable} back for changes",
            intro=f"Dots cannot reopen a payable, so sending it back rejects it in Dots with your reason and "
            f"makes a new draft with the same vendor, bank account, line items and PDF for {clerk}, who "
            "changes it and submits it again.",
            form=form,
            submit="Send back",
        )

    # --- approve again after a change ----------------------------------------------------------------

    def approve_again_view(self, request, pk):
        self.require(request, "payables.view_payable", "payables.approve_payable")  # type: ignore[attr-defined]
        payable = get_object_or_404(Payable.objects.select_related("vendor", "bank_account"), pk=pk)
        if not controls.may_approve_again(payable, request.user):
            return self._back(request, payable, f"{payable} does not wait for you to approve it again.")
        bound = controls.binding(payable)
        form = CommentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                controls.payable_approve_again(
                    payable_id=payable.pk, actor=request.user, comment=form.cleaned_data["comment"]
                )
            except DomainError as exc:
                _add_error(form, exc)
            else:
                left = controls.outstanding_text(payable)
                text = f"{payable}: your approval of it as it is now is recorded"
                text += f"; {left}." if left else "; it can be paid."
                return self._back(request, payable, text, messages.SUCCESS)
        return self._control_page(
            request,
            payable,
            title=f"Approve {payable} again",
            intro="It changed after it was approved. Check what changed, then approve it as it is now "
            "(Dots keeps its approval; this one is recorded here).",
            form=form,
            submit="Approve as it is now",
            extra={"changes": bound.changes},
        )

    # --- emergency override -------------------------------------------------------------------------

    def override_view(self, request, pk):
        self.require(request, "payables.view_payable", "payables.override_control")  # type: ignore[attr-defined]
        payable = get_object_or_404(Payable.objects.select_related("vendor", "bank_account"), pk=pk)
        confirming = request.POST.get("confirm_override", "")
        if request.method == "POST" and confirming.isdigit():
            override = get_object_or_404(ControlOverride, pk=int(confirming), payable=payable)
            try:
                overrides.override_confirm(override_id=override.pk, actor=request.user)
            except DomainError as exc:
                return self._back(request, payable, str(exc), messages.ERROR)
            return self._back(
                request,
                payable,
                f"Override confirmed: {payable} may go through “{override.get_control_display()}” once.",
                messages.SUCCESS,
            )
        form = OverrideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                overrides.override_request(
                    payable_id=payable.pk,
                    actor=request.user,
                    control=form.cleaned_data["control"],
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as exc:
                _add_error(form, exc)
            else:
                return self._back(
                    request,
                    payable,
                    "Override asked for: it does nothing until a second Administrator confirms it on this page.",
                    messages.SUCCESS,
                )
        waiting = [
            {"override": o, "own": o.requested_by_id == request.user.pk}
            for o in overrides.waiting_confirmation(payable)
        ]
        return self._control_page(
            request,
            payable,
            title=f"Emergency override for {payable}",
            intro="An override lets this one payable through one control, once. It needs a reason and a second "
            "Administrator's confirmation, and it is recorded as an override. A hold is never overridden: "
            "release it instead.",
            form=form,
            submit="Ask for the override",
            extra={"waiting_overrides": waiting},
        )
