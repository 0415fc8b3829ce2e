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
