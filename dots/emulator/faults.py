"""Fault injection: rules that make matching /api requests fail in a chosen way.

A rule: {"method": "POST", "path": "/v2/accounts-payable/payables/*/pay", "kind": ...,
         "status": 503, "ms": 200, "count": N | "rate": 0.3, "seed": 1}

kinds
- status:             answer `status` with the error envelope, do no work
- latency:            sleep `ms`, then answer normally
- timeout:            sleep `ms` (longer than the client's timeout), then do the work:
                      the client gave up, the outcome is unknown to it
- drop:               do the work, commit, then close the connection with no response
- insufficient_funds: answer 400 transaction-insufficient-funds, do no work

`count` limits a rule to the next N matching requests; `rate` makes it fire on a
fraction of them (seeded, so a test run is repeatable). Neither: every match.
`after` lets the first N matching requests through untouched (fail page 3 of a list walk).
Rules live in memory (a restart clears them) and sleeps happen outside the store lock.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field

from dots.emulator.errors import ApiError
from dots.emulator.jsondoc import Doc

KINDS = ("status", "latency", "timeout", "drop", "insufficient_funds")
API_PREFIX = "/api"


@dataclass
class Fault:
    id: int
    method: str
    path: str
    kind: str
    status: int
    ms: int
    count: int | None
    rate: float | None
    seed: int | None
    after: int = 0
    let_through: int = 0
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def describe(self) -> Doc:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "ms": self.ms,
            "count": self.count,
            "rate": self.rate,
            "seed": self.seed,
            "after": self.after,
            "fired": self.fired,
            "remaining": None if self.count is None else self.count - self.fired,
        }


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._next_id = 1

    def add(self, spec: Doc) -> Doc:
        fault = _parse(spec, fault_id=self._next_id)
        with self._lock:
            self._next_id += 1
            self._rules.append(fault)
        return fault.describe()

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[Doc]:
        with self._lock:
            return [f.describe() for f in self._rules]

    def match(self, method: str, path: str) -> Fault | None:
        """The first rule that fires for this request (consuming one of its `count`), or None."""
        if not self._rules:  # the common case: no lock, no work
            return None
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX) :]
        with self._lock:
            for fault in self._rules:
                if fault.method not in ("*", method):
                    continue
                if not fnmatch.fnmatchcase(path, fault.path):
                    continue
                if fault.let_through < fault.after:
                    fault.let_through += 1
                    continue
                if fault.count is not None and fault.fired >= fault.count:
                    continue
                if fault.rate is not None and fault.rng.random() >= fault.rate:
                    continue
                fault.fired += 1
                return fault
        return None


def _parse(spec: Doc, *, fault_id: int) -> Fault:
    if not isinstance(spec, dict):
        raise ApiError(400, "invalid-input", "a fault must be a JSON object")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ApiError(400, "invalid-input", f"kind must be one of {', '.join(KINDS)}")
    path = spec.get("path", "*")
    if not isinstance(path, str) or not path:
        raise ApiError(400, "invalid-input", "path must be a glob like /v2/transfers/*")
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX) :]
    method = str(spec.get("method", "*")).upper()
    status = spec.get("status", 503 if kind == "status" else 400)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ApiError(400, "invalid-input", "status must be an HTTP error status (400-599)")
    ms = spec.get("ms", 5000 if kind == "timeout" else 200 if kind == "latency" else 0)
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
        raise ApiError(400, "invalid-input", "ms must be a non-negative integer")
    count = spec.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ApiError(400, "invalid-input", "count must be a positive integer")
    rate = spec.get("rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1):
        raise ApiError(400, "invalid-input", "rate must be a number in (0, 1]")
    after = spec.get("after", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ApiError(400, "invalid-input", "after must be a non-negative integer")
    seed = spec.get("seed")
    rng = random.Random(seed)
    return Fault(
        id=fault_id,
        method=method,
        path=path,
        kind=kind,
        status=status,
        ms=ms,
        count=count,
        rate=None if rate is None else float(rate),
        seed=seed,
        after=after,
        rng=rng,
    )


def status_error(fault: Fault) -> ApiError:
    if fault.kind == "insufficient_funds":
        return ApiError(400, "transaction-insufficient-funds", "insufficient funds (injected fault)")
    code = {
        500: "internal-error",
        502: "bad-gateway",
        503: "service-unavailable",
        504: "gateway-timeout",
        429: "rate-limited",
        409: "resource-busy",
    }.get(fault.status, "injected-fault")
    return ApiError(fault.status, code, f"injected fault: {fault.status}")
