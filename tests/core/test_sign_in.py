"""Two-factor sign-in, lockout, session lifetime and demo logins, through the real login page."""

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from core import roles
from core.models import AuditEvent, DemoAccount
from core.signals import SESSION_AUTH_AT, SESSION_SEEN_AT
from tests.support import add_totp_device, current_code, login_verified, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
LOGIN = "/admin/login/?next=/admin/"


def _login(client, username, *, password=PASSWORD, otp="", ip="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password, "otp_token": otp}, REMOTE_ADDR=ip)


def test_user_without_authenticator_signs_in_with_password_only(client):
    make_user("clerk", role=roles.AP_CLERK)
    response = _login(client, "clerk")
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_user_with_authenticator_must_give_its_code(client):
    user = make_user("manager", role=roles.MANAGER)
    add_totp_device(user)
    response = _login(client, "manager")
    assert response.status_code == 200
    assert "Enter the six-digit code from your authenticator app." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_wrong_authenticator_code_is_refused_and_audited(client):
    user = make_user("manager", role=roles.MANAGER)
    add_totp_device(user)
    response = _login(client, "manager", otp="000000")
    assert "wrong or has expired" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="user.otp_failed", actor=user).exists()


def test_payer_signs_in_with_password_and_current_code(client):
    payer = make_user("payer", role=roles.PAYER)
    device = add_totp_device(payer)
    response = _login(client, "payer", otp=current_code(device))
    assert response.status_code == 302
    page = client.get("/admin/")
    assert page.status_code == 200
    assert AuditEvent.objects.filter(action="user.logged_in", actor=payer).exists()


def test_payer_without_authenticator_reaches_only_the_set_up_page(client):
    make_user("payer", role=roles.PAYER)
    _login(client, "payer")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:two_factor_setup")
    page = client.get(reverse("admin:two_factor_setup"))
    assert "Your role requires two-factor sign-in" in page.content.decode()


def test_setting_up_an_authenticator_turns_two_factor_on(client):
    payer = make_user("payer", role=roles.PAYER)
    _login(client, "payer")
    client.get(reverse("admin:two_factor_setup"))  # creates the unconfirmed device
    device = payer.totpdevice_set.get()
    assert not device.confirmed
    response = client.post(reverse("admin:two_factor_setup"), {"otp_token": current_code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="user.two_factor_enabled", actor=payer).exists()


def test_setting_up_with_a_wrong_code_says_so(client):
    make_user("clerk", role=roles.AP_CLERK)
    _login(client, "clerk")
    client.get(reverse("admin:two_factor_setup"))
    response = client.post(reverse("admin:two_factor_setup"), {"otp_token": "123"})
    assert "That code is wrong or has expired" in response.content.decode()


def test_administrator_role_requires_two_factor_too(client):
    make_user("admin1", role=roles.ADMINISTRATOR)
    _login(client, "admin1")
    assert client.get("/admin/auth/user/")["Location"] == reverse("admin:two_factor_setup")


def test_superuser_requires_two_factor(client):
    make_user("root", is_superuser=True)
    _login(client, "root")
    assert client.get("/admin/")["Location"] == reverse("admin:two_factor_setup")


@override_settings(DEBUG=True)
def test_demo_payer_skips_two_factor_while_debug_is_on(client):
    payer = make_user("payer", role=roles.PAYER)
    DemoAccount.objects.create(user=payer)
    assert _login(client, "payer").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_demo_login_is_refused_when_debug_is_off(client):
    payer = make_user("payer", role=roles.PAYER)
    DemoAccount.objects.create(user=payer)
    response = _login(client, "payer")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_username_and_ip_together(client):
    make_user("alice", role=roles.AP_CLERK)
    make_user("bob", role=roles.AP_CLERK)
    for _ in range(5):
        _login(client, "alice", password="wrong", ip="10.0.0.66")
    locked = _login(client, "alice", ip="10.0.0.66")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    # The attacker's address does not lock other users out...
    assert _login(client, "bob", ip="10.0.0.66").status_code == 302
    client.logout()
    # ...and the real user, from elsewhere, still gets in.
    assert _login(client, "alice", ip="10.0.0.7").status_code == 302


def test_session_ends_after_thirty_idle_minutes(client):
    user = make_user("clerk", role=roles.AP_CLERK)
    client.force_login(user)
    session = client.session
    now = timezone.now().timestamp()
    session[SESSION_AUTH_AT] = now - 3600
    session[SESSION_SEEN_AT] = now - 31 * 60
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert "_auth_user_id" not in client.session


def test_session_ends_twelve_hours_after_sign_in_even_when_active(client):
    user = make_user("clerk", role=roles.AP_CLERK)
    client.force_login(user)
    session = client.session
    now = timezone.now().timestamp()
    session[SESSION_AUTH_AT] = now - 12 * 3600 - 60
    session[SESSION_SEEN_AT] = now - 10
    session.save()
    assert client.get("/admin/").status_code == 302


def test_active_session_stays_open(client):
    user = make_user("clerk", role=roles.AP_CLERK)
    client.force_login(user)
    session = client.session
    now = timezone.now().timestamp()
    session[SESSION_AUTH_AT] = now - 3600
    session[SESSION_SEEN_AT] = now - 29 * 60
    session.save()
    assert client.get("/admin/").status_code == 200


def test_admin_pages_are_not_cached_and_carry_a_content_security_policy(client):
    login_verified(client, make_user("manager", role=roles.MANAGER))
    response = client.get("/admin/core/auditevent/")
    assert "no-store" in response["Cache-Control"]
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Request-Id"]
