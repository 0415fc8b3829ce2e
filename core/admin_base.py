"""Base classes for the admin: lists that stay fast on large tables, and view-only pages."""

from django.contrib import admin

from core.pagination import CappedCountPaginator


class LargeListAdmin(admin.ModelAdmin):
    """A list that must stay fast on millions of rows: no full COUNT(*), no facet counts.

    Facet counts are a COUNT per filter choice over the whole table; the capped paginator
    counts at most 10,000 rows (core.pagination).
    """

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


class ViewOnlyAdmin(LargeListAdmin):
    """Rows that only services and tasks write: seen here, never added, edited or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
