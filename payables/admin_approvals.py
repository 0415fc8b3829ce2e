"""Admin for approval policies and approvers. Thin: every write goes through payables.policies,
policy_push and approver_sync.

The admin's add and change views normally run inside `transaction.atomic`; a policy is
created in Dots, so for POSTs `changeform_view` runs Django's form handling without that
transaction and the service commits locally before it calls Dots. The forms check
everything a policy needs first (same checks as the service), so a refusal names the field
or the step and keeps what was typed.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from core.admin_actions import message_outcomes, run_row
from core.admin_base import AdminPage, AdminPagesMixin
from core.errors import DomainError
from payables import approver_sync, errors, policies, policy_push, policy_simulator, selectors
from payables.forms import ApprovalPolicyForm, ApproverForm, StepFormSet
from payables.models import ApprovalPolicy, ApprovalStep, Approver


class _Abort(Exception):
    """The service refused at save time (a race): report it and go back to the form."""


class _Preview(Exception):
    """Show what the change would do to open payables instead of saving (asked, or needed: see save_related)."""

    def __init__(self, simulation, blocking, error: str = "") -> None:
        super().__init__("preview")
        self.simulation = simulation
        self.blocking = blocking
        self.error = error


# Fields of the preview page itself, not of the policy form it posts back.
_PREVIEW_FIELDS = {
    "csrfmiddlewaretoken",
    "_simulate",
    "unsatisfiable_reason",
    "_confirm_unsatisfiable",
    "_confirm_move",
}


def _planned_priorities(selected: list[ApprovalPolicy], direction: int) -> dict[int, int]:
    """The priorities after moving each selected policy in turn, as policies.policy_move will (one
    already first or last stays where it is)."""
    ordered = [(p.pk, p.priority) for p in selectors.current_policies()]
    for policy in selected:
        try:
            planned = dict(ordered) | policies.move_plan(ordered, policy_id=policy.pk, direction=direction)
        except (IndexError, KeyError):
            continue
        ordered = sorted(planned.items(), key=lambda item: (item[1], item[0]))
    return dict(ordered)


# --- approval policies ----------------------------------------------------------------------------------------


class VersionFilter(admin.SimpleListFilter):
    title = "versions"
    parameter_name = "versions"

    def lookups(self, request, model_admin):
        return [("retired", "Retired versions"), ("all", "All versions")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "display": "Current",
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() == "retired":
            return queryset.filter(retired_at__isnull=False).order_by("lineage", "-version")
        if self.value() == "all":
            return queryset.order_by("lineage", "-version")
        return queryset.filter(retired_at__isnull=True).order_by("priority", "id")


class ApprovalStepInline(admin.TabularInline):
    model = ApprovalStep
    formset = StepFormSet
    fields = ["num_approvals_required", "approvers"]
    extra = 1
    verbose_name = "approval step"
    verbose_name_plural = (
        "approval steps (completed in this order; each needs that many distinct approvers from its list)"
    )

    def get_extra(self, request, obj=None, **kwargs):
        return 2 if obj is None else 1

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "num_approvals_required":
            field.label = "Approvals required"
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "approvers":
            field.queryset = field.queryset.select_related("user")
            field.label_from_instance = _approver_choice_label
            field.help_text = (
                "Dots approvers linked to a user in the Approver role; the linked user is shown after the arrow."
            )
        return field


def _approver_choice_label(approver: Approver) -> str:
    who = approver.user.get_username() if approver.user_id else "not linked"
    return f"{approver.first_name} {approver.last_name} (#{approver.dots_user_id}, {approver.dots_role}) → {who}"


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(AdminPagesMixin, admin.ModelAdmin):
    form = ApprovalPolicyForm
    autocomplete_fields = ("vendors",)  # thousands of vendors: each found by typing the start of its name
    inlines = [ApprovalStepInline]
    list_display = [
        "description",
        "version",
        "priority",
        "amount_condition",
        "vendor_names",
        "steps_summary",
        "in_dots",
        "retired_at",
    ]
    list_filter = [VersionFilter]
    search_fields = ["description"]
    save_as = False  # "save as new" would bypass the versioning
    change_form_template = "admin/payables/approvalpolicy/change_form.html"
    actions = ["move_up", "move_down", "send_to_dots"]
    readonly_fields = ["version", "in_dots", "other_versions", "amount_condition", "vendor_names"]
    show_facets = admin.ShowFacets.NEVER

    def get_fieldsets(self, request, obj=None):
        # Someone who may only read sees the condition in words ("at least $1,000.00"), never bare cents.
        editable = obj is None or self.has_change_permission(request, obj)
        amount = ["amount_comparator", "amount_cents"] if editable else ["amount_condition"]
        main = ["description", "priority", *amount, "vendors" if editable else "vendor_names", "escalation_contact"]
        if obj is None:
            return [(None, {"fields": main})]
        return [(None, {"fields": main}), ("Versions and Dots", {"fields": ["version", "in_dots", "other_versions"]})]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).prefetch_related("vendors", "steps__approvers__user", "dots_copies__vendor")
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting retires and reaches Dots: one at a time, from the page
        return actions

    # -- display --

    @admin.display(description="amount")
    def amount_condition(self, obj):
        return selectors.amount_condition_text(obj.amount_comparator, obj.amount_cents)

    @admin.display(description="vendors")
    def vendor_names(self, obj):
        return ", ".join(v.name for v in obj.vendors.all()) or "any vendor"

    @admin.display(description="steps")
    def steps_summary(self, obj):
        return format_html_join(
            mark_safe("<br>"),
            "{}. {} of {}",
            (
                (s.order, s.num_approvals_required, ", ".join(selectors.approver_label(a) for a in s.approvers.all()))
                for s in obj.steps.all()
            ),
        )

    @admin.display(description="Dots")
    def in_dots(self, obj):
        return selectors.dots_state(obj)

    @admin.display(description="versions of this policy")
    def other_versions(self, obj):
        rows = ApprovalPolicy.objects.filter(lineage=obj.lineage).order_by("-version")
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">version {}</a> {}',
            (
                (
                    reverse("admin:payables_approvalpolicy_change", args=[v.pk]),
                    v.version,
                    "(current)" if v.retired_at is None else f"(retired {v.retired_at:%Y-%m-%d %H:%M})",
                )
                for v in rows
            ),
        )

    # -- permissions: retired versions are history --

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.retired_at is None)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.retired_at is None)

    # -- add / change: the service, outside the admin's transaction --

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        try:
            # Django's own form handling, minus the transaction.atomic around it (see module docstring).
            return self._changeform_view(request, object_id, form_url, extra_context)
        except _Preview as preview:
            return self._preview_page(request, object_id, preview)
        except _Abort as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        pass  # saved by the service in save_related, which also sees the steps

    def construct_change_message(self, request, form, formsets, add=False):
        # The steps formset is read, never saved (the service saves the steps); the audit
        # event holds the step-by-step diff.
        return super().construct_change_message(request, form, [], add)

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        step_formset = next(fs for fs in formsets if isinstance(fs, StepFormSet))
        fields = {
            "description": data["description"],
            "priority": data["priority"],
            "amount_comparator": data.get("amount_comparator") or "",
            "amount_cents": data.get("amount_cents"),
            "vendor_ids": [v.pk for v in data.get("vendors", [])],
            "steps": step_formset.steps(),
            "escalation_contact_id": data["escalation_contact"].pk if data.get("escalation_contact") else None,
        }
        confirmed_reason = self._simulate(request, fields, replaces=form.instance.pk if change else None)
        try:
            if change:
                policy = policies.policy_update(actor=request.user, policy_id=form.instance.pk, **fields)
            else:
                policy = policies.policy_create(actor=request.user, **fields)
        except errors.PolicyNotInDots as exc:
            policy = exc.policy
            self.message_user(request, str(exc), messages.WARNING)
        except DomainError as exc:
            raise _Abort(str(exc)) from exc
        if confirmed_reason is not None:
            policies.policy_confirm_unsatisfiable(
                actor=request.user, policy_id=policy.pk, reason=confirmed_reason[0], payables=confirmed_reason[1]
            )
        # The admin goes on to log and redirect with this object: make it the version just saved.
        form.instance.__dict__.update({k: v for k, v in policy.__dict__.items() if not k.startswith("_")})

    def _simulate(self, request, fields, *, replaces):
        """Before saving: what the change does to open payables. Raises _Preview to show it when asked
        ("Preview the effect") or when it leaves open payables without enough approvers and no reason
        was given; returns (reason, bill numbers) once such a change is confirmed, else None."""
        change = policy_simulator.proposed(
            replaces=replaces, **{k: v for k, v in fields.items() if k != "escalation_contact_id"}
        )
        simulation = policy_simulator.simulate(change, replaces=replaces)
        blocking = [i for i in simulation.unsatisfiable if i.changed]
        if "_simulate" in request.POST:
            raise _Preview(simulation, blocking)
        if not blocking:
            return None
        reason = request.POST.get("unsatisfiable_reason", "").strip()
        if not reason:
            error = (
                "Give a reason to save anyway: it goes into the audit trail."
                if "_confirm_unsatisfiable" in request.POST
                else ""
            )
            raise _Preview(simulation, blocking, error)
        return reason, [i.payable.bill_number for i in blocking]

    def _preview_page(self, request, object_id, preview):
        reposted = [(name, values) for name, values in request.POST.lists() if name not in _PREVIEW_FIELDS]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "What this change would do to open payables",
            "simulation": preview.simulation,
            "changed": preview.simulation.changed,
            "blocking": preview.blocking,
            "error": preview.error,
            "reposted": reposted,
            "action_url": request.get_full_path(),
            "back_url": reverse("admin:payables_approvalpolicy_change", args=[object_id])
            if object_id
            else reverse("admin:payables_approvalpolicy_add"),
        }
        return TemplateResponse(request, "admin/payables/approvalpolicy/simulate.html", context)

    def response_change(self, request, obj):
        response = super().response_change(request, obj)
        if "_continue" in request.POST or "_saveasnew" in request.POST:
            # An edit made a new version: continue on its page, not on the retired one's.
            return HttpResponseRedirect(reverse("admin:payables_approvalpolicy_change", args=[obj.pk]))
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}), "needs_dots": obj is not None and selectors.needs_dots(obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    def admin_pages(self):
        return [AdminPage("<path:object_id>/send-to-dots/", "send_to_dots_view", "send_to_dots")]

    def send_to_dots_view(self, request, object_id):
        # Retired versions too (their deletion in Dots): the permission, not has_change_permission.
        self.require(request, "payables.change_approvalpolicy")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        try:
            policy_push.policy_push(actor=request.user, policy_id=obj.pk)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"{obj} is in line with Dots.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:payables_approvalpolicy_change", args=[obj.pk]))

    # -- delete: retire here and delete in Dots, outside a transaction --

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        # Deleting is a change to the policies too: the same preview as an edit, and a reason when it
        # leaves open payables without enough approvers.
        simulation = policy_simulator.simulate(None, replaces=obj.pk)
        blocking = [i for i in simulation.unsatisfiable if i.changed]
        reason = request.POST.get("reason", "").strip()
        error = ""
        if request.method == "POST" and blocking and not reason:
            error = "Give a reason to delete it anyway: it goes into the audit trail."
        elif request.method == "POST":
            try:
                policies.policy_delete(actor=request.user, policy_id=obj.pk, reason=reason)
            except errors.PolicyNotInDots as exc:
                self.message_user(request, str(exc), messages.WARNING)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(reverse("admin:payables_approvalpolicy_change", args=[obj.pk]))
            else:
                self.message_user(request, f"{obj} was retired here and deleted in Dots.", messages.SUCCESS)
            if blocking:
                policies.policy_confirm_unsatisfiable(
                    actor=request.user,
                    policy_id=obj.pk,
                    reason=reason,
                    payables=[i.payable.bill_number for i in blocking],
                )
            return HttpResponseRedirect(reverse("admin:payables_approvalpolicy_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "object": obj,
            "title": f"Delete approval policy “{obj.description}”?",
            "simulation": simulation,
            "changed": simulation.changed,
            "blocking": blocking,
            "error": error,
            "reason": reason,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/payables/approvalpolicy/delete_confirmation.html", context)

    # -- priority --

    def _move(self, request, queryset, direction: int):
        selected = list(queryset.filter(retired_at__isnull=True).order_by("priority", "id"))
        # Moving changes which policy routes a payable: when it changes anything for an open payable,
        # show what first (the same preview as an edit) and move only once confirmed, with a reason
        # when it leaves open payables without enough approvers.
        simulation = policy_simulator.simulate_priorities(_planned_priorities(selected, direction))
        blocking = [i for i in simulation.unsatisfiable if i.changed]
        reason = request.POST.get("unsatisfiable_reason", "").strip()
        if simulation.changed and "_confirm_move" not in request.POST:
            return self._move_preview(request, simulation, blocking, direction)
        if blocking and not reason:
            error = "Give a reason to move it anyway: it goes into the audit trail."
            return self._move_preview(request, simulation, blocking, direction, error)
        outcomes = [
            run_row(str(p), policies.policy_move, actor=request.user, policy_id=p.pk, direction=direction)
            for p in selected
        ]
        message_outcomes(self, request, outcomes, verb="moved")
        if blocking and selected:
            policies.policy_confirm_unsatisfiable(
                actor=request.user,
                policy_id=selected[0].pk,
                reason=reason,
                payables=[i.payable.bill_number for i in blocking],
            )
        return None

    def _move_preview(self, request, simulation, blocking, direction: int, error: str = ""):
        reposted = [(name, values) for name, values in request.POST.lists() if name not in _PREVIEW_FIELDS]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"What moving {'up' if direction < 0 else 'down'} would do to open payables",
            "simulation": simulation,
            "changed": simulation.changed,
            "blocking": blocking,
            "error": error,
            "reposted": [*reposted, ("_confirm_move", ["1"])],
            "action_url": request.get_full_path(),
            "back_url": reverse("admin:payables_approvalpolicy_changelist"),
            "save_label": "Move anyway" if blocking else "Move",
            "back_label": "Leave the order as it is",
            "verb": "move",
        }
        return TemplateResponse(request, "admin/payables/approvalpolicy/simulate.html", context)

    @admin.action(description="Move up (tried earlier)", permissions=["change"])
    def move_up(self, request, queryset):
        return self._move(request, queryset, -1)

    @admin.action(description="Move down (tried later)", permissions=["change"])
    def move_down(self, request, queryset):
        return self._move(request, queryset, +1)

    @admin.action(description="Send to Dots again (after a failed call)", permissions=["change"])
    def send_to_dots(self, request, queryset):
        outcomes = [run_row(str(p), policy_push.policy_push, actor=request.user, policy_id=p.pk) for p in queryset]
        message_outcomes(self, request, outcomes, verb="in line with Dots")


# --- approvers ----------------------------------------------------------------------------------------------------


@admin.register(Approver)
class ApproverAdmin(AdminPagesMixin, admin.ModelAdmin):
    form = ApproverForm
    list_display = ["__str__", "email", "dots_role", "linked_user", "synced_at"]
    list_select_related = ["user"]
    search_fields = ["email", "first_name", "last_name"]
    readonly_fields = ["dots_user_id", "email", "first_name", "last_name", "dots_role", "synced_at"]
    fields = ["dots_user_id", "first_name", "last_name", "email", "dots_role", "user", "synced_at"]
    change_list_template = "admin/payables/approver/change_list.html"
    actions = ["unlink"]
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description="linked user", ordering="user__username")
    def linked_user(self, obj):
        return obj.user.get_username() if obj.user_id else "— not linked —"

    def has_add_permission(self, request):
        return False  # approvers come from Dots: "Sync approvers from Dots"

    def has_delete_permission(self, request, obj=None):
        return False  # old policy versions name them

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        # No Dots call: the link is ours alone, so the admin's transaction is fine here.
        approver_sync.approver_link(actor=request.user, approver_id=obj.pk, user_id=obj.user_id)

    @admin.action(description="Unlink from their users", permissions=["change"])
    def unlink(self, request, queryset):
        outcomes = [
            run_row(str(a), approver_sync.approver_link, actor=request.user, approver_id=a.pk, user_id=None)
            for a in queryset
        ]
        message_outcomes(self, request, outcomes, verb="unlinked")

    def admin_pages(self):
        return [AdminPage("sync/", "sync_view", "sync")]

    def sync_view(self, request):
        self.require(request, "payables.change_approver")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            result = approver_sync.approvers_sync(actor=request.user)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, result.summary(), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:payables_approver_changelist"))

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_sync": self.has_change_permission(request)}
        return super().changelist_view(request, extra_context)
