"""The emulator's WSGI application.

One request, in order:
1. route: Dots paths under /api (auth required), controls under /_emulator (no auth);
   unknown path -> 404, wrong method -> 405, both with the error envelope
2. auth: HTTP Basic client_id:api_key; `Api-App-Id` picks one of the organisation's apps
3. faults: a matching rule may answer an error, sleep, or drop the connection (faults.py)
4. the handler runs inside the store lock and one SQLite transaction; a POST whose JSON
   body carries `idempotency_key` replays the first success for (app, key) instead
5. commit, wake the webhook thread, answer JSON with an X-Request-Id header, log the request

Every error, including unknown routes and crashes, is `{"error", "error_code"}`
(stripe-mock does the same), so a client never has to parse HTML.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
import time
import traceback
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, TypeAlias

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request, Response

from dots.emulator import controls, lifecycles
from dots.emulator import faults as faults_module
from dots.emulator.context import Ctx, clock_now, parse_json_body
from dots.emulator.errors import ApiError
from dots.emulator.faults import Faults
from dots.emulator.jsondoc import Doc
from dots.emulator.resources import RESOURCE_MODULES
from dots.emulator.resources import approvers as approvers_resource
from dots.emulator.resources import apps as apps_resource
from dots.emulator.routing import Route, build_map
from dots.emulator.store import Store
from dots.emulator.webhooks_out import WebhookOutbox

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

API_PREFIX = "/api"
CONTROL_PREFIX = "/_emulator"
IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60  # NOTES.md decision 4
REQUEST_LOG_SIZE = 2000
LOGGED_BODY_LIMIT = 20_000
JSON_HEADERS = ("Content-Type", "application/json")

# What answering one request comes to: (status, body, extra headers, drop the connection).
# The body is JSON-serialisable, or a werkzeug Response (the HTML state page).
Answer: TypeAlias = tuple[int, object, list[tuple[str, str]], bool]


@dataclass
class Settings:
    client_id: str
    api_key: str
    webhook_url: str | None
    webhook_secret: str
    # --advance: the lifecycle mode every kind starts in, re-applied after each reset
    advance_mode: str | None = None
    # --seed-dashboard-users: dashboard users put in an empty store and after each reset
    seed_dashboard_users: list[Doc] | None = None


class EmulatorApp:
    def __init__(self, *, store: Store, settings: Settings, start_webhook_thread: bool = True) -> None:
        self.store = store
        self.settings = settings
        self.faults = Faults()
        self.outbox = WebhookOutbox(store, default_url=settings.webhook_url, default_secret=settings.webhook_secret)
        # Newest last; read newest first. A deque append is atomic, so no lock is needed to log.
        self.request_log: deque[Doc] = deque(maxlen=REQUEST_LOG_SIZE)
        self.set_api_keys([settings.api_key])

        api_routes: list[Route] = []
        control_routes: list[Route] = list(controls.CONTROL_ROUTES)
        for module in RESOURCE_MODULES:
            api_routes.extend(getattr(module, "ROUTES", []))
            control_routes.extend(getattr(module, "CONTROL_ROUTES", []))
        api_map, self.api_handlers = build_map(api_routes, prefix=API_PREFIX)
        control_map, self.control_handlers = build_map(control_routes, prefix=CONTROL_PREFIX)
        # Bound once: MapAdapter.match() does not mutate the adapter, so threads can share it.
        self.api_adapter = api_map.bind("emulator")
        self.control_adapter = control_map.bind("emulator")

        with store.transaction():
            apps_resource.seed_default_if_empty(store)
            self.default_app_id = apps_resource.default_app_id(store)
            self._apply_advance_mode()
            self._seed_dashboard_users()
        if start_webhook_thread:
            self.outbox.start()

    # -- state ------------------------------------------------------------------------------

    def set_api_keys(self, keys: list[str]) -> None:
        """The API keys accepted from now on (several while a key is being replaced, as Dots allows).
        Kept in memory only: a restart or a reset accepts the `--api-key` it started with again."""
        self.api_keys = tuple(keys)
        self._expected_auths = frozenset(
            "Basic " + base64.b64encode(f"{self.settings.client_id}:{key}".encode()).decode("ascii") for key in keys
        )

    def reset(self) -> None:
        """Forget everything and re-seed the default organisation, app and funded wallet."""
        with self.store.transaction():
            self.store.reset()
            apps_resource.seed_default_if_empty(self.store)
            self.default_app_id = apps_resource.default_app_id(self.store)
            self._apply_advance_mode()
            self._seed_dashboard_users()
        self.faults.clear()
        self.set_api_keys([self.settings.api_key])

    def _seed_dashboard_users(self) -> None:
        # `make run` starts the emulator with the demo logins' dashboard users, so
        # approvers can be synced and linked by email without a manual step.
        # Every fresh store has the account's owner (an admin), as a fresh Dots account does.
        approvers_resource.seed_if_none(self.store, self.settings.seed_dashboard_users or [])
        self.request_log.clear()

    def _apply_advance_mode(self) -> None:
        if self.settings.advance_mode:
            # money movements only: approving payout requests or verifying users stays a decision
            kinds = ("transfer", "payable_payment", "payout_link")
            lifecycles.update_settings(self.store, {kind: {"mode": self.settings.advance_mode} for kind in kinds})

    # -- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        started = time.perf_counter()
        request_id = "req_" + uuid.uuid4().hex[:24]
        if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
            status, body, extra_headers, drop = self._api(environ, path, request_id, started)
        elif path.startswith(CONTROL_PREFIX):
            status, body, extra_headers, drop = self._control(environ, path, request_id)
        else:
            status, body, extra_headers, drop = _error(ApiError(404, "not-found", f"no route for {path}"))
        if drop:
            _drop_connection(environ)
        if isinstance(body, Response):
            body.headers["X-Request-Id"] = request_id
            return body(environ, start_response)
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = [JSON_HEADERS, ("Content-Length", str(len(payload))), ("X-Request-Id", request_id)]
        headers.extend(extra_headers)
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown')}", headers)
        return [payload]

    # -- /api -------------------------------------------------------------------------------------

    def _api(self, environ: WSGIEnvironment, path: str, request_id: str, started: float) -> Answer:
        method = environ["REQUEST_METHOD"]
        request = Request(environ)
        is_multipart = request.mimetype == "multipart/form-data"
        raw = b"" if is_multipart else request.get_data(cache=True)
        entry: Doc = {
            "method": method,
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "request_id": request_id,
            "at": time.time(),
            "body": f"<multipart {request.content_length or 0} bytes>" if is_multipart else raw[:LOGGED_BODY_LIMIT],
            "app_id": None,
        }
        try:
            status, body, headers, drop = self._api_inner(request, environ, method, path, raw, is_multipart, entry)
        except ApiError as exc:
            status, body, headers, drop = _error(exc)
        except Exception:  # noqa: BLE001 - a bug in a handler must still answer the envelope
            traceback.print_exc()
            status, body, headers, drop = _error(ApiError(500, "internal-error", "emulator error (see its log)"))
        entry["status"] = status
        entry["ms"] = round((time.perf_counter() - started) * 1000, 2)
        entry["dropped"] = drop
        self.request_log.append(entry)
        return status, body, headers, drop

    def _api_inner(
        self,
        request: Request,
        environ: WSGIEnvironment,
        method: str,
        path: str,
        raw: bytes,
        is_multipart: bool,
        entry: Doc,
    ) -> Answer:
        try:
            endpoint, params = self.api_adapter.match(path_info=path, method=method)
        except NotFound:
            raise ApiError(404, "not-found", f"no route for {method} {path}") from None
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            raise ApiError(
                405, "method-not-allowed", f"{method} is not allowed on {path} (allowed: {allowed})"
            ) from None

        app_id = self._authenticate(environ)
        entry["app_id"] = app_id

        fault = self.faults.match(method, path)
        drop = False
        if fault is not None:
            if fault.kind in ("status", "insufficient_funds"):
                raise faults_module.status_error(fault)
            if fault.kind in ("latency", "timeout"):
                time.sleep(fault.ms / 1000)  # outside the store lock: other requests go on
            elif fault.kind == "drop":
                drop = True

        json_body = None
        idempotency_key = None
        if method == "POST" and not is_multipart:
            json_body = parse_json_body(raw)
            key = json_body.get("idempotency_key")
            if isinstance(key, str) and key:
                idempotency_key = key

        handler = self.api_handlers[endpoint].handler
        ctx = Ctx(
            store=self.store,
            app_id=app_id,
            request=request,
            body_bytes=raw,
            json_body=json_body,
            emitter=self.outbox,
            emulator=self,
        )
        headers: list[tuple[str, str]] = []
        with self.store.transaction():
            if idempotency_key is not None:
                not_before = clock_now(self.store).timestamp() - IDEMPOTENCY_WINDOW_SECONDS
                replay = self.store.idempotency_get(app_id=app_id, key=idempotency_key, not_before=not_before)
                if replay is not None:
                    entry["idempotent_replay"] = True
                    return replay[0], replay[1], [("Idempotent-Replayed", "true")], drop
            status, body = handler(ctx, **params)
            # Only successes are remembered: a refused request (bad input, short funds) did
            # nothing, so the same key may be sent again once the cause is fixed.
            if idempotency_key is not None and 200 <= status < 300:
                self.store.idempotency_put(
                    app_id=app_id, key=idempotency_key, created_at=ctx.now().timestamp(), status=status, body=body
                )
        if ctx.emitted:
            self.outbox.notify()
        return status, body, headers, drop

    def _authenticate(self, environ: WSGIEnvironment) -> str:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header not in self._expected_auths and not self._basic_matches(header):
            raise ApiError(401, "unauthorized", "missing or invalid API credentials (HTTP Basic client_id:api_key)")
        app_header: str | None = environ.get("HTTP_API_APP_ID")
        if not app_header:
            return self.default_app_id
        with self.store.lock:
            exists = self.store.get("app", app_header) is not None
        if not exists:
            raise ApiError(401, "unauthorized", f"Api-App-Id {app_header} is not an app of this organization")
        return app_header

    def _basic_matches(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, api_key = decoded.partition(":")
        return client_id == self.settings.client_id and api_key in self.api_keys

    # -- /_emulator ---------------------------------------------------------------------------------

    def _control(self, environ: WSGIEnvironment, path: str, request_id: str) -> Answer:
        method = environ["REQUEST_METHOD"]
        try:
            try:
                endpoint, params = self.control_adapter.match(path_info=path, method=method)
            except NotFound:
                raise ApiError(404, "not-found", f"no emulator control {method} {path}") from None
            except MethodNotAllowed as exc:
                allowed = ", ".join(sorted(exc.valid_methods or []))
                raise ApiError(
                    405, "method-not-allowed", f"{method} is not allowed on {path} (allowed: {allowed})"
                ) from None
            request = Request(environ)
            raw = b"" if request.mimetype == "multipart/form-data" else request.get_data(cache=True)
            app_header = environ.get("HTTP_API_APP_ID") or self.default_app_id
            ctx = Ctx(
                store=self.store, app_id=app_header, request=request, body_bytes=raw, emitter=self.outbox, emulator=self
            )
            route = self.control_handlers[endpoint]
            if route.transactional:
                with self.store.transaction():
                    status, body = route.handler(ctx, **params)
            else:
                status, body = route.handler(ctx, **params)
            if ctx.emitted:
                self.outbox.notify()
            return status, body, [], False
        except ApiError as exc:
            return _error(exc)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            return _error(ApiError(500, "internal-error", "emulator error (see its log)"))


def _error(exc: ApiError) -> Answer:
    return exc.status, exc.body(), [], False


def _drop_connection(environ: WSGIEnvironment) -> NoReturn:
    """Close the TCP connection without answering (the work is already committed).

    shutdown() rather than close(): the server still owns the socket object and
    closes it itself; raising a ConnectionError makes Werkzeug treat this as a
    client that went away, quietly.
    """
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise RuntimeError("drop faults need Werkzeug's dev server (environ['werkzeug.socket'])")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    raise ConnectionAbortedError("emulator fault: response dropped on purpose")
