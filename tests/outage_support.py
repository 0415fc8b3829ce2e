"""Helpers for tests of Dots outages and the action queue (core.dots_health, core.action_queue)."""

import pytest

from core import dots_health

# Every /api path, every method: Dots answers nothing but 503.
ALL_DOWN = {"kind": "status", "status": 503, "rate": 1}


@pytest.fixture
def outage_settings(settings):
    """Small thresholds (one failure makes an outage) and no health cache, for these tests only."""
    settings.DOTS_OUTAGE_AFTER_SECONDS = 0
    settings.DOTS_OUTAGE_MIN_FAILURES = 1
    settings.DOTS_HEALTH_CACHE_SECONDS = 0
    dots_health.forget_cached()
    yield settings
    # The cache is per process: never let another test see this one's outage.
    dots_health.forget_cached()


def start_outage(emulator) -> None:
    """Dots stops answering; one real failed call through the app's client records the outage."""
    emulator.add_fault(**ALL_DOWN)
    assert dots_health.probe() is False
    assert dots_health.read(fresh=True).in_outage


def end_outage(emulator) -> None:
    """Dots answers again (the app learns it at its next call, e.g. the drain's probe)."""
    emulator.control("faults/clear")
