"""What every resource mixin shares: one call, one page, and lazy iteration over pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from dots._http import Transport
from dots.types import Page

T = TypeVar("T")

# The client always asks for the largest page Dots allows (NOTES.md decision 3); the
# list_<things> methods default to it too (Dots' own default is 10).
PAGE_LIMIT = 100


class ResourceBase:
    """Helpers for the mixins; ``DotsClient.__init__`` sets ``_transport``."""

    _transport: Transport

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        files: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        return self._transport.request(
            method, path, params=params, body=body, files=files, form=form, idempotency_key=idempotency_key
        )

    def _list(self, path: str, parse: Callable[[Any], T], params: dict[str, Any] | None = None) -> list[T]:
        """A list Dots returns as a bare JSON array."""
        data = self._call("GET", path, params=params or None)
        if isinstance(data, dict):  # be lenient if an envelope shows up after all
            data = data.get("data")
        return [parse(item) for item in data] if isinstance(data, list) else []

    def _page(self, path: str, parse: Callable[[Any], T], params: dict[str, Any]) -> Page[T]:
        """One page of an enveloped list."""
        data = self._call("GET", path, params=params or None)
        if isinstance(data, list):
            return Page([parse(item) for item in data], False)
        if not isinstance(data, dict):
            return Page([], False)
        items = data.get("data")
        items = items if isinstance(items, list) else []
        return Page([parse(item) for item in items], bool(data.get("has_more")))

    def _iterate(self, path: str, parse: Callable[[Any], T], params: dict[str, Any]) -> Iterator[T]:
        """Every item of an enveloped list, newest first, fetching pages of 100 only as needed."""
        params = dict(params, limit=PAGE_LIMIT)
        while True:
            data = self._call("GET", path, params=params)
            if isinstance(data, list):  # a bare array has no further pages
                yield from (parse(item) for item in data)
                return
            if not isinstance(data, dict):
                return
            items = data.get("data")
            items = items if isinstance(items, list) else []
            for item in items:
                yield parse(item)
            last_id = items[-1].get("id") if items and isinstance(items[-1], dict) else None
            if not data.get("has_more") or last_id is None:
                return
            params["starting_after"] = last_id
