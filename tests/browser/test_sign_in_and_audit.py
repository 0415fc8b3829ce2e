"""A payer signs in with a TOTP code through the real login page; a manager reads the audit history."""

import pytest

from core import roles
from tests.browser.helpers import sign_in
from tests.support import add_totp_device, current_code, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_payer_signs_in_with_totp_and_the_manager_sees_it_in_the_audit_history(page, live_server):
    payer = make_user("pat", role=roles.PAYER, first_name="Pat", last_name="Payer")
    device = add_totp_device(payer)
    manager = make_user("morgan", role=roles.MANAGER)

    # Without the code the payer is not let in.
    sign_in(page, live_server.url, "pat")
    assert page.locator(".errornote").inner_text().startswith("Enter the six-digit code")

    sign_in(page, live_server.url, "pat", code=current_code(device))
    page.wait_for_selector("#user-tools")
    assert "welcome, pat" in page.inner_text("#user-tools").lower()
    assert "/admin/two-factor/" not in page.url
    page.click("#logout-form button")

    sign_in(page, live_server.url, manager.username)
    page.wait_for_selector("#user-tools")
    page.goto(f"{live_server.url}/admin/core/auditevent/")
    # The action filter is one select grouped by area; "Show" applies it.
    page.select_option("#filter-action", label="Signed in")
    with page.expect_navigation():
        page.click(".grouped-select-filter input[type=submit]")
    page.wait_for_url("**action=user.logged_in**")
    page.wait_for_selector("#result_list tbody tr")
    rows = page.locator("#result_list tbody tr")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("pat (Pat Payer)" in text for text in texts), texts
    assert any("morgan" in text for text in texts), texts
    # The date range filter and the export link are there for the manager.
    assert page.locator("#occurred_from").is_visible()
    assert page.get_by_role("link", name="Export CSV").is_visible()
    assert page.csp_violations == []
