"""Issue #15 item 12: the audit history fits a 1366 px wide screen, Reason and IP included."""

from pathlib import Path

import pytest

from core import audit, request_context, roles
from tests.browser.helpers import sign_in
from tests.support import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots-ui-audit")


def test_the_audit_history_fits_1366_px_without_sideways_scroll(browser, live_server):
    manager = make_user("morgan", role=roles.MANAGER)
    long_reason = "The vendor called to say the bank details on the March invoice were wrong; " * 3
    with request_context.bound(ip_address="2001:db8:85a3::8a2e:370:7334", request_id="r-1"):
        for n in range(5):
            audit.record(
                actor=manager,
                action="record.updated",
                object_type="auth.user",
                object_id=str(n),
                object_repr=f"A rather long object name number {n} for a wide column",
                changes={
                    "first_name": {"before": "Alexandra-Katharina " * 2, "after": "Alexandra " * 3},
                    "email": {"before": "someone.with.a.long.address@example.com", "after": "short@example.com"},
                },
                reason=long_reason,
            )
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, "morgan")
    page.goto(f"{live_server.url}/admin/core/auditevent/")
    page.wait_for_selector("#result_list tbody tr")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "audit-history-1366.png"), full_page=True)
    sizes = page.evaluate(
        """() => ({
            scroll: document.scrollingElement.scrollWidth,
            client: document.scrollingElement.clientWidth,
            table: document.querySelector('#result_list').getBoundingClientRect().right,
            container: document.querySelector('#changelist .results').getBoundingClientRect().right,
            ip: document.querySelector('#result_list td.field-ip_address').getBoundingClientRect().right,
            reason: document.querySelector('#result_list td.field-reason_short').getBoundingClientRect().right,
        })"""
    )
    assert sizes["scroll"] <= sizes["client"], sizes
    assert sizes["table"] <= sizes["container"] + 1, sizes
    assert sizes["ip"] <= sizes["client"] and sizes["reason"] <= sizes["client"], sizes
    # The action filter is one select, so the page is not thousands of pixels tall.
    assert page.evaluate("document.scrollingElement.scrollHeight") < 2500
    context.close()
