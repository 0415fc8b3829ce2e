"""LOG_FORMAT=json: one JSON object per line (time, level, logger, message, request id, user id, Dots request id);
secrets masked as in plain text."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from core import roles
from core.dots_gateway import client as dots_client
from core.log_format import JsonFormatter
from dots.redact import RedactingFilter
from tests.support import login_verified, make_user

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines():
    """The console handler as LOG_FORMAT=json builds it, on the request and Dots loggers, at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(extra_secrets=[django_settings.SECRET_KEY]))
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("ledgerline.requests", "dots")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield read
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.django_db
def test_a_request_is_one_json_line_with_its_request_id_and_user_id(client, json_lines):
    user = make_user("json-log-manager", role=roles.MANAGER)
    login_verified(client, user)
    response = client.get("/admin/payables/payable/")
    assert response.status_code == 200
    lines = [line for line in json_lines() if line["logger"] == "ledgerline.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert set(line) >= {"time", "level", "logger", "message", "request_id", "user_id"}
    assert line["level"] == "INFO"
    assert line["request_id"] == response["X-Request-Id"]
    assert line["user_id"] == user.pk
    assert line["message"].startswith("GET /admin/payables/payable/ 200 ")
    assert "view=admin:payables_payable_changelist" in line["message"]
    assert line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_a_dots_call_logs_its_request_id_and_a_bank_number_in_its_body_masked(json_lines, dots):
    transport = dots_client()._transport
    with pytest.raises(Exception):  # noqa: B017,PT011 - the emulator refuses the unknown path; only the logs matter
        transport.request("POST", "/v2/not-a-path", body={"account_number": "123456789012", "routing_number": "x"})
    lines = [line for line in json_lines() if line["logger"] == "dots"]
    text = json.dumps(lines)
    assert "123456789012" not in text
    debug = [line for line in lines if line["level"] == "DEBUG" and "body=" in line["message"]]
    assert debug and "\u2022\u2022\u2022\u20229012" in debug[0]["message"]
    answered = [line for line in lines if line["level"] == "INFO"]
    assert answered and answered[0]["dots_request_id"]
    assert answered[0]["dots_request_id"] in answered[0]["message"]


def test_log_format_json_configures_every_line_as_json_and_plain_stays_text(tmp_path):
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('payables').warning('paid with api_key=%s', 'sk_live_abcdef123456'); "
        "logging.getLogger('dots').info('dots GET /v2/apps 200', extra={'dots_request_id': 'req-1'})"
    )
    base = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "json-log-test-secret-key-0123456789",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, "LOG_FORMAT": "json"}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines()]
    assert [line["logger"] for line in lines] == ["payables", "dots"]
    assert "sk_live_abcdef123456" not in out.stderr
    assert lines[0]["request_id"] is None and lines[0]["user_id"] is None
    assert lines[1]["dots_request_id"] == "req-1"
    plain = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    assert " WARNING payables paid with api_key=" in plain.stderr
    assert not plain.stderr.lstrip().startswith("{")
