"""Ctx: what a handler gets for one request (the store, the calling app, the body, helpers).

A handler runs inside the store lock and one SQLite transaction (app.py), so it
reads and writes through `ctx.store` without locking of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

from werkzeug.datastructures import FileStorage, ImmutableMultiDict, MultiDict

from dots.emulator import lifecycles
from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc
from dots.emulator.store import Store

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from dots.emulator.app import EmulatorApp
    from dots.emulator.webhooks_out import WebhookOutbox

WALLET_KIND = "wallet"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
_MISSING = object()


def clock_now(store: Store) -> datetime:
    """The emulator clock: real UTC time plus the offset a test set with /_emulator/clock."""
    offset = store.meta_get("clock_offset_seconds", 0)
    now = datetime.now(UTC)
    return now + timedelta(seconds=offset) if offset else now


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with a Z, milliseconds, as Dots writes timestamps."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def cents_to_decimal_str(cents: int) -> str:
    """10000000 -> "100000.00" (the spec's `format: decimal` strings)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


class Ctx:
    def __init__(
        self,
        *,
        store: Store,
        app_id: str,
        request: Request,
        body_bytes: bytes,
        json_body: Doc | None = None,
        emitter: WebhookOutbox | None = None,
        emulator: EmulatorApp,
    ) -> None:
        self.store = store
        self.app_id = app_id
        self._app: Doc | None = None
        # The running EmulatorApp; controls use it (faults, request log, outbox), resources should not.
        self.emulator = emulator
        self.emitted = 0
        self.request = request
        self.query: MultiDict[str, str] = request.args if request is not None else MultiDict()
        self._body_bytes = body_bytes
        self._json = json_body
        self._emitter = emitter
        self._now: datetime | None = None

    @property
    def app(self) -> Doc | None:
        """The calling app's document, loaded on first use (most handlers only need app_id)."""
        if self._app is None and self.app_id is not None:
            self._app = self.store.get("app", self.app_id)
        return self._app

    # -- request body -------------------------------------------------------------

    @property
    def json(self) -> Doc:
        if self._json is None:
            self._json = parse_json_body(self._body_bytes)
        return self._json

    @property
    def form(self) -> ImmutableMultiDict[str, str]:
        return self.request.form

    @property
    def files(self) -> ImmutableMultiDict[str, FileStorage]:
        return self.request.files

    # -- time ----------------------------------------------------------------------

    def now(self) -> datetime:
        # One timestamp per request: every field a request writes shows the same instant.
        if self._now is None:
            self._now = clock_now(self.store)
        return self._now

    @staticmethod
    def iso(dt: datetime) -> str:
        return iso(dt)

    def now_iso(self) -> str:
        return iso(self.now())

    # -- webhooks -------------------------------------------------------------------

    def emit(self, event_type: str, data: Doc) -> None:
        """Queue a webhook event in this transaction; it is delivered after commit (or never, on rollback)."""
        if self._emitter is not None:
            self.emitted += 1
            self._emitter.queue(self.store, event_type=event_type, data=data, app_id=self.app_id)

    # -- wallet -----------------------------------------------------------------------

    def wallet(self, app_id: str | None = None) -> Doc:
        app_id = app_id or self.app_id
        wallet = self.store.get(WALLET_KIND, app_id)
        if wallet is None:
            wallet = self.store.insert(
                WALLET_KIND, app_id, {"app_id": app_id, "balance": 0, "money_out": 0}, app_id=app_id
            )
        return wallet

    def wallet_debit(self, cents: int, *, app_id: str | None = None, money_out: bool = True) -> int:
        """Take `cents` from the app wallet; 400 transaction-insufficient-funds when short. Returns the new balance."""
        wallet = self.wallet(app_id)
        if cents > wallet["balance"]:
            raise ApiError(
                400,
                "transaction-insufficient-funds",
                f"insufficient funds: wallet balance {cents_to_decimal_str(wallet['balance'])}, "
                f"needed {cents_to_decimal_str(cents)}",
            )
        wallet["balance"] -= cents
        if money_out:
            wallet["money_out"] = wallet.get("money_out", 0) + cents
        self.store.put(WALLET_KIND, wallet["app_id"], wallet)
        balance: int = wallet["balance"]
        return balance

    def wallet_credit(self, cents: int, *, app_id: str | None = None, refund: bool = False) -> int:
        """Add `cents`; `refund=True` also takes them back out of money_out (a failed payment)."""
        wallet = self.wallet(app_id)
        wallet["balance"] += cents
        if refund:
            wallet["money_out"] = max(0, wallet.get("money_out", 0) - cents)
        self.store.put(WALLET_KIND, wallet["app_id"], wallet)
        balance: int = wallet["balance"]
        return balance

    # -- lifecycles -------------------------------------------------------------------

    def transition(self, kind: str, doc: Doc, new_status: str) -> str:
        return lifecycles.transition(kind, doc, new_status)

    def advance_setting(self, kind: str) -> Doc:
        return lifecycles.setting(self.store, kind)

    # -- pagination -------------------------------------------------------------------

    def page_limit(self, *, default: int = DEFAULT_PAGE_SIZE) -> int:
        raw = self.query.get("limit")
        if raw is None or raw == "":
            return default
        try:
            limit = int(raw)
        except ValueError:
            raise ApiError(400, "invalid-input", "limit must be an integer from 1 to 100") from None
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ApiError(400, "invalid-input", "limit must be an integer from 1 to 100")
        return limit

    def page_slice(
        self, items: list[Doc], *, id_field: str = "id", default_limit: int = DEFAULT_PAGE_SIZE
    ) -> tuple[list[Doc], bool]:
        """(page items, has_more) over a newest-first list, honouring limit/starting_after/ending_before."""
        limit = self.page_limit(default=default_limit)
        starting_after = self.query.get("starting_after")
        ending_before = self.query.get("ending_before")
        if starting_after:
            index = _index_of(items, starting_after, id_field, "starting_after")
            rest = items[index + 1 :]
            return rest[:limit], len(rest) > limit
        if ending_before:
            index = _index_of(items, ending_before, id_field, "ending_before")
            before = items[:index]
            # the page nearest the cursor: the last `limit` items before it
            return before[-limit:], len(before) > limit
        return items[:limit], len(items) > limit

    def paginate(self, items: list[Doc], *, id_field: str = "id", default_limit: int = DEFAULT_PAGE_SIZE) -> Doc:
        page, has_more = self.page_slice(items, id_field=id_field, default_limit=default_limit)
        return {"data": page, "has_more": has_more}

    def paginate_kind(
        self,
        kind: str,
        *,
        app_id: str | None,
        serialize: Callable[[Doc], Doc] | None = None,
        default_limit: int = DEFAULT_PAGE_SIZE,
    ) -> Doc:
        """paginate() straight from the store, for unfiltered lists: reads only one page."""
        docs, has_more = self.store.page(
            kind,
            app_id=app_id,
            limit=self.page_limit(default=default_limit),
            starting_after=self.query.get("starting_after") or None,
            ending_before=None if self.query.get("starting_after") else (self.query.get("ending_before") or None),
        )
        return {"data": [serialize(d) for d in docs] if serialize else docs, "has_more": has_more}

    # -- validation ---------------------------------------------------------------------

    @staticmethod
    def require_str(body: Doc, name: str, *, min_len: int = 1, max_len: int | None = None) -> str:
        value = body.get(name)
        if value is None:
            raise ApiError(400, "invalid-input", f"{name} is required")
        return _check_str(name, value, min_len=min_len, max_len=max_len)

    @staticmethod
    def require_int(body: Doc, name: str, *, min: int | None = None, max: int | None = None) -> int:
        if body.get(name) is None:
            raise ApiError(400, "invalid-input", f"{name} is required")
        return _check_int(name, body[name], min=min, max=max)

    @overload
    @staticmethod
    def optional_str(body: Doc, name: str, default: str, *, max_len: int | None = None) -> str: ...

    @overload
    @staticmethod
    def optional_str(body: Doc, name: str, default: None = None, *, max_len: int | None = None) -> str | None: ...

    @staticmethod
    def optional_str(body: Doc, name: str, default: str | None = None, *, max_len: int | None = None) -> str | None:
        value = body.get(name)
        if value is None:
            return default
        return _check_str(name, value, min_len=0, max_len=max_len)

    @overload
    @staticmethod
    def optional_int(body: Doc, name: str, default: int, *, min: int | None = None, max: int | None = None) -> int: ...

    @overload
    @staticmethod
    def optional_int(
        body: Doc, name: str, default: None = None, *, min: int | None = None, max: int | None = None
    ) -> int | None: ...

    @staticmethod
    def optional_int(
        body: Doc, name: str, default: int | None = None, *, min: int | None = None, max: int | None = None
    ) -> int | None:
        value = body.get(name)
        if value is None:
            return default
        return _check_int(name, value, min=min, max=max)

    @staticmethod
    def optional(
        body: Doc,
        name: str,
        default: Any = None,
        *,
        types: tuple[type, ...] = (),
        choices: Collection[object] | None = None,
    ) -> Any:
        """A field that may be absent; when present it must be one of `types` (and of `choices`)."""
        value = body.get(name, _MISSING)
        if value is _MISSING or value is None:
            return default
        if types and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            names = " or ".join(_type_name(t) for t in types)
            raise ApiError(400, "invalid-input", f"{name} must be {names}")
        if choices is not None and value not in choices:
            raise ApiError(400, "invalid-input", f"{name} must be one of {', '.join(map(str, choices))}")
        return value

    @staticmethod
    def require_choice(body: Doc, name: str, choices: Collection[str]) -> str:
        value = body.get(name)
        if value is None:
            raise ApiError(400, "invalid-input", f"{name} is required")
        if not isinstance(value, str) or value not in choices:
            raise ApiError(400, "invalid-input", f"{name} must be one of {', '.join(map(str, choices))}")
        return value


def parse_json_body(body: bytes) -> Doc:
    if not body or not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid-input", "request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid-input", "request body must be a JSON object")
    return value


def _index_of(items: list[Doc], cursor: str, id_field: str, param: str) -> int:
    for index, item in enumerate(items):
        if str(item.get(id_field)) == cursor:
            return index
    raise ApiError(400, "invalid-input", f"{param} {cursor} is not an id in this list")


def _check_str(name: str, value: object, *, min_len: int, max_len: int | None) -> str:
    if not isinstance(value, str):
        raise ApiError(400, "invalid-input", f"{name} must be a string")
    if len(value.strip()) < min_len:
        raise ApiError(400, "invalid-input", f"{name} must not be empty")
    if max_len is not None and len(value) > max_len:
        raise ApiError(400, "invalid-input", f"{name} must be at most {max_len} characters")
    return value


def _check_int(name: str, value: object, *, min: int | None, max: int | None) -> int:
    # bool is an int in Python; `true` is not an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "invalid-input", f"{name} must be an integer")
    if min is not None and value < min:
        raise ApiError(400, "invalid-input", f"{name} must be at least {min}")
    if max is not None and value > max:
        raise ApiError(400, "invalid-input", f"{name} must be at most {max}")
    return value


def _type_name(t: type) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean", dict: "an object", list: "an array"}.get(
        t, t.__name__
    )
