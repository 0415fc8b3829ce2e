"""Settings come from the environment; production settings pass `check --deploy`."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.models import DemoAccount

REPO = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "p7Jx-9qv2Lr8sT4wZ1yB6nC3mK5dF0gH-aUeQiOoPjRlVsXtYzWc",
    "ALLOWED_HOSTS": "ledgerline.example.com",
    "DATABASE_URL": "sqlite:////tmp/ledgerline-deploy-check.sqlite3",
    "DOTS_API_URL": "https://api.dots.dev/api",
    "DOTS_CLIENT_ID": "client",
    "DOTS_API_KEY": "key",
    "DOTS_WEBHOOK_SECRET": "whsec_c2VjcmV0",
}


def _run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"))
    }
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # Variables given here win over a developer's .env (read with overwrite=False).
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _print_setting(expr: str, env: dict[str, str]) -> str:
    code = f"from django.conf import settings; print({expr})"
    result = _run_manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_settings_pass_check_deploy_without_warnings():
    result = _run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_key_with_debug_off_refuses_to_start():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = _run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_database_url_switches_to_postgresql():
    env = {**PRODUCTION_ENV, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/ledgerline"}
    assert _print_setting("settings.DATABASES['default']['ENGINE']", env) == "django.db.backends.postgresql"


def test_no_database_url_means_sqlite_under_var():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    assert _print_setting("settings.DATABASES['default']['NAME']", env).endswith("var/ledgerline.sqlite3")


def test_redis_url_switches_the_task_broker_to_redis():
    with_redis = {**PRODUCTION_ENV, "REDIS_URL": "redis://127.0.0.1:6379/3"}
    assert _print_setting("settings.Q_CLUSTER.get('redis')", with_redis) == "redis://127.0.0.1:6379/3"
    assert _print_setting("settings.Q_CLUSTER.get('broker_class')", with_redis) == "core.task_broker.RedisBroker"
    assert _print_setting("settings.Q_CLUSTER.get('orm')", PRODUCTION_ENV) == "default"


def test_a_task_retry_not_longer_than_its_timeout_refuses_to_start():
    env = {**PRODUCTION_ENV, "Q_TIMEOUT_SECONDS": "60", "Q_RETRY_SECONDS": "60"}
    result = _run_manage("check", env=env)
    assert result.returncode != 0
    assert "Q_RETRY_SECONDS must be longer than Q_TIMEOUT_SECONDS" in result.stderr


def test_log_lines_never_show_account_numbers_or_api_keys(caplog):
    from django.conf import settings

    assert settings.LOGGING["handlers"]["console"]["filters"] == ["redact"]
    from dots.redact import RedactingFilter

    logger = logging.getLogger("ledgerline.test")
    handler = logging.StreamHandler(stream := __import__("io").StringIO())
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning(
            "calling Dots with Authorization: Basic bGVkZ2VybGluZTpzZWNyZXQ= for account_number=000123456789"
        )
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "bGVkZ2VybGluZTpzZWNyZXQ=" not in line
    assert "000123456789" not in line


@pytest.mark.django_db
def test_demo_data_loads_once_and_again_without_change(capsys):
    call_command("load_demo_data")
    first = DemoAccount.objects.count()
    call_command("load_demo_data")
    assert DemoAccount.objects.count() == first == 10
    out = capsys.readouterr().out
    assert "demo-payer-pass" in out
    assert "(0 new)" in out


@pytest.mark.django_db
def test_demo_data_adds_the_coming_holidays_once():
    from core.models import Holiday

    call_command("load_demo_data")
    call_command("load_demo_data")
    names = sorted(Holiday.objects.values_list("name", flat=True))
    assert names == ["Christmas Day", "Independence Day", "New Year's Day"]
    assert all(day >= timezone.localdate() for day in Holiday.objects.values_list("date", flat=True))
