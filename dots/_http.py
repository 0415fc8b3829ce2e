"""The Dots client's HTTP layer: one request with auth, retries, typed errors and logging.

Kept apart from the resource methods so every operation goes through the same
decisions: what counts as success (any 2xx: Dots answers 200, 201 or 202 per
endpoint and has changed them between revisions), when a failure may be
repeated (``dots.retry``), and which error class the caller sees (``dots.errors``).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from dots import retry as retry_rules
from dots.errors import (
    DotsConnectionError,
    DotsError,
    DotsOutcomeUnknown,
    DotsRateLimited,
    error_for_status,
)
from dots.redact import redact
from dots.retry import RetryPolicy

logger = logging.getLogger("dots")


@dataclass(frozen=True)
class CallRecord:
    """One attempt at a Dots call, as the ``dots`` logger reports it, for a caller's observer (metrics).

    ``status`` is None when no answer came (``failure`` then says why: ``connect``, ``timeout``,
    ``dropped``, ``invalid``). ``path`` is the path sent, ids included: an observer that counts by
    operation replaces them itself.
    """

    method: str
    path: str
    status: int | None
    failure: str | None
    seconds: float
    request_id: str | None


CallObserver = Callable[[CallRecord], None]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def seg(value: Any) -> str:
    """One path segment: ids come from our database or from Dots, quote them anyway."""
    return quote(str(value), safe="")


def clean(**fields: Any) -> dict[str, Any]:
    """A request body or query without the arguments the caller left out."""
    return {name: value for name, value in fields.items() if value is not None}


def query(**fields: Any) -> dict[str, Any]:
    """Query parameters without None; booleans as Dots spells them (``true``/``false``)."""
    out = {}
    for name, value in fields.items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def _classify(exc: requests.RequestException) -> str:
    """Which kind of transport failure ``exc`` is, for the retry rules."""
    if isinstance(exc, requests.ConnectTimeout):
        return retry_rules.CONNECT
    if isinstance(exc, requests.Timeout):
        return retry_rules.TIMEOUT
    if isinstance(exc, requests.ConnectionError):
        # requests wraps urllib3's MaxRetryError, whose .reason says whether a
        # connection was ever made; walk the chain rather than trusting one shape.
        seen: list[BaseException] = []
        pending: list[Any] = [exc]
        while pending:
            current = pending.pop()
            if not isinstance(current, BaseException) or current in seen:
                continue
            seen.append(current)
            if isinstance(current, (NewConnectionError, ConnectTimeoutError)):
                return retry_rules.CONNECT
            pending.extend(current.args)
            pending.append(getattr(current, "reason", None))
            pending.append(current.__cause__)
            pending.append(current.__context__)
        return retry_rules.DROPPED
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return retry_rules.DROPPED
    # InvalidURL, MissingSchema, ...: our configuration is wrong; nothing was sent.
    return "invalid"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _dump(value: Any) -> str:
    """A body for a debug log line: secrets masked, readable (no \\u escapes for the mask)."""
    return json.dumps(redact(value), ensure_ascii=False, default=str)


def _decode_body(response: requests.Response) -> Any:
    content = response.content
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        # Some endpoints answer text (the older compliance-flow returns a bare URL string).
        return response.text


class Transport:
    """Sends one Dots operation, retrying only where ``dots.retry`` says it is safe."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        api_key: str,
        *,
        app_id: str | None,
        timeout: float | tuple[float, float],
        retry: RetryPolicy,
        session: requests.Session | None,
        observer: CallObserver | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.observer = observer
        self.timeout = timeout
        self.retry = retry
        self.session = session if session is not None else requests.Session()
        token = base64.b64encode(f"{client_id}:{api_key}".encode()).decode("ascii")
        # Built once and passed per request: we never mutate a session the caller lent us.
        self._headers = {"Authorization": "Basic " + token, "Accept": "application/json"}
        if app_id:
            self._headers["Api-App-Id"] = app_id

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        files: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Send ``method path`` and return the decoded body of a 2xx answer, or raise a DotsError.

        ``idempotency_key`` must already be inside ``body``; passing it here too is what
        allows retries of a write. Each retry resends the very same body object.
        """
        url = self.base_url + path
        has_key = bool(idempotency_key)
        policy = self.retry
        debug = logger.isEnabledFor(logging.DEBUG)
        if debug and (body is not None or params):
            logger.debug("dots %s %s params=%s body=%s", method, path, _dump(params or {}), _dump(body))
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    files=files,
                    data=form,
                    headers=self._headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                kind = _classify(exc)
                elapsed_ms = (time.perf_counter() - started) * 1000
                logger.warning(
                    "dots %s %s failed after %.0f ms: %s (%s)", method, path, elapsed_ms, kind, type(exc).__name__
                )
                self._observe(CallRecord(method, path, None, kind, elapsed_ms / 1000, None))
                if attempt < policy.max_retries and retry_rules.should_retry(
                    method=method, has_idempotency_key=has_key, kind=kind
                ):
                    policy.sleep(policy.delay(attempt))
                    attempt += 1
                    continue
                raise self._transport_error(kind, exc, method, path, has_key) from exc

            status = response.status_code
            request_id = response.headers.get("X-Request-Id")
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info(
                "dots %s %s %s %.1fms request_id=%s",
                method,
                path,
                status,
                elapsed_ms,
                request_id,
                extra={"dots_request_id": request_id},
            )
            self._observe(CallRecord(method, path, status, None, elapsed_ms / 1000, request_id))
            if 200 <= status < 300:
                decoded = _decode_body(response)
                if debug:
                    logger.debug("dots %s %s response=%s", method, path, _dump(decoded))
                return decoded

            error = self._status_error(response, method, path)
            if attempt < policy.max_retries and retry_rules.should_retry(
                method=method, has_idempotency_key=has_key, kind=retry_rules.STATUS, status=status
            ):
                retry_after = getattr(error, "retry_after", None)
                if retry_after is None or retry_after <= retry_rules.MAX_RETRY_AFTER:
                    policy.sleep(policy.delay(attempt, retry_after=retry_after))
                    attempt += 1
                    continue
            raise error

    def _observe(self, record: CallRecord) -> None:
        if self.observer is None:
            return
        try:
            self.observer(record)
        except Exception:  # noqa: BLE001 - counting a call must never fail the call
            logger.warning("dots call observer failed", exc_info=True)

    def _status_error(self, response: requests.Response, method: str, path: str) -> DotsError:
        status = response.status_code
        body = _decode_body(response)
        if isinstance(body, dict):
            message = str(body.get("error") or body.get("message") or response.reason or "error")
            error_code = body.get("error_code")
            error_code = str(error_code) if error_code is not None else None
        else:
            message = (body[:200] if isinstance(body, str) and body else response.reason) or "error"
            error_code = None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("dots %s %s error body=%s", method, path, _dump(body))
        cls = error_for_status(status, error_code)
        kwargs: dict[str, Any] = {
            "status": status,
            "error_code": error_code,
            "body": body,
            "request_id": response.headers.get("X-Request-Id"),
            "method": method,
            "path": path,
        }
        if cls is DotsRateLimited:
            return DotsRateLimited(message, retry_after=_retry_after(response), **kwargs)
        return cls(message, **kwargs)

    def _transport_error(self, kind: str, exc: Exception, method: str, path: str, has_key: bool) -> DotsError:
        detail = f"{type(exc).__name__}: {exc}"
        if kind in (retry_rules.CONNECT, "invalid"):
            return DotsConnectionError(f"could not connect to Dots ({detail})", method=method, path=path)
        if method.upper() in _SAFE_METHODS:
            # A read that lost its answer changed nothing: the caller may simply try later.
            return DotsConnectionError(
                f"no answer from Dots ({kind}; {detail})", method=method, path=path, may_have_reached_dots=True
            )
        hint = "resend with the same idempotency key" if has_key else "read the object back before retrying"
        return DotsOutcomeUnknown(
            f"request may have reached Dots but no answer came back ({kind}); {hint} ({detail})",
            method=method,
            path=path,
        )
