"""Security actions in the admin: audited, and no way to read a secret or raise oneself (issue #16 §3, §4)."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, Permission
from django.forms import MultiWidget
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import roles
from core.models import AuditEvent
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(client):
    user = make_user("admin-ada", role=roles.ADMINISTRATOR)
    login_verified(client, user)
    return user


def _change_form_data(client, url) -> dict:
    """What the change form would post back unchanged (the editable fields only)."""
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    return data


# --- authenticators ---------------------------------------------------------------------------------


def test_no_admin_page_shows_an_authenticators_key_url_or_qr_code(client, administrator):
    clerk = make_user("clerk-cy", role=roles.AP_CLERK)
    device = TOTPDevice.objects.create(user=clerk, name="phone", confirmed=True)

    pages = [
        reverse("admin:otp_totp_totpdevice_changelist"),
        reverse("admin:otp_totp_totpdevice_change", args=[device.pk]),
    ]
    for url in pages:
        page = client.get(url).content.decode()
        assert device.key not in page and "otpauth" not in page and "qrcode" not in page.lower()
    # django-otp's own configuration and QR code pages are gone.
    for tail in ("config", "qrcode"):
        url = reverse("admin:otp_totp_totpdevice_changelist") + f"{device.pk}/{tail}/"
        assert client.get(url).status_code in (302, 404)
        assert device.key not in client.get(url, follow=True).content.decode()


def test_resetting_an_authenticator_is_audited_naming_whom(client, administrator):
    clerk = make_user("clerk-cy", role=roles.AP_CLERK)
    device = TOTPDevice.objects.create(user=clerk, name="phone", confirmed=True)

    response = client.post(
        reverse("admin:otp_totp_totpdevice_changelist"),
        {"action": "reset_selected", "_selected_action": [str(device.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    event = AuditEvent.objects.get(action="user.two_factor_reset")
    assert (event.actor, event.object_type, event.object_id) == (administrator, "auth.user", str(clerk.pk))
    assert event.changes["authenticator"] == {"before": "phone", "after": None}


# --- lockouts ---------------------------------------------------------------------------------------


def test_resetting_a_lockout_is_audited_naming_the_username_and_address(client, administrator):
    attempt = AccessAttempt.objects.create(
        username="clerk-cy", ip_address="203.0.113.7", user_agent="x", failures_since_start=5, get_data="", post_data=""
    )

    response = client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(pk=attempt.pk).exists()
    event = AuditEvent.objects.get(action="user.lockout_reset")
    assert event.actor == administrator
    assert "clerk-cy" in event.reason and "203.0.113.7" in event.reason


# --- users and roles --------------------------------------------------------------------------------


def test_giving_someone_a_role_is_audited_with_the_roles_before_and_after(client, administrator):
    clerk = make_user("clerk-cy", role=roles.AP_CLERK)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    data = _change_form_data(client, url)
    data["groups"] = [str(Group.objects.get(name=roles.APPROVER).pk)]

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(clerk.groups.values_list("name", flat=True)) == [roles.APPROVER]
    event = AuditEvent.objects.get(action="user.updated", object_id=str(clerk.pk))
    assert event.actor == administrator
    assert event.changes["groups"] == {"before": [roles.AP_CLERK], "after": [roles.APPROVER]}


def test_an_administrator_cannot_make_a_superuser_or_grant_single_permissions(client, administrator):
    clerk = make_user("clerk-cy", role=roles.AP_CLERK)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    data = _change_form_data(client, url)
    data["is_superuser"] = "on"
    data["user_permissions"] = [str(Permission.objects.get(codename="pay_payable").pk)]

    client.post(url, data)

    clerk.refresh_from_db()
    assert clerk.is_superuser is False
    assert not clerk.user_permissions.exists()


def test_nobody_changes_their_own_roles_permissions_or_superuser_flag(client, administrator):
    url = reverse("admin:auth_user_change", args=[administrator.pk])
    data = _change_form_data(client, url)
    data["groups"] = [str(g.pk) for g in Group.objects.all()]
    data["is_superuser"] = "on"

    client.post(url, data)

    administrator.refresh_from_db()
    assert list(administrator.groups.values_list("name", flat=True)) == [roles.ADMINISTRATOR]
    assert administrator.is_superuser is False


def test_a_superuser_can_make_a_superuser_and_it_is_audited(client):
    root = make_user("root", is_superuser=True)
    login_verified(client, root)
    clerk = make_user("clerk-cy", role=roles.AP_CLERK)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    data = _change_form_data(client, url)
    data["is_superuser"] = "on"

    client.post(url, data)

    clerk.refresh_from_db()
    assert clerk.is_superuser is True
    event = AuditEvent.objects.get(action="user.updated", object_id=str(clerk.pk))
    assert event.changes["is_superuser"] == {"before": False, "after": True}


def test_an_administrator_cannot_change_or_delete_a_superusers_account(client, administrator):
    root = make_user("root", is_superuser=True)
    assert client.post(reverse("admin:auth_user_change", args=[root.pk]), {"username": "x"}).status_code == 403
    assert client.post(reverse("admin:auth_user_delete", args=[root.pk]), {"post": "yes"}).status_code == 403
    root.refresh_from_db()
    assert root.username == "root"


def test_a_roles_permissions_cannot_be_widened_in_the_admin(client, administrator):
    group = Group.objects.get(name=roles.ADMINISTRATOR)
    before = set(group.permissions.values_list("pk", flat=True))
    everything = [str(pk) for pk in Permission.objects.values_list("pk", flat=True)]

    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]), {"name": group.name, "permissions": everything}
    )

    assert response.status_code == 403
    assert set(group.permissions.values_list("pk", flat=True)) == before
    assert client.post(reverse("admin:auth_group_add"), {"name": "Everything"}).status_code == 403
