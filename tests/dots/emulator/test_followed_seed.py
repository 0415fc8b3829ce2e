"""POST /_emulator/seed/payables, /seed/payout-links and /seed/payout-requests (bench/sync_scale.py):
each seeded object reads back through the API as the spec describes it."""

import pytest
import requests

CASES = [
    ("payables", {"status": "approved", "amount": 1234}, "/v2/accounts-payable/payables/{}"),
    ("payout-links", {"status": "created", "amount": 1234}, "/v2/payout-links/{}"),
    ("payout-requests", {"amount": 1234}, "/v2/payout-requests/{}"),
]


@pytest.mark.parametrize(("kind", "body", "path"), CASES)
def test_seeded_objects_read_back_one_by_one(emulator, openapi_session, kind, body, path):
    answer = requests.post(f"{emulator.root}/_emulator/seed/{kind}", json={"count": 3, **body}, timeout=60)
    assert answer.status_code == 201
    ids = answer.json()["ids"]
    assert len(set(ids)) == 3

    for dots_id in ids:
        read = openapi_session.get(path.format(dots_id))  # checked against the OpenAPI document
        assert read.status_code == 200
        assert (read.json()["id"], read.json()["amount"]) == (dots_id, 1234)


def test_a_seed_count_out_of_range_is_refused(emulator):
    answer = requests.post(f"{emulator.root}/_emulator/seed/payables", json={"count": 0}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error_code"] == "invalid-input"
