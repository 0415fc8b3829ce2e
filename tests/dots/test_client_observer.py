"""The client's optional observer: told of each attempt (method, path, status, time, request id), never breaking it."""

import pytest

from dots.client import CallRecord, DotsClient
from dots.errors import DotsNotFound
from dots.retry import RetryPolicy


def _client(emulator, observer) -> DotsClient:
    return DotsClient(
        emulator.base_url, emulator.client_id, emulator.api_key, retry=RetryPolicy(max_retries=0), observer=observer
    )


def test_the_observer_sees_each_answered_and_refused_call(emulator):
    seen: list[CallRecord] = []
    with _client(emulator, seen.append) as client:
        client.list_apps(limit=1)
        with pytest.raises(DotsNotFound):
            client.retrieve_payable(payable_id="7d4e2a90-0000-4000-8000-000000000123")
    assert [(r.method, r.status, r.failure) for r in seen] == [("GET", 200, None), ("GET", 404, None)]
    assert seen[0].path == "/v2/apps"
    assert seen[0].request_id and seen[0].seconds > 0


def test_the_observer_sees_a_call_that_got_no_answer():
    seen: list[CallRecord] = []
    client = DotsClient("http://127.0.0.1:1/api", "id", "key", retry=RetryPolicy(max_retries=0), observer=seen.append)
    with pytest.raises(Exception):  # noqa: B017,PT011 - the class is the client's business, tested elsewhere
        client.list_apps(limit=1)
    assert [(r.status, r.failure) for r in seen] == [(None, "connect")]


def test_an_observer_that_fails_never_fails_the_call(emulator):
    def broken(record: CallRecord) -> None:
        raise RuntimeError("observer bug")

    with _client(emulator, broken) as client:
        assert client.list_apps(limit=1) is not None
