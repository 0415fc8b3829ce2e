"""Base classes for the admin: lists that stay fast on large tables, and view-only pages."""

from dataclasses import dataclass

from django import forms
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import HttpRequest
from django.urls import path

from core.pagination import CappedCountPaginator


class LargeListAdmin(admin.ModelAdmin):
    """A list that must stay fast on millions of rows: no full COUNT(*), no facet counts.

    Facet counts are a COUNT per filter choice over the whole table; the capped paginator
    counts at most 10,000 rows (core.pagination).
    """

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    # Fields every record also in Dots inherits (core.models.DotsRecord): shown after the record's
    # own fields, not first as the abstract parent's field order would put them.
    LAST_FIELDS = ("last_dots_error", "last_dots_attempt_at")

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return [f for f in fields if f not in self.LAST_FIELDS] + [f for f in self.LAST_FIELDS if f in fields]


class ViewOnlyAdmin(LargeListAdmin):
    """Rows that only services and tasks write: seen here, never added, edited or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AdminPagesMixin:
    """Custom admin pages, built one way in every app.

    A page is a view method on the ModelAdmin, listed in `admin_pages()` as
    `AdminPage(route, view_name, name)` and wired by `get_urls` through
    `admin_site.admin_view` (sign-in, CSRF, no-cache). Its form lives in the app's
    `forms.py`; its template extends the admin's. Each view checks the permission of what
    it does (`self.require(request, "payables.pay_payable")`) before it shows or does
    anything: the model's five standard permissions do not cover custom pages.
    """

    def admin_pages(self) -> list["AdminPage"]:
        return []

    def get_urls(self):
        opts = self.model._meta  # type: ignore[attr-defined]
        pages = [
            path(
                page.route,
                self.admin_site.admin_view(getattr(self, page.view)),  # type: ignore[attr-defined]
                name=f"{opts.app_label}_{opts.model_name}_{page.name}",
            )
            for page in self.admin_pages()
        ]
        return pages + super().get_urls()  # type: ignore[misc]

    @staticmethod
    def require(request: HttpRequest, *perms: str) -> None:
        """Refuse (403) unless the signed-in user holds every one of `perms`."""
        if not request.user.has_perms(perms):
            raise PermissionDenied


@dataclass(frozen=True)
class AdminPage:
    route: str  # relative to the model's admin URL, e.g. "<path:object_id>/pay/"
    view: str  # the ModelAdmin method's name
    name: str  # URL name suffix: admin:<app>_<model>_<name>


def autocomplete_accepts(admin_site: admin.AdminSite, request: HttpRequest):
    """For a request of the admin's autocomplete (/admin/autocomplete/), the objects the asking form's
    field accepts, as the source model's admin builds that field (formfield_for_foreignkey or
    formfield_for_manytomany): the menu then offers only what saving would accept (an inactive vendor
    is not offered for a new bill, rather than refused after it is picked). None for any other request.

    Django's autocomplete applies the model field's limit_choices_to but not what a ModelAdmin narrows
    its form field to; a target admin calls this from get_search_results.
    """
    match = request.resolver_match
    if match is None or match.url_name != "autocomplete":
        return None
    try:
        model = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        field = model._meta.get_field(request.GET["field_name"])
    except (KeyError, LookupError, FieldDoesNotExist):
        return None  # Django's view answers such a request itself (403)
    source_admin = admin_site._registry.get(model)
    if source_admin is None or not field.is_relation:
        return None
    formfield: forms.Field | None = (
        source_admin.formfield_for_manytomany(field, request)
        if field.many_to_many
        else source_admin.formfield_for_foreignkey(field, request)
    )
    return getattr(formfield, "queryset", None)
