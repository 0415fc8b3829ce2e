"""What the payouts admin pages share: the read-only base, money, links, times and "Details for support".

Pages a person reads show money as "$25.00", statuses in words and times in the local format
without microseconds; ids, keys and the JSON sent to Dots go in a collapsed "Details for support"
fieldset (a <details> element: no script).
"""

import json
from datetime import datetime

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from core.admin_base import AdminPagesMixin, LargeListAdmin
from core.money import format_cents

SUPPORT = "Details for support"


class ReadOnlyAdmin(AdminPagesMixin, LargeListAdmin):
    """Rows change only through services: no admin edit form, never deleted here."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        shown = flatten_fieldsets(self.fieldsets) if self.fieldsets else []
        return list(dict.fromkeys([f.name for f in self.model._meta.fields] + list(shown)))

    def form_page(
        self, request, form, *, title: str, obj=None, rows=(), intro: str = "", submit: str = "", method: str = "post"
    ):
        """One form on the admin's chrome (templates/admin/payouts/form.html), after what it is about
        (`rows`: (label, value) pairs in words) and a sentence (`intro`)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "original": obj,
            "rows": rows,
            "intro": intro,
            "submit": submit,
            "method": method,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/payouts/form.html", context)

    def refusal_page(self, request, *, title: str, refusal: str, obj=None, rows=()):
        """The same page with no form: why this cannot be done, and a way back to the record."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "refusal": refusal,
            "original": obj,
            "rows": rows,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/payouts/form.html", context)


class NothingToChangeAdmin(ReadOnlyAdmin):
    """A record's page where nothing can be changed: it is shown to read, with no save buttons.

    Changes happen through the list's actions and the record's own pages (each checking its
    permission); `has_change_permission` stays true for the list, so those actions are offered.
    """

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    @admin.display(description="last error from Dots")
    def last_error(self, obj):
        return obj.last_dots_error or "none"

    @admin.display(description="last call to Dots")
    def last_attempt(self, obj):
        return when(obj.last_dots_attempt_at)


def support_fieldset(*fields: str):
    return (SUPPORT, {"classes": ("collapse",), "fields": fields})


def money(cents) -> str:
    return format_cents(cents)


def when(value) -> str:
    """A time in the local format, without microseconds ("Dec. 6, 2026, 2:31 p.m."); "" when there is none."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime):
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "DATETIME_FORMAT")


def json_block(value):
    """Raw JSON for support, indented; only ever inside "Details for support"."""
    return format_html('<pre class="ll-json">{}</pre>', json.dumps(value, indent=2, sort_keys=True, default=str))


def link_to(obj, admin_name: str, label: str):
    try:
        url = reverse(f"admin:{admin_name}_change", args=[obj.pk])
    except NoReverseMatch:  # that admin is not registered
        return label
    return format_html('<a href="{}">{}</a>', url, label)
