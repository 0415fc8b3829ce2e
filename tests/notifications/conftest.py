import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _forget_cached_counts():
    """The header's count is cached per user id; ids come back in the next test's database."""
    cache.clear()
    yield
    cache.clear()
