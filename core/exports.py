"""Exports of a list as it is shown, with its filters and search: CSV and Excel, streamed.

An admin list opts in with `ExportMixin` and declares `export_columns`: each a header, the ORM
path of its value and what kind of value it is. The rows are read with `values_list` through a
server-side cursor in chunks, so memory stays flat at a million rows; Excel is written by
openpyxl's write-only workbook to a temporary file that is then streamed.

- money: a number with two decimals (Excel: a number cell formatted 1,234.56), and the row
  carries a currency column;
- dates and times: dates (Excel: date cells); times in the project's time zone;
- bank and tax numbers: only their last four digits are stored, and shown as ••••1234;
- any text a spreadsheet would run as a formula is neutralised (core.csv_safe);
- choices read as words ("Waiting for approval"), as the list shows them.

Only those who may view the list may export it, and every export is audited: who, which list,
which filters, which format.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import connections, models
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponseBase,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.urls import path, reverse
from django.utils import timezone

from core import audit
from core.csv_safe import EchoBuffer, neutralise

FORMATS = {"csv": "CSV", "xlsx": "Excel"}
CURRENCY = "USD"
CHUNK = 5000


@dataclass(frozen=True)
class ExportColumn:
    header: str
    path: str  # an ORM path for values_list: "vendor__name", "total_cents"
    kind: str = "text"  # text, money, date, datetime, number, last4, bool, json


class _Plan:
    """How each value of a row is written, worked out once per export."""

    def __init__(self, model: type[models.Model] | None, columns: tuple[ExportColumn, ...]) -> None:
        self.columns = columns
        self.paths = [column.path for column in columns]
        self.words: list[dict[Any, str] | None] = [
            self._choices(model, column.path) if model is not None else None for column in columns
        ]
        self.money = any(column.kind == "money" for column in columns)
        self.tz = timezone.get_current_timezone()

    @staticmethod
    def _choices(model: type[models.Model], path: str) -> dict[Any, str] | None:
        current: Any = model
        field = None
        for part in path.split("__"):
            try:
                field = current._meta.get_field(part)
            except Exception:
                return None
            if field.is_relation and field.related_model is not None:
                current = field.related_model
        if field is not None and getattr(field, "choices", None):
            return {value: str(label) for value, label in field.flatchoices}
        return None

    def headers(self) -> list[str]:
        names = [column.header for column in self.columns]
        return [*names, "Currency"] if self.money else names

    def csv_row(self, row: tuple) -> list[str]:
        out = []
        for column, words, value in zip(self.columns, self.words, row, strict=True):
            out.append(self._csv_value(column.kind, words, value))
        if self.money:
            out.append(CURRENCY)
        return out

    def _csv_value(self, kind: str, words: dict | None, value: Any) -> str:
        if value is None:
            return ""
        if kind == "money":
            sign = "-" if value < 0 else ""
            whole, cents = divmod(abs(int(value)), 100)
            return f"{sign}{whole}.{cents:02d}"
        if kind == "datetime":
            return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")
        if kind == "date":
            return value.isoformat()
        if kind == "last4":
            return f"••••{value}" if value else ""
        if kind == "json":
            return neutralise(json.dumps(value, ensure_ascii=False, sort_keys=True))
        if kind == "bool":
            return "yes" if value else "no"
        if kind == "number":
            return str(value)
        if words is not None:
            return words.get(value, str(value))
        return neutralise(value)

    def xlsx_row(self, row: tuple) -> list[Any]:
        out: list[Any] = []
        for column, words, value in zip(self.columns, self.words, row, strict=True):
            kind = column.kind
            if value is None:
                out.append(None)
            elif kind == "money":
                out.append(int(value) / 100)
            elif kind == "datetime":
                out.append(value.astimezone(self.tz).replace(tzinfo=None))
            elif kind in ("date", "number"):
                out.append(value)
            else:
                out.append(self._csv_value(kind, words, value))
        if self.money:
            out.append(CURRENCY)
        return out


def _rows(source: models.QuerySet | Iterable[tuple], plan: _Plan) -> Iterator[tuple]:
    """A queryset's rows (values_list through a server-side cursor), or rows already made (a report)."""
    if isinstance(source, models.QuerySet):
        return source.values_list(*plan.paths).iterator(chunk_size=CHUNK)
    return iter(source)


