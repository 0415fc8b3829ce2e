"""Lenient parsing (NOTES.md decision 11): surprising bodies must never crash a sync."""

from datetime import UTC, datetime, timedelta

import pytest

from dots.types import (
    App,
    Approver,
    DotsObject,
    Payable,
    PayoutRequest,
    Transfer,
    User,
    parse_cents,
    parse_datetime,
)


@pytest.mark.parametrize(
    "value,expected",
    [
        (1250, 1250),
        (1250.0, 1250),
        ("1250", 1250),
        (" 1250 ", 1250),
        ("1250.0", 1250),
        ("1,250", 1250),
        ("12.5", 13),  # cents with a fraction: half up, never banker's rounding
        (0, 0),
        (-300, -300),
        ("-300", -300),
        (None, None),
        ("", None),
        ("twelve", None),
        (True, None),
        (float("nan"), None),
        ({"amount": 1}, None),
    ],
)
def test_parse_cents_accepts_ints_floats_and_numeric_strings(value, expected):
    assert parse_cents(value) == expected


def test_naive_timestamp_is_read_as_utc():
    assert parse_datetime("2026-03-01T10:20:30") == datetime(2026, 3, 1, 10, 20, 30, tzinfo=UTC)


def test_zulu_and_offset_timestamps_become_utc():
    assert parse_datetime("2026-03-01T10:20:30.123Z") == datetime(2026, 3, 1, 10, 20, 30, 123000, tzinfo=UTC)
    assert parse_datetime("2026-03-01T12:20:30+02:00") == datetime(2026, 3, 1, 10, 20, 30, tzinfo=UTC)


def test_unix_seconds_and_garbage_timestamps():
    assert parse_datetime(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_datetime("last tuesday") is None
    assert parse_datetime(None) is None
    assert parse_datetime(["2026"]) is None


def test_unknown_status_is_kept_as_a_plain_string():
    transfer = Transfer.from_dict({"id": "t1", "status": "funds_pending", "type": "settled", "amount": "700"})
    assert transfer.status == "funds_pending"
    assert transfer.type == "settled"
    assert transfer.amount == 700


def test_missing_optional_fields_are_none_and_unknown_fields_kept_in_raw():
    payable = Payable.from_dict({"id": "p1", "brand_new_field": {"x": 1}})
    assert payable.status is None
    assert payable.amount is None
    assert payable.created is None
    assert payable.items == []
    assert payable.raw["brand_new_field"] == {"x": 1}


def test_payable_amount_as_float_and_naive_updated():
    payable = Payable.from_dict({"id": "p1", "amount": 99.0, "updated": "2026-01-02T03:04:05"})
    assert payable.amount == 99
    assert payable.updated is not None and payable.updated.utcoffset() == timedelta(0)


def test_body_that_is_not_an_object_does_not_crash():
    assert Payable.from_dict(None).id is None
    assert Payable.from_dict(["not", "an", "object"]).raw == {}


def test_payout_request_reads_the_hyphenated_payout_link_key():
    request = PayoutRequest.from_dict(
        {
            "id": "pr1",
            "amount": "1500",
            "status": "approved",
            "payout-link": {"id": "pl1", "amount": 1500, "status": "created"},
            "user": {"id": "u1", "wallet": {"amount": "200", "withdrawable_amount": 100.0}},
            "memo": ["thanks"],
        }
    )
    assert request.amount == 1500
    assert request.payout_link is not None and request.payout_link.id == "pl1"
    assert request.user is not None and request.user.wallet.amount == 200
    assert request.user.wallet.withdrawable_amount == 100
    assert request.memo == "thanks"


def test_payout_request_without_link_yet():
    assert PayoutRequest.from_dict({"id": "pr1", "status": "created"}).payout_link is None


def test_approver_integer_id_from_string():
    assert Approver.from_dict({"id": "17", "role": "ap_approver_plus"}).id == 17


def test_app_metrics_decimal_dollar_strings_become_cents():
    app = App.from_dict(
        {"id": "a1", "status": "approved", "metrics": {"wallet_balance": "100000.00", "money_out": "12.345"}}
    )
    assert app.wallet_balance_cents == 10_000_000
    assert app.money_out_cents == 1235
    assert App.from_dict({"id": "a2", "metrics": {"wallet_balance": "n/a"}}).wallet_balance_cents is None


def test_user_status_unknown_and_phone_object():
    user = User.from_dict({"id": "u1", "status": "suspended_for_review", "phone_number": {"country_code": "1"}})
    assert user.status == "suspended_for_review"
    assert user.phone_number == {"country_code": "1"}
    assert user.wallet is None


def test_dots_object_is_a_read_only_mapping_over_the_body():
    obj = DotsObject({"id": "x", "status": "done"})
    assert obj["status"] == "done" and obj.get("missing") is None
    assert dict(obj) == {"id": "x", "status": "done"}
    assert DotsObject("https://flow.example").raw == {"value": "https://flow.example"}
