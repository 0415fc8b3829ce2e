"""Log lines as JSON, one object per line, for production (`LOG_FORMAT=json`; plain text under `make run`).

Each line: time (UTC, ISO 8601), level, logger, message, and when known the request id (the same as
the response's X-Request-Id and the audit trail's), the signed-in user's id and the Dots request id
(the `dots` logger passes it on each call's line). The redacting filter (dots.redact) runs on the
handler before this formatter, so the message and any traceback are already masked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from core import request_context


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = request_context.current()
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": context.request_id or None,
            "user_id": context.user_id,
        }
        dots_request_id = getattr(record, "dots_request_id", None)
        if dots_request_id:
            line["dots_request_id"] = dots_request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)
