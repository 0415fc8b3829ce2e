"""The home page's security panel: a role change on another account is shown to those who read the audit trail."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from core import registry, roles
from tests.support import login_verified, make_user

from .test_security_admin import _change_form_data

pytestmark = pytest.mark.django_db


def home(client) -> str:
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.content.decode()


def test_a_role_change_on_another_account_is_shown_on_the_managers_home_page(client):
    administrator = make_user("admin-ada", role=roles.ADMINISTRATOR)
    login_verified(client, administrator)
    clerk = make_user("clerk-cy", role=roles.AP_CLERK)
    url = reverse("admin:auth_user_change", args=[clerk.pk])
    data = _change_form_data(client, url)
    data["groups"] = [str(Group.objects.get(name=roles.APPROVER).pk)]
    assert client.post(url, data).status_code == 302

    manager = Client()
    login_verified(manager, make_user("manager-mo", role=roles.MANAGER))
    page = home(manager)
    assert 'id="panel-security_changes"' in page and "Security changes in the last 30 days" in page
    assert "Access changed" in page and "clerk-cy" in page and "admin-ada" in page
    assert f"roles: {roles.AP_CLERK} → {roles.APPROVER}" in page
    assert "1 change of what someone may do" in page


def test_the_panel_says_so_when_nothing_changed_and_is_hidden_from_roles_without_the_audit_trail(client):
    login_verified(client, make_user("manager-mo", role=roles.MANAGER))
    assert "No one's access, authenticator, lockout or background task changed" in home(client)
    for role in (roles.AP_CLERK, roles.APPROVER, roles.PAYER, roles.PAYOUTS_OPERATOR):
        other = Client()
        login_verified(other, make_user(f"someone-{role}", role=role))
        assert 'id="panel-security_changes"' not in home(other), role


def test_every_declared_panel_names_a_permission_a_role_has():
    tables = registry.discover().role_permissions.values()
    granted = {perm for table in tables for perms in table.values() for perm in perms}
    for panel in registry.dashboard_panels():
        assert panel.permission in granted, panel.name
