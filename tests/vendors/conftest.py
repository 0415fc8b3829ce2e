"""The browser fixtures (Debian's Chromium) for the vendors browser test."""

from tests.browser.conftest import browser, page  # noqa: F401  (re-exported fixtures)
