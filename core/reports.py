"""Report pages the apps declare (registry.report): one page, one CSV, one Excel, from one table.

A report's `build(request)` reads its filters from the query string and answers a `ReportTable`;
the page shows it (money as "$1,234.56"), and its exports (core.exports) write the same rows,
audited like any export. Who may see a report may export it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from core import registry
from core.exports import FORMATS, ExportColumn, export_response
from core.money import format_cents

# A page shows this many rows; the exports have them all.
PAGE_ROWS = 1000


@dataclass
class ReportFilter:
    """One field of the report's filter form (a GET form): a date, or a choice."""

    name: str
    label: str
    value: str
    kind: str = "date"  # "date" or "select"
    options: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReportTable:
    columns: tuple[ExportColumn, ...]
    rows: list[tuple]
    filters: list[ReportFilter] = field(default_factory=list)
    totals: tuple | None = None  # a last row, shown on the page (not exported: a spreadsheet sums)
    notes: list[str] = field(default_factory=list)  # how it was counted, in words
    problems: list[str] = field(default_factory=list)  # a filter that could not be read, and what was used


def _shown(kind: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if kind == "money":
        return format_cents(int(value))
    if kind == "date":
        return f"{value.day} {value:%b %Y}"
    if kind == "datetime":
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "last4":
        return f"••••{value}"
    if kind == "number":
        return f"{value:,}" if isinstance(value, int) else str(value)
    return str(value)


def _numeric(column: ExportColumn) -> bool:
    return column.kind in ("money", "number")


def _cells(columns: tuple[ExportColumn, ...], row: tuple) -> list[tuple[str, bool]]:
    return [(_shown(column.kind, value), _numeric(column)) for column, value in zip(columns, row, strict=True)]


def _spec(request: HttpRequest, name: str) -> registry.Report:
    spec = registry.discover().reports.get(name)
    if spec is None:
        raise Http404("No such report.")
    if not request.user.has_perm(spec.permission):
        raise PermissionDenied
    return spec


def report_view(request: HttpRequest, name: str, *, admin_site) -> HttpResponseBase:
    spec = _spec(request, name)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    table: ReportTable = import_string(spec.build)(request)
    query = request.GET.urlencode()
    context = {
        **admin_site.each_context(request),
        "title": spec.title,
        "spec": spec,
        "table": table,
        "headers": [(column.header, _numeric(column)) for column in table.columns],
        "rows": [_cells(table.columns, row) for row in table.rows[:PAGE_ROWS]],
        "cut": len(table.rows) - PAGE_ROWS if len(table.rows) > PAGE_ROWS else 0,
        "row_count": len(table.rows),
        "totals": _cells(table.columns, table.totals) if table.totals else None,
        "exports": [
            {
                "label": f"Export {label}",
                "fmt": fmt,
                "url": reverse("admin:report_export", args=[name, fmt]) + (f"?{query}" if query else ""),
            }
            for fmt, label in FORMATS.items()
        ],
        "computed_at": timezone.localtime(),
    }
    return TemplateResponse(request, "admin/core/report.html", context)


def report_export_view(request: HttpRequest, name: str, fmt: str) -> HttpResponseBase:
    spec = _spec(request, name)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    table: ReportTable = import_string(spec.build)(request)
    return export_response(
        request,
        table.rows,
        table.columns,
        fmt=fmt,
        name=name.replace("_", "-"),
        what=spec.title,
        object_type=f"report.{name}",
    )


def reports_for(request: HttpRequest) -> list[dict[str, str]]:
    return [
        {"title": spec.title, "description": spec.description, "url": reverse("admin:report", args=[spec.name])}
        for spec in registry.reports()
        if request.user.has_perm(spec.permission)
    ]
