"""Pytest fixtures: one Dots emulator per test run, reset before each test.

- `emulator_server` (session): starts `python -m dots.emulator` on a free port with a
  temporary data file and yields an EmulatorHandle; stops it at the end.
- `emulator` (function): resets the emulator (default app, funded wallet), returns the
  handle, and fails the test at teardown if any response broke the OpenAPI documents.
- `openapi_session` (function): a requests.Session authenticated for the emulator whose
  every /api response is checked against the spec (tests/openapi_check.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.openapi_check import OpenApiChecker, checked_session

REPO_ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "ledgerline-test"
API_KEY = "dots-emulator-test-key"
WEBHOOK_SECRET = "whsec_dGVzdC13ZWJob29rLXNlY3JldC1mb3ItZW11bGF0b3I="  # base64 of a fixed test value
START_TIMEOUT_SECONDS = 20


class EmulatorError(AssertionError):
    """A control call failed: the test setup is wrong, not the code under test."""


class EmulatorHandle:
    def __init__(self, *, root: str, client_id: str, api_key: str, webhook_secret: str, process=None) -> None:
        self.root = root
        self.base_url = root + "/api"
        self.client_id = client_id
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.process = process
        self._http = requests.Session()
        self.app_id: str | None = None

    @property
    def auth(self) -> tuple[str, str]:
        return (self.client_id, self.api_key)

    def control(self, path: str, json: dict | None = None) -> dict:
        """POST /_emulator/<path>; raises EmulatorError on a non-2xx answer."""
        response = self._http.post(f"{self.root}/_emulator/{path.lstrip('/')}", json=json if json is not None else {})
        if not response.ok:
            raise EmulatorError(f"emulator control {path} answered {response.status_code}: {response.text}")
        return response.json()

    def control_get(self, path: str, params: dict | None = None) -> dict:
        response = self._http.get(f"{self.root}/_emulator/{path.lstrip('/')}", params=params)
        if not response.ok:
            raise EmulatorError(f"emulator control GET {path} answered {response.status_code}: {response.text}")
        return response.json()

    def reset(self) -> dict:
        result = self.control("reset")
        self.app_id = result["app_id"]
        return result

    def received(self, method: str | None = None, path_glob: str | None = None) -> list[dict]:
        """Requests the emulator received under /api, newest first (bodies with account numbers masked)."""
        params = {"limit": 2000}
        if method:
            params["method"] = method
        if path_glob:
            params["path"] = path_glob
        return self.control_get("requests", params)["data"]

    def seed_approvers(self, approvers: list[dict] | None = None) -> list[dict]:
        """Seed dashboard users (integer ids). Default, in this order: an admin, three ap_approvers,
        an ap_creator and a payer."""
        return self.control("seed/approvers", {"approvers": approvers} if approvers is not None else {})["data"]

    def add_fault(self, **fault) -> dict:
        return self.control("faults", fault)

    def settings(self, **changes) -> dict:
        return self.control("settings", changes)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(data_path: Path, *, extra_args: tuple[str, ...] = ()) -> EmulatorHandle:
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dots.emulator",
            "--port",
            str(port),
            "--data",
            str(data_path),
            "--client-id",
            CLIENT_ID,
            "--api-key",
            API_KEY,
            "--webhook-secret",
            WEBHOOK_SECRET,
            *extra_args,
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None,
    )
    handle = EmulatorHandle(
        root=f"http://127.0.0.1:{port}",
        client_id=CLIENT_ID,
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        process=process,
    )
    wait_until_up(handle)
    return handle


def wait_until_up(handle: EmulatorHandle) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if handle.process is not None and handle.process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {handle.process.returncode} while starting")
        try:
            if requests.get(handle.root + "/_emulator/ping", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the emulator did not answer {handle.root}/_emulator/ping within {START_TIMEOUT_SECONDS}s")


def stop_emulator(handle: EmulatorHandle) -> None:
    if handle.process is None:
        return
    handle.process.terminate()
    try:
        handle.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        handle.process.kill()
        handle.process.wait()


@pytest.fixture(scope="session")
def openapi_checker() -> OpenApiChecker:
    return OpenApiChecker()


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory):
    data_path = tmp_path_factory.mktemp("dots-emulator") / "emulator.sqlite3"
    handle = start_emulator(data_path)
    handle.data_path = data_path
    try:
        yield handle
    finally:
        stop_emulator(handle)


@pytest.fixture
def emulator(emulator_server, openapi_checker):
    emulator_server.reset()
    openapi_checker.take()
    yield emulator_server
    violations = openapi_checker.take()
    if violations:
        pytest.fail("emulator responses broke the OpenAPI documents:\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def openapi_session(emulator, openapi_checker):
    """A session for the emulator's /api (Basic auth set) whose responses are schema-checked.

    Paths starting with "/" are relative to the API root: `openapi_session.get("/v2/apps")`.
    """
    session = checked_session(openapi_checker, auth=emulator.auth, base_url=emulator.base_url)
    yield session
    session.close()
