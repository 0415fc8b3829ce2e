"""DotsClient against the emulator over real HTTP: typed errors, retries, configuration.

Resource operations are covered in test_client_<resource>.py. Every client here
is built on the fixture's `openapi_session`, so every emulator answer is also
checked against the spec.
"""

import socket
import uuid

import pytest
import requests

from dots.client import DotsClient
from dots.errors import (
    DotsAuthError,
    DotsConnectionError,
    DotsError,
    DotsInvalidRequest,
    DotsNotFound,
    DotsRateLimited,
    DotsServerError,
)
from dots.retry import RetryPolicy


class SleepRecorder(list):
    def __call__(self, seconds):
        self.append(seconds)


def make_client(emulator, session, *, max_retries=3, sleeps=None, **kwargs):
    policy = RetryPolicy(
        max_retries=max_retries, sleep=sleeps if sleeps is not None else SleepRecorder(), rand=lambda: 0.0
    )
    return DotsClient(emulator.base_url, emulator.client_id, emulator.api_key, retry=policy, session=session, **kwargs)


@pytest.fixture
def client(emulator, openapi_session):
    return make_client(emulator, openapi_session)


def test_retrieve_app_returns_parsed_app_with_raw_body(client, emulator):
    app = client.retrieve_app(app_id=emulator.app_id)
    assert app.id == emulator.app_id
    assert app.wallet_balance_cents is not None and app.wallet_balance_cents > 0
    assert app.raw["id"] == emulator.app_id


def test_wrong_api_key_raises_auth_error(emulator, openapi_checker):
    # A session without preset auth: the fixture's session would put the right key back.
    from tests.openapi_check import checked_session

    session = checked_session(openapi_checker)
    client = DotsClient(
        emulator.base_url, emulator.client_id, "not-the-key", session=session, retry=RetryPolicy(max_retries=0)
    )
    with pytest.raises(DotsAuthError) as caught:
        client.retrieve_app(app_id=emulator.app_id)
    error = caught.value
    assert error.status == 401
    assert error.request_id
    assert error.method == "GET" and error.path == f"/v2/apps/{emulator.app_id}"
    assert "not-the-key" not in str(error)


def test_unknown_id_raises_not_found_with_request_id(client):
    with pytest.raises(DotsNotFound) as caught:
        client.retrieve_app(app_id=str(uuid.uuid4()))
    assert caught.value.status == 404
    assert caught.value.error_code == "not-found"
    assert caught.value.request_id
    assert caught.value.body["error_code"] == "not-found"


def test_server_error_after_retries_are_exhausted(emulator, openapi_session):
    sleeps = SleepRecorder()
    client = make_client(emulator, openapi_session, max_retries=2, sleeps=sleeps)
    emulator.add_fault(method="GET", path="/v2/apps/*", kind="status", status=503)
    with pytest.raises(DotsServerError) as caught:
        client.retrieve_app(app_id=emulator.app_id)
    assert caught.value.status == 503
    assert sleeps == [0.25, 0.5]
    assert len(emulator.received("GET", "/v2/apps/*")) == 3


def test_get_is_retried_after_an_injected_503(emulator, openapi_session):
    sleeps = SleepRecorder()
    client = make_client(emulator, openapi_session, sleeps=sleeps)
    emulator.add_fault(method="GET", path="/v2/apps/*", kind="status", status=503, count=1)
    assert client.retrieve_app(app_id=emulator.app_id).id == emulator.app_id
    statuses = [r["status"] for r in emulator.received("GET", "/v2/apps/*")]
    assert sorted(statuses) == [200, 503]
    assert sleeps == [0.25]


def test_rate_limited_status_raises_rate_limited(emulator, openapi_session):
    client = make_client(emulator, openapi_session, max_retries=1)
    emulator.add_fault(method="GET", path="/v2/apps/*", kind="status", status=429)
    with pytest.raises(DotsRateLimited) as caught:
        client.retrieve_app(app_id=emulator.app_id)
    assert caught.value.status == 429
    assert caught.value.retry_after is None  # the emulator sends no Retry-After
    assert len(emulator.received("GET", "/v2/apps/*")) == 2


def test_invalid_input_raises_invalid_request_with_dots_code(client):
    with pytest.raises(DotsInvalidRequest) as caught:
        client.create_app(name="")
    assert caught.value.status == 400
    assert caught.value.error_code == "invalid-input"
    assert caught.value.message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_a_connection_error_retried_then_raised():
    sleeps = SleepRecorder()
    client = DotsClient(
        f"http://127.0.0.1:{closed_port()}/api",
        "id",
        "key",
        retry=RetryPolicy(max_retries=2, sleep=sleeps, rand=lambda: 0.0),
    )
    with pytest.raises(DotsConnectionError) as caught:
        client.pay_payable(payable_id="p1", acting_user_id=1)
    assert caught.value.may_have_reached_dots is False
    assert sleeps == [0.25, 0.5]  # even pay: nothing was sent


def test_every_error_is_a_dots_error():
    for cls in (DotsAuthError, DotsNotFound, DotsInvalidRequest, DotsRateLimited, DotsServerError, DotsConnectionError):
        assert issubclass(cls, DotsError)


def test_app_id_header_is_sent_when_configured(emulator, openapi_session):
    seen = []
    openapi_session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request.headers.get("Api-App-Id")))
    client = make_client(emulator, openapi_session, app_id=emulator.app_id)
    client.retrieve_app(app_id=emulator.app_id)
    assert seen == [emulator.app_id]


def test_client_repr_hides_credentials(emulator):
    client = DotsClient(emulator.base_url, "my-client", "my-secret-key")
    assert "my-secret-key" not in repr(client) and "my-client" not in repr(client)


def test_client_does_not_change_the_session_it_is_given(emulator):
    session = requests.Session()
    client = DotsClient(emulator.base_url, emulator.client_id, emulator.api_key, session=session)
    client.retrieve_app(app_id=emulator.app_id)
    assert session.auth is None and "Authorization" not in session.headers
