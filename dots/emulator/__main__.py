"""Run the Dots emulator: python -m dots.emulator --port 8100 [--data var/emulator.sqlite3] ...

Prints the base URL and credentials, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys

from werkzeug.serving import WSGIRequestHandler, make_server

from dots.emulator import lifecycles
from dots.emulator.app import EmulatorApp, Settings
from dots.emulator.jsondoc import Doc
from dots.emulator.store import Store

DEFAULT_CLIENT_ID = "ledgerline-dev"
DEFAULT_API_KEY = "dots-emulator-key"
# A fixed development value, so the app's settings work against any emulator run. Never a real secret.
DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"ledgerline-dots-emulator-dev-secret").decode("ascii")


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: at a few thousand requests a second it is most of the cost."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dots.emulator", description="Local Dots API v2 emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--data", default="var/emulator.sqlite3", help="SQLite file holding the emulator state")
    parser.add_argument("--client-id", default=os.environ.get("DOTS_EMULATOR_CLIENT_ID", DEFAULT_CLIENT_ID))
    parser.add_argument("--api-key", default=os.environ.get("DOTS_EMULATOR_API_KEY", DEFAULT_API_KEY))
    parser.add_argument("--webhook-url", default=os.environ.get("DOTS_EMULATOR_WEBHOOK_URL"))
    parser.add_argument(
        "--webhook-secret", default=os.environ.get("DOTS_EMULATOR_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET)
    )
    parser.add_argument(
        "--seed-dashboard-users",
        metavar="FILE",
        default=None,
        help="JSON list of dashboard users (first_name, last_name, email, role) put in an "
        "empty store and after each reset",
    )
    parser.add_argument(
        "--advance",
        choices=lifecycles.MODES,
        default=None,
        help="how transfers, payable payments and payout links advance by themselves "
        "(default manual: only the /_emulator controls move them)",
    )
    return parser.parse_args(argv)


def _load_users(path: str | None) -> list[Doc] | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        users = json.load(handle)
    if not isinstance(users, list):
        raise SystemExit(f"{path}: expected a JSON list of dashboard users")
    return users


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.data != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(args.data)), exist_ok=True)
    store = Store(args.data)
    app = EmulatorApp(
        store=store,
        settings=Settings(
            client_id=args.client_id,
            api_key=args.api_key,
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
            advance_mode=args.advance,
            seed_dashboard_users=_load_users(args.seed_dashboard_users),
        ),
    )
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    root = f"http://{args.host}:{server.port}"
    print(f"Dots emulator on {root}", flush=True)
    print(f"  DOTS_API_URL={root}/api", flush=True)
    print(f"  DOTS_CLIENT_ID={args.client_id}", flush=True)
    print(f"  DOTS_API_KEY={args.api_key}", flush=True)
    print(f"  DOTS_APP_ID={app.default_app_id}", flush=True)
    print(f"  DOTS_WEBHOOK_SECRET={args.webhook_secret}", flush=True)
    print(f"  state page {root}/_emulator/   data {args.data}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.outbox.stop()
        server.server_close()


if __name__ == "__main__":
    main()
