"""Redaction: secrets and full account numbers never reach the logs."""

import io
import logging

import pytest
import requests

from dots.client import DotsClient
from dots.redact import MASK, RedactingFilter, mask_account_number, redact, redact_text
from dots.retry import RetryPolicy
from tests.dots.test_retry import CannedAdapter

ACCOUNT = "000123456789"
ROUTING = "021000021"


def test_redact_keeps_the_last_four_of_account_numbers():
    assert redact({"account_number": ACCOUNT}) == {"account_number": "••••6789"}
    assert redact({"ach_account_number": 123456789}) == {"ach_account_number": "••••6789"}
    assert mask_account_number("12") == "••••"


def test_redact_leaves_routing_numbers_readable():
    assert redact({"routing_number": ROUTING, "ach_routing_number": ROUTING}) == {
        "routing_number": ROUTING,
        "ach_routing_number": ROUTING,
    }


def test_redact_masks_secrets_by_key_at_any_depth():
    body = {
        "api_key": "k",
        "Authorization": "Basic abc",
        "w9": {"ssn": "123-45-6789", "tin": "12-3456789", "date_of_birth": "1990-01-01"},
        "items": [{"client_secret": "cs_1", "password": "p", "token": "123456"}],
        "svix-signature": "v1,abc",
    }
    assert redact(body) == {
        "api_key": MASK,
        "Authorization": MASK,
        "w9": {"ssn": MASK, "tin": MASK, "date_of_birth": MASK},
        "items": [{"client_secret": MASK, "password": MASK, "token": MASK}],
        "svix-signature": MASK,
    }


def test_redact_keeps_harmless_keys_and_flags():
    body = {"routing": "x", "tax_id_collected": True, "ssn": None, "amount": 1250, "status": "created"}
    assert redact(body) == body


def test_redact_does_not_change_its_input():
    body = {"account_number": ACCOUNT}
    redact(body)
    assert body == {"account_number": ACCOUNT}


@pytest.mark.parametrize(
    "text,secret",
    [
        ("Authorization: Basic bGVkZ2VybGluZTpkb3RzLWtleQ==", "bGVkZ2VybGluZTpkb3RzLWtleQ=="),
        ("header Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ('{"api_key": "dots-live-key-123"}', "dots-live-key-123"),
        ("api_key=dots-live-key-123&x=1", "dots-live-key-123"),
        ("secret whsec_dGVzdA==", "dGVzdA=="),
        ("paid to account 000123456789 today", "000123456789"),
        ('{"ach_account_number": "1234567"}', "1234567"),
    ],
)
def test_redact_text_masks_credentials_and_account_numbers(text, secret):
    assert secret not in redact_text(text)


def test_redact_text_keeps_uuids_and_small_numbers():
    text = "payable 6f1c2d3e-1111-2222-3333-123456789012 amount 1250 status 400"
    assert redact_text(text) == text


def make_logger(name, *, extra_secrets=()):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(extra_secrets=extra_secrets))
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream


def test_redacting_filter_masks_args_and_message():
    logger, stream = make_logger("test.redact.args")
    logger.info("calling with %s and body %s", "Basic bGVkZ2VybGluZTprZXk=", {"account_number": ACCOUNT})
    logger.info("Authorization: Bearer abcdefghijklmnop")
    output = stream.getvalue()
    assert "bGVkZ2VybGluZTprZXk=" not in output
    assert ACCOUNT not in output and "••••6789" in output
    assert "abcdefghijklmnop" not in output


def test_redacting_filter_masks_exception_text_and_extra_secrets():
    logger, stream = make_logger("test.redact.exc", extra_secrets=["my-configured-key"])
    try:
        raise ValueError(f"bad account {ACCOUNT} with key my-configured-key")
    except ValueError:
        logger.exception("failed")
    output = stream.getvalue()
    assert "Traceback" in output
    assert ACCOUNT not in output and "my-configured-key" not in output


def test_redacting_filter_survives_a_bad_format_string():
    logger, stream = make_logger("test.redact.bad")
    logger.info("%d items", "not a number")
    assert "items" in stream.getvalue()


def test_client_logs_at_debug_hold_no_credentials_or_account_numbers(caplog):
    """Without the emulator: a canned server echoes the account number back."""
    echoed = (
        b'{"id": "pm1", "name": "Ops", "ach_account_number": "'
        + ACCOUNT.encode()
        + b'", "ach_routing_number": "'
        + ROUTING.encode()
        + b'", "ach_account_type": "checking"}'
    )
    adapter = CannedAdapter([(201, {"X-Request-Id": "req_9"}, echoed)])
    session = requests.Session()
    session.mount("http://dots.test", adapter)
    client = DotsClient(
        "http://dots.test/api", "ledgerline", "super-secret-api-key", session=session, retry=RetryPolicy(max_retries=0)
    )
    with caplog.at_level(logging.DEBUG, logger="dots"):
        client.create_vendor_payment_method(
            vendor_id="v1",
            name="Ops",
            ach_account_number=ACCOUNT,
            ach_routing_number=ROUTING,
            ach_account_type="checking",
        )
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "request_id=req_9" in text  # the info line is there
    assert ACCOUNT not in text
    assert "••••6789" in text
    assert "super-secret-api-key" not in text
    assert "Basic" not in text
    # The request itself did carry the full number and the credentials.
    sent = adapter.sent[0]
    assert ACCOUNT.encode() in sent.body and sent.headers["Authorization"].startswith("Basic ")


def test_client_call_against_the_emulator_leaks_nothing_into_logs(emulator, openapi_session, caplog):
    client = DotsClient(emulator.base_url, emulator.client_id, emulator.api_key, session=openapi_session)
    with caplog.at_level(logging.DEBUG, logger="dots"):
        vendor = client.create_vendor(
            name="Acme Supplies",
            address={"line_1": "1 Main St", "city": "Austin", "state": "TX", "postcode": "78701", "country": "US"},
        )
        method = client.create_vendor_payment_method(
            vendor_id=vendor.id,
            name="Operating",
            ach_account_number=ACCOUNT,
            ach_routing_number=ROUTING,
            ach_account_type="checking",
        )
        client.retrieve_vendor_payment_method(vendor_id=vendor.id, payment_method_id=method.id)
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "POST /v2/accounts-payable/vendors" in text
    assert ACCOUNT not in text
    assert emulator.api_key not in text
    assert "Authorization" not in text
    assert method.ach_account_number.endswith("6789") and ACCOUNT not in method.ach_account_number
