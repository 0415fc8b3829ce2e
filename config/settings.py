"""Ledgerline settings, all read from the environment (django-environ).

With no environment at all the project runs on embedded defaults: SQLite in `var/`
and django-q2's ORM broker. `DATABASE_URL=postgres://...` switches to PostgreSQL
(production, CI); `REDIS_URL` switches django-q2 to Redis (several workers).
`.env.example` documents every variable; a `.env` file beside manage.py is read
when present (`make run` creates one for local development).
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Never fall back to a known key outside DEBUG: a production deploy that forgot
# SECRET_KEY must fail loudly rather than sign sessions with a public value.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "django-insecure-local-development-only-" + "x" * 20

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "core.admin_config.LedgerlineAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "core.app_names.AuthenticatorsConfig",  # django_otp.plugins.otp_totp
    "core.app_names.SignInLockoutsConfig",  # axes
    "django_q",
    "core",
    "vendors",
    "payables",
    "payouts",
    "wallet",
    "receivables",
    "reports",
    "notifications",
    "reconciliation",
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics, answered before the host check and the HTTPS redirect.
    "core.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files with hashed names, compressed, cached for ever (gunicorn in production; runserver
    # serves them itself under `make run`). Same origin, so the CSP's 'self' covers them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestContextMiddleware",
    "core.metrics.RequestMetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "core.middleware.RequestLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.SessionLifetimeMiddleware",
    "core.middleware.RequireTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # axes must come last: it turns a lockout raised by its backend into a response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "core.auth_backends.LedgerlineModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # "My tasks (3)" in the admin header (lazy: pages that do not show it pay nothing).
                "notifications.context_processors.my_tasks",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ledgerline.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so the web process and the worker
    # queue up instead of failing with "database is locked" (PITFALLS.md).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Reconnecting on every django-q2 broker call costs 8x throughput (PITFALLS.md).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background tasks (django-q2) -----------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": "ledgerline",
    "workers": env.int("Q_WORKERS", default=2),
    # A task that calls Dots gives up long before `timeout`; `retry` must exceed
    # `timeout` or one task runs twice at once (PITFALLS.md).
    "timeout": env.int("Q_TIMEOUT_SECONDS", default=120),
    "retry": env.int("Q_RETRY_SECONDS", default=180),
    # 0 would redeliver a failing task forever. Whether to try a payment again is
    # the reconciler's decision, so failures are acknowledged, not replayed.
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    # Keep every result here: with a limit, django-q2 prunes on every save by reading all kept
    # successes FOR UPDATE, which capped the worker at about 20 tasks/s whatever the broker
    # (bench/broker.py). core.tasks.prune_successful_tasks keeps TASK_SUCCESSES_KEPT instead,
    # every 10 minutes in one DELETE.
    "save_limit": 0,
    "label": "Background tasks",
    # Tasks taken per fetch from the queue (one query for several). Each is locked for `retry`
    # seconds when fetched, so a fetch should not take more than the workers start soon.
    "bulk": env.int("Q_BULK", default=4),
}
TASK_SUCCESSES_KEPT = env.int("TASK_SUCCESSES_KEPT", default=1000)
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY_SECONDS must be longer than Q_TIMEOUT_SECONDS, or one task runs twice at once.")
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    # django-q2's Redis queue, keeping each task in Redis until its cluster acknowledges it: a
    # cluster killed on one machine loses nothing (core/task_broker.py RedisBroker).
    Q_CLUSTER["broker_class"] = "core.task_broker.RedisBroker"
else:
    Q_CLUSTER["orm"] = "default"
    # django-q2's ORM broker, fetching `bulk` tasks in one statement and not waiting for the disk
    # to lock or acknowledge one (safe: delivery is at least once); see core/task_broker.py.
    Q_CLUSTER["broker_class"] = "core.task_broker.OrmBroker"

# --- Cache ----------------------------------------------------------------------
# Without Redis: each process's memory (one machine). With REDIS_URL (or REDIS_CACHE_URL): Redis, so
# every web node and worker sees the same cached values (Dots' health behind the banner, the header's
# count of what waits) and a change on one node clears them for all. Its own database number, by
# default the queue's + 1: clearing a cache empties its whole database, never the task queue.


def _next_redis_database(url: str) -> str:
    """redis://host:6379/0 -> redis://host:6379/1 (no number means database 0)."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{number + 1}"))


