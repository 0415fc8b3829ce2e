"""The one status-to-error mapping, and errors that survive a task queue's pickling."""

import pickle

import pytest

from dots.errors import (
    DotsAuthError,
    DotsConflict,
    DotsConnectionError,
    DotsInsufficientFunds,
    DotsInvalidRequest,
    DotsNotFound,
    DotsOutcomeUnknown,
    DotsRateLimited,
    DotsServerError,
    error_for_status,
)


@pytest.mark.parametrize(
    "status,code,expected",
    [
        (400, "invalid-input", DotsInvalidRequest),
        (400, "transaction-insufficient-funds", DotsInsufficientFunds),
        (422, None, DotsInvalidRequest),
        (405, "method-not-allowed", DotsInvalidRequest),
        (401, None, DotsAuthError),
        (403, None, DotsAuthError),
        (404, "not-found", DotsNotFound),
        (409, "resource-busy", DotsConflict),
        (429, None, DotsRateLimited),
        (500, "internal-error", DotsServerError),
        (503, None, DotsServerError),
        (302, None, DotsServerError),  # anything unexpected is the server's doing
    ],
)
def test_error_for_status(status, code, expected):
    assert error_for_status(status, code) is expected


def test_connection_error_never_reached_dots_but_outcome_unknown_may_have():
    assert DotsConnectionError("refused").may_have_reached_dots is False
    assert DotsOutcomeUnknown("timeout").may_have_reached_dots is True


def test_errors_survive_pickling_with_their_details():
    error = DotsRateLimited(
        "slow down",
        retry_after=2.0,
        status=429,
        error_code="rate-limited",
        request_id="req_1",
        method="GET",
        path="/v2/transfers",
        body={"error": "slow down"},
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DotsRateLimited
    assert (copy.retry_after, copy.status, copy.request_id, copy.path) == (2.0, 429, "req_1", "/v2/transfers")
    assert str(copy) == str(error)