def csv_stream(source: models.QuerySet | Iterable[tuple], plan: _Plan) -> Iterator[str | bytes]:
    writer = csv.writer(EchoBuffer())
    yield "\ufeff"  # Excel reads the file as UTF-8 only with this mark
    yield writer.writerow(plan.headers())
    if isinstance(source, models.QuerySet) and connections[source.db].vendor == "postgresql":
        yield from _copy_csv(source, plan)
        return
    for row in _rows(source, plan):
        yield writer.writerow(plan.csv_row(row))


# --- PostgreSQL: the database writes the CSV ---------------------------------------------------------------
# The same cells as _Plan.csv_row, as SQL: COPY (the list's own query) TO STDOUT in CSV, streamed block by
# block. Python never touches a row, so a million rows cost what the database's COPY costs.

_FORMULA_SQL = "chr(61), chr(43), chr(45), chr(64), chr(9), chr(13)"  # = + - @ tab CR (core.csv_safe)
_QUOTE = "chr(39)"  # the apostrophe a neutralised cell starts with


def _sql_cell(column: ExportColumn, words: dict[Any, str] | None, tz_name: str) -> models.Expression:
    value = models.F(column.path)
    quoted_tz = "'" + tz_name.replace("'", "''") + "'"
    templates = {
        "money": "((%(expressions)s)::numeric / 100)::numeric(20, 2)",
        "date": "to_char(%(expressions)s, 'YYYY-MM-DD')",
        "datetime": f"to_char((%(expressions)s) AT TIME ZONE {quoted_tz}, 'YYYY-MM-DD HH24:MI:SS')",
        "number": "(%(expressions)s)::text",
        "json": "(%(expressions)s)::text",
        "last4": "CASE WHEN coalesce(%(expressions)s, '') = '' THEN '' ELSE '••••' || %(expressions)s END",
        "bool": "CASE WHEN %(expressions)s THEN 'yes' WHEN NOT %(expressions)s THEN 'no' ELSE '' END",
    }
    if column.kind in templates:
        return models.Func(value, template=templates[column.kind], output_field=models.TextField())
    if words is not None:
        whens = [models.When(**{column.path: key}, then=models.Value(label)) for key, label in words.items()]
        return models.Case(
            *whens,
            default=models.Func(value, template="(%(expressions)s)::text"),
            output_field=models.TextField(),
        )
    return models.Func(
        value,
        template=(
            f"CASE WHEN left((%(expressions)s)::text, 1) IN ({_FORMULA_SQL}) "
            f"THEN {_QUOTE} || (%(expressions)s)::text ELSE (%(expressions)s)::text END"
        ),
        output_field=models.TextField(),
    )


def _copy_csv(queryset: models.QuerySet, plan: _Plan) -> Iterator[bytes]:
    tz_name = str(plan.tz)
    cells: dict[str, Any] = {
        f"export_cell_{i}": _sql_cell(column, words, tz_name)
        for i, (column, words) in enumerate(zip(plan.columns, plan.words, strict=True))
    }
    if plan.money:
        cells["export_cell_currency"] = models.Value(CURRENCY, output_field=models.TextField())
    rows = queryset.annotate(**cells).values_list(*cells)
    sql, params = rows.query.sql_with_params()
    connection = connections[queryset.db]
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: COPY is not part of the DB-API
        with raw.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for block in copy:
                yield bytes(block)


