"""Outgoing webhooks: queued in the handler's transaction, delivered after commit.

An event is a row in `webhook_events` written inside the same transaction as the
change it announces, so a rolled-back request never announces anything and a
restart loses no queued event. A background thread delivers due events to the
configured URL, signed the Svix way with `dots.webhooks.sign` (the same code the
app verifies with), and retries failures with backoff. `flush()` delivers every
pending event now, ignoring backoff, for tests.

Delivery is at least once, like Svix: a receiver that answers slowly may see the
same `svix-id` twice and must refuse the duplicate.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import requests

from dots.emulator.jsondoc import Doc
from dots.emulator.store import Store
from dots.webhooks import sign

CONFIG_KEY = "webhook_config"
# Seconds to wait before attempt 2, 3, ...; after the last, the event is marked failed.
DEFAULT_RETRY_DELAYS = [1, 2, 4, 8, 16, 32]
DELIVERY_TIMEOUT_SECONDS = 5


class WebhookOutbox:
    def __init__(self, store: Store, *, default_url: str | None, default_secret: str) -> None:
        self.store = store
        self.default_url = default_url
        self.default_secret = default_secret
        self._wake = threading.Event()
        # Only one deliverer at a time (the thread or a flush), so no event is sent twice concurrently.
        self._deliver_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = requests.Session()

    # -- configuration --------------------------------------------------------------

    def config(self) -> Doc:
        stored: Doc | None = self.store.meta_get(CONFIG_KEY)
        if stored is None:
            stored = {"url": self.default_url, "secret": self.default_secret, "retry_delays": DEFAULT_RETRY_DELAYS}
        stored.setdefault("retry_delays", DEFAULT_RETRY_DELAYS)
        stored.setdefault("secret", self.default_secret)
        return stored

    def configure(self, *, url: str | None, secret: str | None, retry_delays: list[float] | None) -> Doc:
        config = self.config()
        config["url"] = url
        if secret:
            config["secret"] = secret
        if retry_delays is not None:
            config["retry_delays"] = retry_delays
        self.store.meta_set(CONFIG_KEY, config)
        return config

    # -- queueing (inside a handler's transaction) ---------------------------------------

    def queue(self, store: Store, *, event_type: str, data: Doc, app_id: str | None) -> str:
        event_id = "msg_" + uuid.uuid4().hex
        payload = {"event": event_type, **data}
        status = "pending" if self.config().get("url") else "no_endpoint"
        store.conn.execute(
            "INSERT INTO webhook_events (id, type, payload, status, created_at, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?, 0)",
            (event_id, event_type, json.dumps(payload, separators=(",", ":")), status, time.time()),
        )
        return event_id

    def notify(self) -> None:
        """Called by app.py after a commit: wake the delivery thread."""
        self._wake.set()

    # -- delivery --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            try:
                self.deliver_due(force=False)
            except Exception:  # noqa: BLE001 - the thread must survive anything and try again later
                time.sleep(0.5)

    def deliver_due(self, *, force: bool) -> list[Doc]:
        """Deliver pending events whose time has come (all pending ones when `force`); return outcomes."""
        outcomes = []
        with self._deliver_lock:
            with self.store.transaction():
                config = self.config()
                query = "SELECT id, type, payload, attempts FROM webhook_events WHERE status = 'pending'"
                args: tuple[float, ...] = ()
                if not force:
                    query += " AND next_attempt_at <= ?"
                    args = (time.time(),)
                due = self.store.conn.execute(query + " ORDER BY seq", args).fetchall()
            for event_id, event_type, payload, attempts in due:
                outcomes.append(self._deliver_one(config, event_id, event_type, payload, attempts))
        return outcomes

    def _deliver_one(self, config: Doc, event_id: str, event_type: str, payload: str, attempts: int) -> Doc:
        url = config.get("url")
        body = payload.encode()
        status_code = None
        error = ""
        if url:
            headers = sign(secret=config["secret"], msg_id=event_id, timestamp=int(time.time()), body=body)
            headers["content-type"] = "application/json"
            try:
                response = self._http.post(url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS)
                status_code = response.status_code
                if not 200 <= status_code < 300:
                    error = f"receiver answered {status_code}"
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
        else:
            error = "no webhook url configured"
        attempts += 1
        now = time.time()
        delays = config.get("retry_delays") or DEFAULT_RETRY_DELAYS
        if not error:
            status, next_at = "delivered", 0.0
        elif attempts > len(delays):
            status, next_at = "failed", 0.0
        else:
            status, next_at = "pending", now + float(delays[attempts - 1])
        with self.store.transaction():
            self.store.conn.execute(
                "UPDATE webhook_events SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
                "last_status = ?, delivered_at = ? WHERE id = ?",
                (status, attempts, next_at, error, status_code, now if status == "delivered" else None, event_id),
            )
        return {
            "id": event_id,
            "type": event_type,
            "status": status,
            "attempts": attempts,
            "http_status": status_code,
            "error": error,
        }

    # -- reading ---------------------------------------------------------------------------------

    def list_events(self, *, limit: int = 100) -> list[Doc]:
        with self.store.transaction():
            rows = self.store.conn.execute(
                "SELECT id, type, payload, status, attempts, last_error, last_status, created_at, delivered_at, "
                "next_attempt_at FROM webhook_events ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "id": r[0],
                "type": r[1],
                "payload": json.loads(r[2]),
                "status": r[3],
                "attempts": r[4],
                "last_error": r[5],
                "last_status": r[6],
                "created_at": r[7],
                "delivered_at": r[8],
                "next_attempt_at": r[9] or None,
            }
            for r in rows
        ]
