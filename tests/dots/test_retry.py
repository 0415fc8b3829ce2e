"""The retry rules as a table, the backoff function with pinned jitter, and Retry-After."""

import pytest
import requests
from requests.adapters import BaseAdapter

from dots.client import DotsClient
from dots.errors import DotsRateLimited
from dots.retry import CONNECT, DROPPED, STATUS, TIMEOUT, RetryPolicy, backoff_delay, should_retry

# (method, has idempotency key, failure kind, status) -> retry?
DECISIONS = [
    # Never connected: nothing reached Dots, whatever the request was.
    ("GET", False, CONNECT, None, True),
    ("POST", False, CONNECT, None, True),
    ("POST", True, CONNECT, None, True),
    ("DELETE", False, CONNECT, None, True),
    # Reads are always safe to repeat.
    ("GET", False, TIMEOUT, None, True),
    ("GET", False, DROPPED, None, True),
    ("GET", False, STATUS, 503, True),
    ("GET", False, STATUS, 500, True),
    ("GET", False, STATUS, 429, True),
    ("GET", False, STATUS, 409, True),
    # Answers that are refusals, not accidents, are never repeated.
    ("GET", False, STATUS, 400, False),
    ("GET", False, STATUS, 401, False),
    ("GET", False, STATUS, 404, False),
    ("POST", True, STATUS, 400, False),
    # Keyed writes: Dots replays the first answer, so repeating is safe.
    ("POST", True, TIMEOUT, None, True),
    ("POST", True, DROPPED, None, True),
    ("POST", True, STATUS, 503, True),
    ("POST", True, STATUS, 429, True),
    ("PUT", True, STATUS, 502, True),
    # Writes without a key (pay, create vendor, delete...) are sent once, whatever happens.
    ("POST", False, TIMEOUT, None, False),
    ("POST", False, DROPPED, None, False),
    ("POST", False, STATUS, 503, False),
    ("POST", False, STATUS, 429, False),
    ("PATCH", False, STATUS, 500, False),
    ("DELETE", False, TIMEOUT, None, False),
    ("DELETE", False, STATUS, 503, False),
]


@pytest.mark.parametrize("method,has_key,kind,status,expected", DECISIONS)
def test_retry_decision_table(method, has_key, kind, status, expected):
    assert should_retry(method=method, has_idempotency_key=has_key, kind=kind, status=status) is expected


@pytest.mark.parametrize(
    "attempt,rand,expected",
    [
        (0, 0.0, 0.25),  # no jitter drawn: the full capped delay
        (1, 0.0, 0.5),
        (2, 0.0, 1.0),
        (3, 0.0, 2.0),
        (4, 0.0, 4.0),
        (5, 0.0, 4.0),  # capped at max_delay
        (10, 0.0, 4.0),
        (0, 0.5, 0.1875),  # jitter 0.5 * rand 0.5 takes a quarter off
        (4, 0.999, 4.0 * (1 - 0.5 * 0.999)),
    ],
)
def test_backoff_is_capped_exponential_with_jitter(attempt, rand, expected):
    delay = backoff_delay(attempt, base_delay=0.25, max_delay=4.0, jitter=0.5, rand=rand)
    assert delay == pytest.approx(expected)


def test_backoff_without_jitter_ignores_the_random_draw():
    assert backoff_delay(2, base_delay=0.25, max_delay=4.0, jitter=0.0, rand=0.9) == pytest.approx(1.0)


def test_policy_delay_prefers_a_longer_retry_after():
    policy = RetryPolicy(rand=lambda: 0.0)
    assert policy.delay(0) == pytest.approx(0.25)
    assert policy.delay(0, retry_after=3.0) == pytest.approx(3.0)
    assert policy.delay(3, retry_after=0.1) == pytest.approx(2.0)


class CannedAdapter(BaseAdapter):
    """Answers every request with the next canned (status, headers, body) and records it."""

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.sent = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        status, headers, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = body
        response.request = request
        response.url = request.url
        return response

    def close(self):
        pass


def canned_client(answers, *, sleeps, max_retries=3):
    adapter = CannedAdapter(answers)
    session = requests.Session()
    session.mount("http://dots.test", adapter)
    policy = RetryPolicy(max_retries=max_retries, sleep=sleeps.append, rand=lambda: 0.0)
    return DotsClient("http://dots.test/api", "cid", "key", retry=policy, session=session), adapter


RATE_LIMITED = (
    429,
    {"Retry-After": "2", "X-Request-Id": "req_1"},
    b'{"error": "slow down", "error_code": "rate-limited"}',
)
VENDOR = (200, {"Content-Type": "application/json"}, b'{"id": "v1", "name": "Acme"}')


def test_rate_limited_get_waits_for_retry_after_then_succeeds():
    sleeps = []
    client, adapter = canned_client([RATE_LIMITED, VENDOR], sleeps=sleeps)
    assert client.retrieve_vendor(vendor_id="v1").name == "Acme"
    assert sleeps == [2.0]
    assert len(adapter.sent) == 2


def test_rate_limited_until_retries_run_out_raises_with_retry_after():
    sleeps = []
    client, adapter = canned_client([RATE_LIMITED] * 3, sleeps=sleeps, max_retries=2)
    with pytest.raises(DotsRateLimited) as caught:
        client.retrieve_vendor(vendor_id="v1")
    assert caught.value.retry_after == 2.0
    assert caught.value.request_id == "req_1"
    assert caught.value.error_code == "rate-limited"
    assert len(adapter.sent) == 3


def test_retry_after_too_long_to_wait_is_raised_at_once():
    sleeps = []
    long_wait = (429, {"Retry-After": "3600"}, b'{"error": "slow down", "error_code": "rate-limited"}')
    client, adapter = canned_client([long_wait], sleeps=sleeps)
    with pytest.raises(DotsRateLimited) as caught:
        client.retrieve_vendor(vendor_id="v1")
    assert caught.value.retry_after == 3600.0
    assert sleeps == [] and len(adapter.sent) == 1


def test_rate_limited_write_without_key_is_not_retried():
    sleeps = []
    client, adapter = canned_client([RATE_LIMITED], sleeps=sleeps)
    with pytest.raises(DotsRateLimited):
        client.pay_payable(payable_id="p1", acting_user_id=1)
    assert len(adapter.sent) == 1 and sleeps == []


def test_keyed_retry_resends_the_identical_body():
    sleeps = []
    unavailable = (503, {}, b'{"error": "try later", "error_code": "service-unavailable"}')
    transfer = (200, {}, b'{"id": "t1", "amount": 500, "status": "created"}')
    client, adapter = canned_client([unavailable, unavailable, transfer], sleeps=sleeps)
    result = client.create_transfer(amount=500, user_id="u1", idempotency_key="key-1")
    assert result.id == "t1"
    bodies = [request.body for request in adapter.sent]
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert b'"idempotency_key": "key-1"' in bodies[0]
    assert sleeps == [0.25, 0.5]