def xlsx_file(source: models.QuerySet | Iterable[tuple], plan: _Plan, *, title: str):
    """A temporary .xlsx (write-only: rows go to disk as they come), rewound for streaming."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Export")
    bold = Font(bold=True)
    header = []
    for name in plan.headers():
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    formats = [
        {"money": "#,##0.00", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm:ss"}.get(column.kind)
        for column in plan.columns
    ]
    needs_format = any(formats)
    for row in _rows(source, plan):
        values = plan.xlsx_row(row)
        if needs_format:
            cells: list[Any] = []
            for i, value in enumerate(values):
                number_format = formats[i] if i < len(formats) else None
                if number_format and value is not None:
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = number_format
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
        else:
            sheet.append(values)
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (FileResponse closes it when sent)
    workbook.save(handle)
    handle.seek(0)
    return handle


def export_response(
    request: HttpRequest,
    source: models.QuerySet | Iterable[tuple],
    columns: Iterable[ExportColumn],
    *,
    fmt: str,
    name: str,
    what: str,
    object_type: str,
) -> HttpResponseBase:
    """Audit the export (who, which list, filters, format), then stream it. `source`: a queryset
    (read with the columns' paths) or rows already made in the columns' order (a report)."""
    if fmt not in FORMATS:
        raise Http404("Exports are CSV or Excel.")
    model = source.model if isinstance(source, models.QuerySet) else None
    plan = _Plan(model, tuple(columns))
    filters = request.GET.urlencode() or "(none)"
    audit.record(
        actor=cast(User, request.user),  # the admin site lets only signed-in staff this far
        action="list.exported",
        object_type=object_type,
        object_repr=what,
        changes={"format": {"before": None, "after": FORMATS[fmt]}, "filters": {"before": None, "after": filters}},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        response: HttpResponseBase = StreamingHttpResponse(
            csv_stream(source, plan), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
        return response
    handle = xlsx_file(source, plan, title=what)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"{name}-{stamp}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


class ExportMixin:
    """An admin list that exports what it shows (its filters, search and order) as CSV and Excel.

    Declare `export_columns`. The list's page gets "Export CSV" and "Export Excel" links that
    carry its current query string.
    """

    export_columns: tuple[ExportColumn, ...] = ()
    # Exporting needs the list's view permission, or this one instead when set ("core.export_auditevent").
    export_permission: str | None = None
    # The URL is admin:<app>_<model>_<this>; a list with an "export" page of its own names another.
    export_url_name = "export"

    def may_export(self, request: HttpRequest) -> bool:
        if self.export_permission:
            return request.user.has_perm(self.export_permission)
        return bool(self.has_view_permission(request))  # type: ignore[attr-defined]

    def get_urls(self):
        opts = self.model._meta  # type: ignore[attr-defined]
        name = f"{opts.app_label}_{opts.model_name}_{self.export_url_name}"
        route = path(
            f"{self.export_url_name.replace('_', '-')}/<str:fmt>/",
            self.admin_site.admin_view(self.export_list_view),  # type: ignore[attr-defined]
            name=name,
        )
        return [route, *super().get_urls()]  # type: ignore[misc]

    def export_list_view(self, request: HttpRequest, fmt: str) -> HttpResponseBase:
        if not self.may_export(request):
            raise PermissionDenied
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        queryset = changelist.get_queryset(request)
        opts = self.model._meta  # type: ignore[attr-defined]
        return export_response(
            request,
            queryset,
            self.export_columns,
            fmt=fmt,
            name=str(opts.verbose_name_plural).replace(" ", "-"),
            what=str(opts.verbose_name_plural).capitalize(),
            object_type=opts.label_lower,
        )

    def changelist_view(self, request, extra_context=None):
        opts = self.model._meta  # type: ignore[attr-defined]
        query = request.GET.urlencode()
        suffix = f"?{query}" if query else ""
        base = f"admin:{opts.app_label}_{opts.model_name}_{self.export_url_name}"
        links = [
            {"label": f"Export {label}", "url": reverse(base, args=[fmt]) + suffix, "fmt": fmt}
            for fmt, label in FORMATS.items()
            if self.may_export(request)
        ]
        extra_context = {**(extra_context or {}), "ledgerline_exports": links}
        return super().changelist_view(request, extra_context)  # type: ignore[misc]
