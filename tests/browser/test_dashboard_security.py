"""The manager's home page shows a role change an Administrator made, in words, highlighted."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from core import audit, roles
from tests.support import make_user

from .helpers import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "test-output/screens"))


def test_manager_sees_the_role_change_on_the_home_page(page, live_server):
    administrator = make_user("ada", role=roles.ADMINISTRATOR)
    clerk = make_user("cy", role=roles.AP_CLERK)
    clerk.groups.set([Group.objects.get(name=roles.APPROVER)])
    audit.record(
        actor=administrator,
        action="user.updated",
        target=clerk,
        changes={"groups": {"before": [roles.AP_CLERK], "after": [roles.APPROVER]}},
    )
    manager = make_user("mo", role=roles.MANAGER)
    sign_in(page, live_server.url, manager.username)
    panel = page.locator("#panel-security_changes")
    panel.wait_for()
    row = panel.locator("tr.access-change")
    assert row.count() == 1
    text = row.inner_text()
    assert "ada" in text and "cy" in text and f"roles: {roles.AP_CLERK} → {roles.APPROVER}" in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "manager-home-security-panel.png"), full_page=True)
