"""GET /_emulator/: one HTML page with apps, wallet balances, counts per resource,
recent requests and webhook deliveries. Read-only; meant for a developer's browser."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from werkzeug.wrappers import Response

from dots.emulator import lifecycles
from dots.emulator.context import WALLET_KIND, Ctx, cents_to_decimal_str


def _table(headers: list[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body or '<tr><td>none</td></tr>'}</tbody></table>"


def render(ctx: Ctx) -> Response:
    store = ctx.store
    emulator = ctx.emulator
    apps = store.list("app")
    app_rows = []
    for app in apps:
        wallet = store.get(WALLET_KIND, app["id"]) or {"balance": 0, "money_out": 0}
        default = " (default)" if app["id"] == emulator.default_app_id else ""
        app_rows.append(
            [
                app["id"] + default,
                app["name"],
                app.get("status", ""),
                cents_to_decimal_str(wallet["balance"]),
                cents_to_decimal_str(wallet.get("money_out", 0)),
            ]
        )
    counts = [[kind, n] for kind, n in store.counts_by_kind().items()]
    requests_rows = [
        [
            e["request_id"],
            e["method"],
            e["path"],
            e.get("status", ""),
            e.get("ms", ""),
            "dropped" if e.get("dropped") else "",
        ]
        for e in list(reversed(emulator.request_log))[:50]
    ]
    config = emulator.outbox.config()
    events = store.conn.execute(
        "SELECT id, type, status, attempts, last_status, last_error FROM webhook_events ORDER BY seq DESC LIMIT 50"
    ).fetchall()
    faults = [
        [f["id"], f["method"], f["path"], f["kind"], f["fired"], f["remaining"]] for f in emulator.faults.describe()
    ]
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>Dots emulator</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:90%}}</style></head><body>
<h1>Dots emulator</h1>
<h2>Apps and wallets</h2>{_table(["id", "name", "status", "wallet balance", "money out"], app_rows)}
<h2>Documents per kind</h2>{_table(["kind", "count"], counts)}
<h2>Lifecycle settings</h2><pre>{escape(str(lifecycles.all_settings(store)))}</pre>
<h2>Faults</h2>{_table(["id", "method", "path", "kind", "fired", "remaining"], faults)}
<h2>Webhooks (to {escape(str(config.get("url") or "no URL configured"))})</h2>
{_table(["id", "type", "status", "attempts", "last HTTP status", "last error"], [list(r) for r in events])}
<h2>Recent requests</h2>{_table(["request id", "method", "path", "status", "ms", ""], requests_rows)}
</body></html>"""
    return Response(html, status=200, mimetype="text/html")
