"""Steps the browser tests share."""

import os
from pathlib import Path

PASSWORD = "correct horse battery"  # tests.support.make_user's default


def sign_in(page, base_url: str, username: str, *, code: str = "", password: str = PASSWORD) -> None:
    """Sign in through the real login page (a fresh session), waiting for the admin to load."""
    page.context.clear_cookies()
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    if code:
        page.fill("#id_otp_token", code)
    with page.expect_navigation():
        page.click("input[type=submit]")


def shot(page, name: str) -> None:
    """A full-page screenshot for a person to look at, when LEDGERLINE_SHOTS names a folder."""
    folder = os.environ.get("LEDGERLINE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def choose_in_autocomplete(page, select_id: str, typed: str, label: str) -> None:
    """Pick `label` in the admin's autocomplete menu (select2) for the select #select_id: open it, type
    the start of the name, click the match (as a person does; the hidden select is not clicked)."""
    page.click(f"#{select_id} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", typed)
    page.click(f".select2-results__option:text-is('{label}')")
    page.wait_for_function(
        "([id, label]) => { const s = document.getElementById(id);"
        " return s.selectedIndex >= 0 && s.options[s.selectedIndex].text === label; }",
        arg=[select_id, label],
    )
