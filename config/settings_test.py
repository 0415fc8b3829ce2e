"""Settings for the test suite: the production settings with test-only values.

pytest-django imports settings before any conftest runs, so the values a test run
needs are set here rather than in fixtures.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-any-deployment-0123456789")
os.environ.setdefault("DEBUG", "false")

from config.settings import *  # noqa: E402,F403
from config.settings import Q_CLUSTER  # noqa: E402

# The live server used by browser tests speaks plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

# Tests that are not about the queue run tasks inline.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", "/tmp/ledgerline-test-media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from config.settings import CACHES, DATABASES, VAR_DIR  # noqa: E402

# With Redis (CI) the cache outlives the test run and is shared with any other run on the machine: one
# prefix per run, which the workers and nodes the tests start inherit, so they share this run's cache.
os.environ.setdefault("LEDGERLINE_TEST_CACHE_PREFIX", f"ledgerline-test-{os.getpid()}")
CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": os.environ["LEDGERLINE_TEST_CACHE_PREFIX"]}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not the shared-cache in-memory database: concurrent writers then wait
    # on the busy timeout as they do in production instead of failing at once.
    # One file per test process, so two suites running at once cannot clobber each other.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-ledgerline-{os.getpid()}.sqlite3")}