REDIS_CACHE_URL = env.str("REDIS_CACHE_URL", default="") or (_next_redis_database(REDIS_URL) if REDIS_URL else "")
if REDIS_CACHE_URL and REDIS_CACHE_URL == REDIS_URL:
    raise ImproperlyConfigured("REDIS_CACHE_URL must name another Redis database than REDIS_URL (the task queue).")
CACHES = {
    "default": {
        # Django's RedisCache; a Redis that stops answering degrades it to no cache (core/cache.py).
        "BACKEND": "core.cache.SharedRedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": "ledgerline",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
    if REDIS_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Dots ---------------------------------------------------------------------
# The defaults point at the local Dots emulator started by `make run`.
DOTS_API_URL = env.str("DOTS_API_URL", default="http://127.0.0.1:8100/api")
DOTS_CLIENT_ID = env.str("DOTS_CLIENT_ID", default="ledgerline-dev")
DOTS_API_KEY = env.str("DOTS_API_KEY", default="dots-emulator-key")
DOTS_APP_ID = env.str("DOTS_APP_ID", default="") or None
DOTS_WEBHOOK_SECRET = env.str("DOTS_WEBHOOK_SECRET", default="")
# Only while Dots' webhook secret is being replaced: the old one, still accepted beside the new one.
DOTS_WEBHOOK_SECRET_PREVIOUS = env.str("DOTS_WEBHOOK_SECRET_PREVIOUS", default="")
# Refused webhook deliveries are recorded (size, never a too-large body) only up to these per hour,
# so nobody can fill the database with them; past them they are answered and logged, not stored.
DOTS_WEBHOOK_REFUSED_PER_HOUR = env.int("DOTS_WEBHOOK_REFUSED_PER_HOUR", default=1000)
DOTS_WEBHOOK_REFUSED_BYTES_PER_HOUR = env.int("DOTS_WEBHOOK_REFUSED_BYTES_PER_HOUR", default=8 * 1024 * 1024)
# A payee file up to this size is checked in the upload request (about 3,000 rows, a third of a
# second); a larger one is stored and checked by the worker, and its page shows the progress.
PAYEE_IMPORT_CHECK_IN_REQUEST_BYTES = env.int("PAYEE_IMPORT_CHECK_IN_REQUEST_BYTES", default=256 * 1024)
DOTS_TIMEOUT_SECONDS = env.float("DOTS_TIMEOUT_SECONDS", default=10.0)
# The sync with Dots (core.sync_runner): each step runs as its own task and works in chunks of
# SYNC_CHUNK_SIZE records, storing its cursor after each, until SYNC_STEP_BUDGET_SECONDS have
# passed (well under Q_CLUSTER's timeout); the rest of the pass continues in a new task. Its lease
# on the step (SYNC_LEASE_SECONDS, renewed after each chunk) must stay under that timeout too.
SYNC_STEP_BUDGET_SECONDS = env.float("SYNC_STEP_BUDGET_SECONDS", default=60.0)
SYNC_CHUNK_SIZE = env.int("SYNC_CHUNK_SIZE", default=200)
SYNC_LEASE_SECONDS = env.float("SYNC_LEASE_SECONDS", default=90.0)
# Reads of many single records go through this many concurrent requests at most.
DOTS_READ_CONCURRENCY = env.int("DOTS_READ_CONCURRENCY", default=8)
# Backoff by age: a record that has not changed for a while is read again after a tenth of its
# age, at least SYNC_BACKOFF_MIN_SECONDS and at most SYNC_BACKOFF_MAX_SECONDS later.
SYNC_BACKOFF_MIN_SECONDS = env.int("SYNC_BACKOFF_MIN_SECONDS", default=5 * 60)
SYNC_BACKOFF_MAX_SECONDS = env.int("SYNC_BACKOFF_MAX_SECONDS", default=6 * 60 * 60)
# The Dots dashboard user that creates, submits and pays payables for people who are
# not linked to a dashboard user of their own (approvals always need their own).
DOTS_DEFAULT_ACTING_USER_ID = env.int("DOTS_DEFAULT_ACTING_USER_ID", default=None)
# After a pay call whose answer was lost, Dots showing "approved" proves nothing until
# this long has passed: the call may still be on its way. Only then may anyone pay again.
PAY_OUTCOME_SETTLE_SECONDS = env.int("PAY_OUTCOME_SETTLE_SECONDS", default=120)
# A payable still "payment being sent" this long after the pay call began has no caller left
# waiting for Dots' answer (the process died mid-call): reconciliation reads it back as an
# outcome-unknown payment. Longer than any real call (DOTS_TIMEOUT_SECONDS).
PAY_REQUEST_STALE_SECONDS = env.int("PAY_REQUEST_STALE_SECONDS", default=120)
# Scheduled payments (payables.scheduled) are paid from this hour (0-23) of their day, company time (TIME_ZONE).
SCHEDULED_PAY_HOUR = env.int("SCHEDULED_PAY_HOUR", default=6)
# An approval step waiting this many business days reminds its approvers (once a day), and this many
# escalates it to the policy's escalation contact or the Managers (payables.reminders).
APPROVAL_REMINDER_BUSINESS_DAYS = env.int("APPROVAL_REMINDER_BUSINESS_DAYS", default=1)
APPROVAL_ESCALATION_BUSINESS_DAYS = env.int("APPROVAL_ESCALATION_BUSINESS_DAYS", default=3)
# Reminders go out from this hour (0-23) of a business day, company time.
APPROVAL_REMINDER_HOUR = env.int("APPROVAL_REMINDER_HOUR", default=9)
# How long a payer's last authenticator code counts before paying asks for a fresh one.
PAY_STEP_UP_SECONDS = env.int("PAY_STEP_UP_SECONDS", default=5 * 60)
# A deposit into or withdrawal from the app wallet above this many cents waits for a second Payer.
WALLET_SECOND_APPROVAL_CENTS = env.int("WALLET_SECOND_APPROVAL_CENTS", default=1_000_000)
# The dashboard counts an approval step as late once it has waited more business days than this.
APPROVAL_SERVICE_LEVEL_BUSINESS_DAYS = env.int("APPROVAL_SERVICE_LEVEL_BUSINESS_DAYS", default=2)
# The home page's overview figures are computed by a schedule this often; a page finding them older
# than OVERVIEW_MAX_AGE_SECONDS (the worker stopped) computes them itself.
# Refuse paying a payee (payout link, transfer) whose total this year would reach the 1099 threshold
# while Dots has not matched their TIN (payouts/tax.py). Off by default.
PAYOUTS_REQUIRE_MATCHED_TIN_OVER_1099_THRESHOLD = env.bool(
    "PAYOUTS_REQUIRE_MATCHED_TIN_OVER_1099_THRESHOLD", default=False
)
OVERVIEW_REFRESH_MINUTES = env.int("OVERVIEW_REFRESH_MINUTES", default=5)
OVERVIEW_MAX_AGE_SECONDS = env.int("OVERVIEW_MAX_AGE_SECONDS", default=15 * 60)
# Dots counts as unreachable (admin banner; actions queue instead of failing) once calls have
# failed for this long AND this many times in a row; the first answer ends it (core.dots_health).
DOTS_OUTAGE_AFTER_SECONDS = env.int("DOTS_OUTAGE_AFTER_SECONDS", default=60)
DOTS_OUTAGE_MIN_FAILURES = env.int("DOTS_OUTAGE_MIN_FAILURES", default=3)
# How long each process trusts what it last read of Dots' health (banner, "all is well" on success).
DOTS_HEALTH_CACHE_SECONDS = env.float("DOTS_HEALTH_CACHE_SECONDS", default=5.0)

# --- Email (notifications) -------------------------------------------------------
# EMAIL_URL picks how mail leaves (django-environ): smtp+tls://user:password@smtp.example.com:587,
# consolemail:// (printed by the web process or worker), filemail:///path/to/dir. Unset: every
# email is written as a file under var/mail/, so `make run` sends nothing anywhere.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
    if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":  # type: ignore[name-defined]  # noqa: F821
        # django-environ drops the leading "/" of filemail:///abs/path: relative paths are under the project.
        EMAIL_FILE_PATH = str(BASE_DIR / (EMAIL_FILE_PATH or "var/mail"))  # type: ignore[name-defined]  # noqa: F821
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Ledgerline <ledgerline@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where people open Ledgerline: the links in emails are absolute, built from this.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# --- Health and metrics ------------------------------------------------------------
# Prometheus reads /metrics with "Authorization: Bearer <METRICS_TOKEN>"; without a token the
# endpoint answers 404. PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself) adds up every
# gunicorn worker's measurements; gunicorn.conf.py prepares it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The worker (qcluster) makes most Dots calls; with this set ("10.0.0.5:9101", an internal address: no
# token) it serves its own /metrics there, adding up its task processes (needs PROMETHEUS_MULTIPROC_DIR).
WORKER_METRICS_BIND = env.str("WORKER_METRICS_BIND", default="")

# --- Sign-in, sessions and lockout ------------------------------------------------
LOGIN_URL = "admin:login"
# Sessions end 12 hours after sign-in whatever happens, and after 30 idle minutes
# (core.middleware.SessionLifetimeMiddleware enforces both; Django's default is two weeks).
SESSION_COOKIE_AGE = int(timedelta(hours=12).total_seconds())
SESSION_ABSOLUTE_SECONDS = SESSION_COOKIE_AGE
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

OTP_TOTP_ISSUER = "Ledgerline"
# Roles whose members must sign in with a second factor. Everyone else is offered it.
TWO_FACTOR_REQUIRED_ROLES = ["Payer", "Administrator"]

# Lock out a username from one IP address after repeated failures. Keying on both
# means an attacker cannot lock every user out by guessing from one address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Content-Security-Policy: the admin needs nothing from other origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Transport security -----------------------------------------------------------
# On in production (DEBUG off); `make run` serves plain HTTP on 127.0.0.1 with DEBUG on.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Uploads: Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not cover files; forms check sizes too.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Internationalisation, static, media ------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"
# Uploaded files (payables' PDFs, payee CSVs): on this machine's disk under MEDIA_ROOT by default
# (one machine), or in an S3-compatible bucket every web node and worker reads, when STORAGE_URL is
# set: s3://bucket[/prefix][?endpoint_url=https://...&region_name=...&addressing_style=path].
# Credentials come from the usual AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the
# machine's role. Files stay private: no ACL is sent (the bucket's own, private, applies), any URL
# would be signed, and the app serves them only through its signed-in download pages.
STORAGE_URL = env.str("STORAGE_URL", default="")
_S3_QUERY_OPTIONS = ("endpoint_url", "region_name", "addressing_style", "signature_version")


def _s3_storage(url: str) -> dict:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    unknown = sorted(set(query) - set(_S3_QUERY_OPTIONS))
    if parts.scheme != "s3" or not parts.netloc or unknown:
        raise ImproperlyConfigured(
            "STORAGE_URL must read s3://bucket[/prefix][?"
            + "=...&".join(_S3_QUERY_OPTIONS)
            + "=...]"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    options = {
        "bucket_name": parts.netloc,
        "location": parts.path.strip("/"),
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        **query,
    }
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES = {
    "default": _s3_storage(STORAGE_URL) if STORAGE_URL else {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Without DEBUG: `manage.py collectstatic` writes hashed, compressed copies and a manifest, and
    # whitenoise serves them with far-future caching. With DEBUG (make run) names stay as they are.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Logging ------------------------------------------------------------------------
# Every handler passes through the redacting filter: account numbers, API keys and
# Authorization headers never reach a log line.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "json" in production: one JSON object per line with the request id, user id and Dots request id
# (core.log_format), and one line per request; "plain" (the default) for people reading `make run`.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {
            "()": "dots.redact.RedactingFilter",
            # Masked wherever they appear, even in text no key name announces.
            "extra_secrets": [
                s
                for s in (DOTS_API_KEY, DOTS_WEBHOOK_SECRET, DOTS_WEBHOOK_SECRET_PREVIOUS, SECRET_KEY, METRICS_TOKEN)
                if len(s) >= 8
            ],
        }
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"], "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "dots": {"handlers": ["console"], "level": env.str("DOTS_LOG_LEVEL", default=LOG_LEVEL), "propagate": False},
        "django_q": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "ledgerline.requests": {
            "handlers": ["console"],
            "level": "INFO" if LOG_FORMAT == "json" else "WARNING",
            "propagate": False,
        },
    },
}
