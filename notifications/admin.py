"""A person's own pages: "My tasks" (what waits for them, and what they were told), their email
preferences, and their absences. Any staff member opens them and sees only their own; recording an
absence for someone else needs notifications.record_absence_for_others (Administrators).

The model's standard admin pages are closed to everyone (a Manager's blanket view permission must
not show other people's inboxes): these pages are the only way in.
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.admin_base import AdminPage, AdminPagesMixin, ViewOnlyAdmin
from core.errors import DomainError, PermissionRefused
from core.people import full_name
from notifications import selectors, services
from notifications.errors import AbsenceInvalid
from notifications.forms import AbsenceForm
from notifications.models import Absence, Notification, short_date


@admin.register(Notification)
class NotificationAdmin(AdminPagesMixin, ViewOnlyAdmin):
    # Not even viewed through the standard pages (a Manager's blanket view_ permission included).
    def has_module_permission(self, request):
        return False

    def has_view_permission(self, request, obj=None):
        return False

    def admin_pages(self):
        return [
            AdminPage("inbox/", "inbox_view", "inbox"),
            AdminPage("preferences/", "preferences_view", "preferences"),
            AdminPage("absences/", "absences_view", "absences"),
            AdminPage("absences/<int:absence_id>/end/", "absence_end_view", "absence_end"),
        ]

    def _context(self, request, title: str, **extra):
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta, **extra}

    # -- My tasks ---------------------------------------------------------------------------------------

    def inbox_view(self, request):
        user = request.user
        if request.method == "POST":
            if request.POST.get("all") == "yes":
                ids = [n.pk for n in selectors.notifications_of(user, unread_only=True)]
            else:
                ids = [int(pk) for pk in request.POST.getlist("notification") if pk.isdigit()]
            try:
                marked = services.notifications_mark_read(actor=user, notification_ids=ids)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
            return HttpResponseRedirect(request.get_full_path())
        oldest_first = request.GET.get("order") == "oldest"
        context = self._context(
            request,
            "My tasks",
            sections=selectors.what_waits(user, oldest_first=oldest_first),
            notifications=selectors.notifications_of(user, oldest_first=oldest_first),
            oldest_first=oldest_first,
            covering=[selectors.away_text(a) for a in selectors.covered_by(user)],
            absences=[a for a in selectors.absences_visible_to(user) if a.user_id == user.pk and a.canceled_at is None],
        )
        return TemplateResponse(request, "admin/notifications/inbox.html", context)

    # -- Email preferences ---------------------------------------------------------------------------------

    def preferences_view(self, request):
        user = request.user
        if request.method == "POST":
            wanted = {
                event.key: request.POST.get(f"email-{event.key}") == "on"
                for event, _on in selectors.preferences_of(user)
            }
            changed = services.preferences_set(actor=user, emails=wanted)
            self.message_user(
                request,
                f"Saved: {len(changed)} change{'s' if len(changed) != 1 else ''}." if changed else "Nothing changed.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(request.get_full_path())
        context = self._context(request, "Which events email me", preferences=selectors.preferences_of(user))
        return TemplateResponse(request, "admin/notifications/preferences.html", context)

    # -- Absences --------------------------------------------------------------------------------------------

    def absences_view(self, request):
        user = request.user
        for_others = user.has_perm("notifications.record_absence_for_others")
        form = AbsenceForm(request.POST or None, may_record_for_others=for_others)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            person = data.get("person") or user
            try:
                absence = services.absence_record(
                    actor=user,
                    user=person,
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    backup=data["backup"],
                    note=data.get("note", ""),
                )
            except AbsenceInvalid as exc:
                form.add_error(exc.field or None, str(exc))
            except DomainError as exc:
                form.add_error("person" if "person" in form.fields else None, str(exc))
            else:
                self.message_user(
                    request,
                    f"Recorded: {full_name(absence.user)} is away until {short_date(absence.ends_on)}; "
                    f"{full_name(absence.backup)} is told in their place.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(request.path)
        absences = selectors.absences_visible_to(user)
        context = self._context(
            request,
            "Out of office",
            form=form,
            absences=absences,
            for_others=for_others,
            user_model=get_user_model(),
        )
        return TemplateResponse(request, "admin/notifications/absences.html", context)

    def absence_end_view(self, request, absence_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        absence = Absence.objects.filter(pk=absence_id).first()
        if absence is None:
            self.message_user(request, "That absence no longer exists.", messages.WARNING)
        else:
            try:
                services.absence_cancel(
                    actor=request.user, absence_id=absence.pk, reason=request.POST.get("reason", "")
                )
            except PermissionRefused as exc:
                raise PermissionDenied(str(exc)) from exc
            self.message_user(request, f"{absence} has ended.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:notifications_notification_absences"))
