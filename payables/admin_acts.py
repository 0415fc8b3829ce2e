"""The payables' actions in the admin: the buttons of a payable's page and the actions of the list.

Thin: each action checks the user may take it, shows its confirmation page, then calls the
service once per payable and says what happened to each (PayableAdmin mixes this in).
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.admin_actions import RowOutcome, message_outcomes, queued_text, run_row, summarise, without_label
from core.errors import DomainError
from core.money import format_cents
from core.two_factor import confirmed_devices, step_up_needed, step_up_verify
from payables import next_step, scheduled, services
from payables.errors import PossibleDuplicate
from payables.forms import CommentForm, PayableSelectionForm, ReasonForm, ScheduleForm, StepUpForm
from payables.models import Approver, Payable

S = Payable.Status


@dataclass(frozen=True)
class PayableAction:
    """An action on payables from its page or the list: the permissions it needs (checked before
    its page shows anything), the method that runs it, and whether it acts on a selection."""

    perms: tuple[str, ...]
    method: str
    bulk: bool = True


PAYABLE_ACTIONS = {
    "submit": PayableAction(("payables.submit_payable",), "_do_submit"),
    "approve": PayableAction(("payables.approve_payable",), "_do_approve"),
    "reject": PayableAction(("payables.approve_payable",), "_do_reject"),
    "cancel": PayableAction(("payables.submit_payable",), "_do_cancel"),
    "pay": PayableAction(("payables.pay_payable",), "_do_pay"),
    # Pay on the day (payables.scheduled): one payable on a chosen date, the list's selection on each due date.
    "schedule": PayableAction(("payables.pay_payable",), "_do_schedule"),
    "schedule_due": PayableAction(("payables.pay_payable",), "_do_schedule_due"),
    "unschedule": PayableAction(("payables.pay_payable",), "_do_unschedule"),
    # Reads a payment back from Dots and records what it says: anyone who sees the payable.
    "check": PayableAction((), "_do_check", bulk=False),
}


class PayableActionsMixin:
    """The actions of PayableAdmin: its object pages (`act`, `bulk`) and the list's actions."""

    def _action(self, request, action: str) -> PayableAction:
        """The action asked for, once the user may view payables and take it (403 otherwise)."""
        spec = PAYABLE_ACTIONS.get(action)
        if spec is None:
            raise PermissionDenied
        self.require(request, "payables.view_payable", *spec.perms)
        return spec

    def _change_url(self, payable):
        return reverse("admin:payables_payable_change", args=[payable.pk])

    def action_view(self, request, pk, action):
        """One payable's action page (its button): the confirmation, then the service."""
        spec = self._action(request, action)
        payable = get_object_or_404(Payable, pk=pk)
        return getattr(self, spec.method)(request, [payable], single=True)

    def _act_url(self, payable, action):
        return reverse("admin:payables_payable_act", args=[payable.pk, action])

    def _confirm_page(self, request, payables, *, action, title, form, intro="", matches=None, setup_url=""):
        context = {
            "setup_url": setup_url,
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "payables": payables,
            "form": form,
            "action": action,
            "intro": intro,
            "matches": matches or [],
            "selection": PayableSelectionForm(initial={"ids": [p.pk for p in payables]}),
            "back_url": self._change_url(payables[0])
            if len(payables) == 1
            else reverse("admin:payables_payable_changelist"),
        }
        return TemplateResponse(request, "admin/payables/payable/confirm_action.html", context)

    def _finish(self, request, payables, outcomes, *, verb, single):
        if single:
            outcome = outcomes[0]
            if outcome.ok:
                self.message_user(request, f"{outcome.label}: {outcome.reason or verb + '.'}", messages.SUCCESS)
            elif outcome.queued:  # Dots is unreachable: good news all the same
                self.message_user(request, outcome.reason, messages.INFO)
            else:
                self.message_user(request, f"{outcome.label}: {outcome.reason}", messages.ERROR)
            return redirect(self._change_url(payables[0]))
        message_outcomes(self, request, outcomes, verb=verb)
        return redirect(reverse("admin:payables_payable_changelist"))

    def _do_submit(self, request, payables, *, single):
        if request.method != "POST":
            return redirect(self._change_url(payables[0]) if single else reverse("admin:payables_payable_changelist"))
        confirmed = bool(request.POST.get("confirm"))
        reason = request.POST.get("reason", "").strip() if confirmed else ""
        outcomes, duplicates = [], []
        for payable in payables:
            try:
                services.payable_submit(payable_id=payable.pk, actor=request.user, duplicate_reason=reason)
                outcomes.append(RowOutcome(payable.bill_number, True))
            except PossibleDuplicate as exc:
                duplicates.append((payable, exc.matches))
            except DomainError as exc:
                reason = without_label(payable.bill_number, str(exc))
                outcomes.append(RowOutcome(payable.bill_number, False, reason, exc.code))
        if duplicates:
            if outcomes:
                message_outcomes(self, request, outcomes, verb="submitted for approval")
            form = ReasonForm(request.POST if confirmed else None)
            if confirmed:
                form.is_valid()  # says a reason is needed
            return self._confirm_page(
                request,
                [p for p, _ in duplicates],
                action="submit",
                title="Possible duplicate",
                form=form,
                intro="These look like payables we already have. Check the matches; to submit anyway, "
                "say why (it is audited).",
                matches=[(payable, match) for payable, found in duplicates for match in found],
            )
        return self._finish(request, payables, outcomes, verb="submitted for approval", single=single)

    def _do_approve(self, request, payables, *, single):
        if single and not request.POST.get("confirm"):
            return self._confirm_page(request, payables, action="approve", title="Approve payable", form=CommentForm())
        comment = request.POST.get("comment", "")
        outcomes = [self._approve_one(request, p, comment) for p in payables]
        if single:
            return self._finish(request, payables, outcomes, verb="approved", single=True)
        # Two kinds of success: a payable fully approved, and one whose step only recorded this approval.
        full = [o for o in outcomes if o.ok and o.code == "approved"]
        partial = [o for o in outcomes if o.ok and o.code != "approved"]
        done, skipped = summarise([*full, *(o for o in outcomes if not o.ok)], verb="fully approved")
        if done:
            self.message_user(request, done, messages.SUCCESS)
        if partial:
            details = "; ".join(f"{o.label}: {o.reason.rstrip('.')}" for o in partial)
            self.message_user(request, f"{len(partial)} with your approval recorded: {details}.", messages.SUCCESS)
        if queued_text(outcomes):
            self.message_user(request, queued_text(outcomes), messages.INFO)
        if skipped:
            self.message_user(request, skipped, messages.WARNING if full or partial else messages.ERROR)
        return redirect(reverse("admin:payables_payable_changelist"))

    def _approve_one(self, request, payable, comment) -> RowOutcome:
        """One approval; a success says what it did (the payable approved, or a step recorded)."""
        try:
            done = services.payable_approve(payable_id=payable.pk, actor=request.user, comment=comment)
        except DomainError as exc:
            return RowOutcome(payable.bill_number, False, without_label(payable.bill_number, str(exc)), exc.code)
        code = "approved" if done.status == S.APPROVED else "step_recorded"
        return RowOutcome(payable.bill_number, True, next_step.approved_text(done), code)

    def _reasoned(self, request, payables, *, single, action, title, service, verb):
        form = ReasonForm(request.POST if request.POST.get("confirm") else None)
        if not form.is_bound or not form.is_valid():
            return self._confirm_page(request, payables, action=action, title=title, form=form)
        outcomes = [
            run_row(p.bill_number, service, payable_id=p.pk, actor=request.user, reason=form.cleaned_data["reason"])
            for p in payables
        ]
        return self._finish(request, payables, outcomes, verb=verb, single=single)

    def _do_reject(self, request, payables, *, single):
        return self._reasoned(
            request,
            payables,
            single=single,
            action="reject",
            title="Reject payables",
            service=services.payable_reject,
            verb="rejected",
        )

    def _do_cancel(self, request, payables, *, single):
        return self._reasoned(
            request,
            payables,
            single=single,
            action="cancel",
            title="Cancel payables",
            service=services.payable_cancel,
            verb="canceled",
        )

    def _no_authenticator_page(self, request, payables, *, single, action, title, doing):
        """When this session needs a fresh code and has no authenticator to give one from (a demo payer signs
        in without one): the page saying so, leading to the set-up page, which comes back here (setting one up
        counts as a fresh code). None otherwise."""
        if not step_up_needed(request, settings.PAY_STEP_UP_SECONDS) or confirmed_devices(request.user).exists():
            return None
        back = self._act_url(payables[0], action) if single else reverse("admin:payables_payable_changelist")
        return self._confirm_page(
            request,
            payables,
            action=action,
            title=title,
            form=None,
            intro=f"{doing} asks for a code from your authenticator app, and you have not set one up yet.",
            setup_url=f"{reverse('admin:two_factor_setup')}?{urlencode({'next': back})}",
        )

    @staticmethod
    def _check_code(request, form) -> None:
        """A valid form's fresh code (when it asks for one) is checked; a wrong one is the field's error."""
        if "otp_token" in form.fields and form.is_valid():
            if not step_up_verify(request, form.cleaned_data["otp_token"]):
                form.add_error("otp_token", "That code is wrong or has expired. Enter the current six digits.")

    def _do_pay(self, request, payables, *, single):
        page = self._no_authenticator_page(
            request, payables, single=single, action="pay", title="Confirm payment", doing="Paying"
        )
        if page is not None:
            return page
        needs_code = step_up_needed(request, settings.PAY_STEP_UP_SECONDS)
        confirmed = request.method == "POST" and bool(request.POST.get("confirm"))
        form = StepUpForm(request.POST if confirmed else None) if needs_code else None
        if confirmed and form is not None:
            self._check_code(request, form)
        if not confirmed or (form is not None and form.errors):
            total = sum(p.total_cents for p in payables)
            return self._confirm_page(
                request,
                payables,
                action="pay",
                title="Confirm payment",
                form=form,
                intro=f"Pay {len(payables)} payable{'s' if len(payables) != 1 else ''}, "
                f"{format_cents(total)} in all, from the funding source each one names.",
            )
        outcomes = [run_row(p.bill_number, services.payable_pay, payable_id=p.pk, actor=request.user) for p in payables]
        return self._finish(request, payables, outcomes, verb="sent for payment", single=single)

    def _do_schedule(self, request, payables, *, single, on_due_date=False):
        """Schedule payments (a fresh authenticator code first, as paying asks): each is paid on its day."""
        action = "schedule_due" if on_due_date else "schedule"
        title = "Schedule for due date" if on_due_date else "Schedule payment"
        page = self._no_authenticator_page(
            request, payables, single=single, action=action, title=title, doing="Scheduling a payment"
        )
        if page is not None:
            return page
        needs_code = step_up_needed(request, settings.PAY_STEP_UP_SECONDS)
        confirmed = request.method == "POST" and bool(request.POST.get("confirm"))
        form = ScheduleForm(request.POST if confirmed else None, with_date=not on_due_date, with_code=needs_code)
        if confirmed:
            self._check_code(request, form)
        if not confirmed or form.errors:
            intro = (
                "Each payable is paid on its due date, that morning, as you, after every check a payment makes."
                if on_due_date
                else "The payable is paid that morning, as you, after every check a payment makes."
            )
            return self._confirm_page(request, payables, action=action, title=title, form=form, intro=intro)
        outcomes = [
            run_row(
                p.bill_number,
                scheduled.payable_schedule_pay,
                payable_id=p.pk,
                actor=request.user,
                pay_on=p.due_date if on_due_date else form.cleaned_data["pay_on"],
            )
            for p in payables
        ]
        return self._finish(request, payables, outcomes, verb="scheduled for payment", single=single)

    def _do_schedule_due(self, request, payables, *, single):
        return self._do_schedule(request, payables, single=single, on_due_date=True)

    def _do_unschedule(self, request, payables, *, single):
        return self._reasoned(
            request,
            payables,
            single=single,
            action="unschedule",
            title="Take off the schedule",
            service=scheduled.payable_unschedule_pay,
            verb="taken off the schedule",
        )

    def _do_check(self, request, payables, *, single):
        if request.method != "POST":
            return redirect(self._change_url(payables[0]))
        outcomes = [
            run_row(p.bill_number, services.payable_reconcile_payment, payable_id=p.pk, actor=request.user)
            for p in payables
        ]
        return self._finish(request, payables, outcomes, verb="checked with Dots", single=single)

    # --- bulk actions on the list (same services, per-row outcomes) -------------------------------------

    def bulk_view(self, request, action):
        """The confirmation page of an action on the list's selection, posted back with the payables."""
        spec = self._action(request, action)
        if not spec.bulk:
            raise PermissionDenied
        selection = PayableSelectionForm(request.POST or None)
        if not selection.is_valid():
            raise PermissionDenied
        payables = list(selection.cleaned_data["ids"].order_by("id"))
        return getattr(self, spec.method)(request, payables, single=False)

    @admin.action(description="Submit selected payables for approval", permissions=["submit"])
    def submit_selected(self, request, queryset):
        return self._do_submit(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Approve selected payables", permissions=["approve"])
    def approve_selected(self, request, queryset):
        return self._do_approve(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Reject selected payables…", permissions=["approve"])
    def reject_selected(self, request, queryset):
        return self._do_reject(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Cancel selected payables…", permissions=["submit"])
    def cancel_selected(self, request, queryset):
        return self._do_cancel(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Pay selected payables…", permissions=["pay"])
    def pay_selected(self, request, queryset):
        return self._do_pay(request, list(queryset.order_by("id")), single=False)

    @admin.action(description="Schedule for due date…", permissions=["pay"])
    def schedule_due_selected(self, request, queryset):
        return self._do_schedule(request, list(queryset.order_by("id")), single=False, on_due_date=True)

    def has_submit_permission(self, request):
        return request.user.has_perm("payables.submit_payable")

    def has_approve_permission(self, request):
        # The list offers approving and rejecting only to someone who can ever do it: one linked to a
        # Dots approver (every approval is made in Dots as that approver).
        if not request.user.has_perm("payables.approve_payable"):
            return False
        return Approver.objects.filter(user_id=request.user.pk).exists()

    def has_pay_permission(self, request):
        return request.user.has_perm("payables.pay_payable")
