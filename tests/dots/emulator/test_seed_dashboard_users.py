"""`--seed-dashboard-users FILE`: the dashboard users `make run` starts the emulator with."""

import json

import requests

from tests.fixtures_emulator import REPO_ROOT, start_emulator, stop_emulator

DEMO_FILE = REPO_ROOT / "core" / "demo" / "dots_dashboard_users.json"


def _approvers(handle) -> list[dict]:
    response = requests.get(handle.base_url + "/v2/accounts-payable/approvers", auth=handle.auth, timeout=5)
    response.raise_for_status()
    return response.json()


def test_dashboard_users_from_the_file_exist_at_start_and_after_a_reset(tmp_path):
    handle = start_emulator(tmp_path / "e.sqlite3", extra_args=("--seed-dashboard-users", str(DEMO_FILE)))
    try:
        expected = {u["email"] for u in json.loads(DEMO_FILE.read_text())}
        emails = {a["email"] for a in _approvers(handle)}
        assert {"approver@ledgerline.example", "approver2@ledgerline.example"} <= emails
        assert all(isinstance(a["id"], int) for a in _approvers(handle))
        handle.reset()
        assert {a["email"] for a in _approvers(handle)} <= expected
        assert "approver@ledgerline.example" in {a["email"] for a in _approvers(handle)}
    finally:
        stop_emulator(handle)


def test_a_restart_does_not_seed_twice(tmp_path):
    args = ("--seed-dashboard-users", str(DEMO_FILE))
    first = start_emulator(tmp_path / "e.sqlite3", extra_args=args)
    try:
        count = len(_approvers(first))
    finally:
        stop_emulator(first)
    second = start_emulator(tmp_path / "e.sqlite3", extra_args=args)
    try:
        assert len(_approvers(second)) == count
    finally:
        stop_emulator(second)


def test_a_fresh_account_has_its_owner_as_an_admin_dashboard_user_even_after_a_reset(tmp_path):
    """Like a fresh Dots account: its owner is there before anyone seeds users, and may approve payables."""
    handle = start_emulator(tmp_path / "e.sqlite3")
    try:
        for _ in range(2):
            (owner,) = _approvers(handle)
            assert owner["role"] == "admin" and isinstance(owner["id"], int)
            assert owner["email"] == "owner@dots-account.example"
            handle.reset()
    finally:
        stop_emulator(handle)
