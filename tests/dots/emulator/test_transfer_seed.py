"""POST /_emulator/seed/transfers (bulk seed for benchmarks and paging tests) and the `after` fault option."""

import time

import requests


def seed(emulator, **body):
    return requests.post(f"{emulator.root}/_emulator/seed/transfers", json=body, timeout=60)


def walk(openapi_session) -> list[dict]:
    """Every transfer, newest first, 100 a page."""
    out, cursor = [], None
    while True:
        params = {"limit": 100, **({"starting_after": cursor} if cursor else {})}
        page = openapi_session.get("/v2/transfers", params=params).json()
        out += page["data"]
        if not page["has_more"]:
            return out
        cursor = page["data"][-1]["id"]


def test_seeded_transfers_are_listed_newest_first_with_the_dealt_statuses(emulator, openapi_session):
    answer = seed(
        emulator,
        count=250,
        statuses={"completed": 3, "pending": 1, "failed": 1},
        failure_reason="R01 insufficient funds",
        amount=1234,
    )
    assert answer.status_code == 201
    assert answer.json()["by_status"] == {"completed": 150, "pending": 50, "failed": 50}

    listed = walk(openapi_session)  # every page is checked against the OpenAPI document

    assert len(listed) == 250 and len({t["id"] for t in listed}) == 250
    assert listed[0]["id"] == answer.json()["newest_id"] and listed[-1]["id"] == answer.json()["oldest_id"]
    assert [t["created"] for t in listed] == sorted((t["created"] for t in listed), reverse=True)
    failed = [t for t in listed if t["status"] == "failed"]
    assert failed and all(t["failure_reason"] == "R01 insufficient funds" for t in failed)
    assert all(t["amount"] == 1234 and len(t["transactions"]) == 1 for t in listed)


def test_a_seeded_transfer_reads_and_advances_like_any_other(emulator, openapi_session):
    newest = seed(emulator, count=3, statuses={"pending": 1}).json()["newest_id"]
    emulator.control(f"transfers/{newest}/advance", {"status": "failed", "reason": "R02"})
    fetched = openapi_session.get(f"/v2/transfers/{newest}").json()
    assert (fetched["status"], fetched["failure_reason"]) == ("failed", "R02")
    transaction_id = fetched["transactions"][0]["id"]
    assert openapi_session.get(f"/v2/transactions/{transaction_id}").json()["transfer_id"] == newest


def test_seed_after_regular_transfers_keeps_transaction_ids_unique(emulator, openapi_session):
    made = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": 100}).json()
    seed(emulator, count=5)
    later = openapi_session.post(f"/v2/apps/{emulator.app_id}/withdraw", json={"amount": 100}).json()
    ids = [t["transactions"][0]["id"] for t in walk(openapi_session)]
    assert len(set(ids)) == 7 and made["transactions"][0]["id"] in ids and later["transactions"][0]["id"] in ids


def test_seed_refuses_an_unknown_status_and_a_zero_count(emulator):
    assert seed(emulator, count=5, statuses={"lost": 1}).json()["error_code"] == "invalid-input"
    assert seed(emulator, count=0).status_code == 400


def test_seeding_100k_takes_seconds_and_a_page_100k_deep_costs_what_the_first_does(emulator):
    # The oldest 150 first: the newest of them is a cursor with 100,000 transfers in front of it.
    deep_cursor = seed(emulator, count=150).json()["newest_id"]
    started = time.perf_counter()
    assert seed(emulator, count=100_000).status_code == 201
    assert time.perf_counter() - started < 30  # measured about 5 s here; generous for a shared machine

    first, deep = timed_page(emulator, None), timed_page(emulator, deep_cursor)

    # Keyset paging on the (kind, app_id, seq) index: no scan from the top of the list.
    assert deep < max(first * 3, 0.05), (first, deep)


def timed_page(emulator, cursor) -> float:
    params = {"limit": 100, **({"starting_after": cursor} if cursor else {})}
    times = []
    for _ in range(5):
        started = time.perf_counter()
        requests.get(f"{emulator.base_url}/v2/transfers", params=params, auth=emulator.auth).raise_for_status()
        times.append(time.perf_counter() - started)
    return sorted(times)[2]


def test_a_fault_with_after_lets_the_first_matches_through(emulator, openapi_session):
    emulator.add_fault(method="GET", path="/v2/transfers", kind="status", status=503, after=2, count=1)
    statuses = [openapi_session.get("/v2/transfers").status_code for _ in range(4)]
    assert statuses == [200, 200, 503, 200]
    [fault] = emulator.control_get("faults")["data"]
    assert (fault["after"], fault["fired"], fault["remaining"]) == (2, 1, 0)
