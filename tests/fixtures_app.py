"""Fixtures for Django tests that talk to Dots: the app's client pointed at the emulator."""

import pytest

from core import dots_gateway
from tests.openapi_check import checked_session


@pytest.fixture
def dots(emulator, openapi_checker, settings):
    """The emulator, freshly reset, as the app's Dots; every response is schema-checked.

    Works for the live server's thread too: the gateway builds one client per thread
    from these settings and this session factory.
    """
    settings.DOTS_API_URL = emulator.base_url
    settings.DOTS_CLIENT_ID = emulator.client_id
    settings.DOTS_API_KEY = emulator.api_key
    settings.DOTS_WEBHOOK_SECRET = emulator.webhook_secret
    settings.DOTS_APP_ID = None
    dots_gateway.set_session_factory(lambda: checked_session(openapi_checker))
    try:
        yield emulator
    finally:
        dots_gateway.set_session_factory(None)
