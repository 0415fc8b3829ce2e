"""Helpers shared by the Django tests: users in roles, verified sign-in, TOTP codes."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_SESSION_KEY = "otp_device_id"  # django_otp.DEVICE_ID_SESSION_KEY


def make_user(username: str, *, role: str | None = None, password: str = "correct horse battery", **extra):
    User = get_user_model()
    user = User.objects.create_user(
        username=username, password=password, is_staff=True, email=f"{username}@example.com", **extra
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def add_totp_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)


def current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    return f"{code:0{device.digits}d}"


def login_verified(client, user) -> None:
    """Sign the test client in as `user` with a second factor already given."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or add_totp_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_SESSION_KEY] = device.persistent_id
    session.save()


def redis_test_database(number: int, *, empty: bool = True):
    """A Redis database for a test (emptied before and after unless `empty` is false: then the test keeps
    to keys of its own, so two test runs at once on one machine do not empty each other's), on CI's or
    this machine's Redis.

    Yields its URL. CI always has Redis, so there a missing one fails; elsewhere the test is skipped.
    Numbers in use: 0 the queue (CI's REDIS_URL), 1 the cache, 12 tests/prod/test_shared_cache.py,
    13 tests/core/test_two_clusters.py (its clusters cache in 14), 15 tests/core/test_task_broker_redis.py;
    10 bench/load.py and 11 bench/prod_check.py (their own runs, emptied first).
    """
    import os

    import pytest
    import redis

    url = (os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + f"/{number}"
    server = redis.from_url(url)
    try:
        server.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Redis on 127.0.0.1:6379")
    if empty:
        server.flushdb()
    yield url
    if empty:
        server.flushdb()
