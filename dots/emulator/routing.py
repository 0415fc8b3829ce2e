"""Routes: an explicit table of (method, Werkzeug rule, handler).

Werkzeug's Map already prefers literal segments over converters
(`/payables/upload-from-file` before `/payables/<payable_id>`), which is the
stripe-mock rule we want; keeping the table explicit means `grep` finds every path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from werkzeug.routing import Map, Rule

# A handler takes the request's Ctx and the path's parameters by name; it answers (status, body).
Handler: TypeAlias = Callable[..., tuple[int, object]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    # False only for controls that must not hold the store lock (they call out over HTTP,
    # e.g. webhook flush, whose receiver may call the emulator back).
    transactional: bool = True


def build_map(routes: list[Route], *, prefix: str) -> tuple[Map, dict[str, Route]]:
    """A Werkzeug Map whose endpoints are "<METHOD> <path>" keys into the returned route dict."""
    rules = []
    handlers: dict[str, Route] = {}
    for route in routes:
        endpoint = f"{route.method} {prefix}{route.path}"
        if endpoint in handlers:
            raise ValueError(f"route declared twice: {endpoint}")
        handlers[endpoint] = route
        rules.append(Rule(prefix + route.path, methods=[route.method], endpoint=endpoint))
    # strict_slashes=False: "/v2/apps/" and "/v2/apps" are the same resource, no redirect dance.
    return Map(rules, strict_slashes=False, merge_slashes=False), handlers
