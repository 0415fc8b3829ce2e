"""Charts on the dashboard: drawn on the server as SVG by pygal, served as pictures of their own.

A panel's chart is an `<img>` of `admin:dashboard_chart`, so the page itself keeps its strict
Content-Security-Policy (no inline style or script): pygal's SVG carries its own style sheet,
which the SVG response alone allows. A picture never runs script, and its response says so too.
Every chart's numbers are also on the page as a table (for screen readers and for copying).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pygal
from csp.constants import NONE
from csp.decorators import csp
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.module_loading import import_string
from pygal.style import Style

from core import registry

# Colours that read apart for most colour-blind people (Okabe-Ito), on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222222",
    foreground_strong="#111111",
    foreground_subtle="#666666",
    colors=PALETTE,
    font_family="Helvetica, Arial, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
    value_font_size=11,
)


@dataclass
class ChartData:
    """What a chart shows: x labels, and for each series its name and one value per label, in cents."""

    title: str
    x_labels: list[str]
    series: list[tuple[str, list[int]]] = field(default_factory=list)
    kind: str = "stacked_bar"  # or "bar", "line"
    y_title: str = "US dollars"


def render_svg(data: ChartData, *, width: int = 900, height: int = 320) -> str:
    chart_class = {"stacked_bar": pygal.StackedBar, "bar": pygal.Bar, "line": pygal.Line}[data.kind]
    chart = chart_class(
        js=[],  # nothing to fetch: the picture is static
        disable_xml_declaration=True,
        style=STYLE,
        width=width,
        height=height,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(1, len(data.series)),
        x_label_rotation=0 if len(data.x_labels) <= 13 else 30,
        y_title=data.y_title,
        show_y_guides=True,
        print_values=False,
        value_formatter=lambda dollars: f"${dollars:,.2f}",
        margin=12,
    )
    chart.title = data.title
    chart.x_labels = data.x_labels
    for name, cents in data.series:
        chart.add(name, [value / 100 for value in cents])
    if not data.series:
        chart.add("", [])
    return chart.render(is_unicode=True)


# The SVG's own policy: its embedded style sheet, nothing else (no script, no fetch).
_SVG_POLICY = {"default-src": [NONE], "style-src": ["'unsafe-inline'"], "frame-ancestors": [NONE]}


@csp(_SVG_POLICY)
def chart_view(request: HttpRequest, name: str = "") -> HttpResponse:
    """One chart as SVG, for whoever holds its permission (the admin site wraps this in its sign-in)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    chart = registry.dashboard_chart_named(name)
    if chart is None:
        raise Http404("No such chart.")
    if not request.user.has_perm(chart.permission):
        raise PermissionDenied
    data = import_string(chart.build)(request)
    response = HttpResponse(render_svg(data), content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
