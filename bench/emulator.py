"""Throughput of the Dots emulator and of DotsClient, over loopback only.

    .venv/bin/python bench/emulator.py [--seconds 3]

Starts `python -m dots.emulator` on a free port with a temporary data file, seeds
vendors, then measures requests/second for:
- GET /_emulator/ping (the ceiling of the stack: Werkzeug + requests, no store),
- a retrieve (GET one vendor), a list page of 100 vendors, a create (POST vendor),
each with 1 and 4 client threads (one plain requests.Session per thread), and
the ratio of each to ping at the same thread count; then DotsClient.retrieve_vendor
against a bare requests.Session GET of the same URL, interleaved in short slices so
a noisy neighbour on the shared machine hurts both sides alike.

Then (issue #18 §3) whether the emulator stays flat as it fills: two more emulators, one
holding --small users and as many transfers (default 1,000 each), one holding --large
(default 1,000,000 each, seeded in chunks through /_emulator/seed/users and seed/transfers),
and for each of create user, retrieve user, create transfer and retrieve transfer the
requests/second of each in alternating short slices (so machine noise hits both alike), the
slowdown small/large (median of the slice pairs) and PASS/FAIL against 1.3x. `--large 200000`
measures a smaller big store where a million takes too long to seed (the output says which).
`--only scale` or `--only throughput` runs one half.

Every loop is bounded by time; the emulators are stopped at the end.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from dots.client import DotsClient  # noqa: E402
from dots.retry import RetryPolicy  # noqa: E402

CLIENT_ID = "bench-client"
API_KEY = "bench-key"
ADDRESS = {"line_1": "1 Bench St", "city": "Austin", "state": "TX", "postcode": "78701", "country": "US"}
SEED_VENDORS = 120

# Targets: ratio to ping at the same thread count (client: ratio to bare requests).
TARGETS = {"retrieve": 0.5, "create": 0.3, "list100": 0.2}
CLIENT_TARGET = 0.9
# How much slower an operation may be against the large store than against the small one.
SCALE_TARGET = 1.3
SEED_CHUNK = 100_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(data_path: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dots.emulator",
            "--port",
            str(port),
            "--data",
            data_path,
            "--client-id",
            CLIENT_ID,
            "--api-key",
            API_KEY,
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the emulator exited with {process.returncode} while starting")
        try:
            if requests.get(root + "/_emulator/ping", timeout=1).ok:
                return process, root
        except requests.ConnectionError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("the emulator did not start within 20 s")


def stop_emulator(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def new_session() -> requests.Session:
    session = requests.Session()
    session.auth = (CLIENT_ID, API_KEY)
    return session


def run_threads(make_call, *, threads: int, seconds: float) -> float:
    """Requests/second of `make_call(session)()` looped by `threads` threads for `seconds`."""
    counts = [0] * threads
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        session = new_session()
        call = make_call(session)
        call()  # warm the connection before the clock starts
        start.wait()
        n = 0
        try:
            while time.perf_counter() < stop_at[0]:
                call()
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        counts[index] = n
        session.close()

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in workers:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds + 0.05
    began = time.perf_counter()
    start.wait()
    for thread in workers:
        thread.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"benchmark call failed: {errors[0]!r}")
    return sum(counts) / elapsed


def checked(response: requests.Response) -> None:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.url} answered {response.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement (default 3)")
    parser.add_argument("--small", type=int, default=1_000, help="users and transfers in the small store")
    parser.add_argument("--large", type=int, default=1_000_000, help="users and transfers in the large store")
    parser.add_argument("--only", choices=("throughput", "scale"), help="run one half only")
    args = parser.parse_args()
    seconds = max(0.5, min(args.seconds, 30.0))

    failures = 0
    if args.only != "scale":
        with tempfile.TemporaryDirectory(prefix="dots-bench-") as tmp:
            process, root = start_emulator(os.path.join(tmp, "emulator.sqlite3"))
            try:
                failures += run(root, seconds)
            finally:
                stop_emulator(process)
    if args.only != "throughput":
        failures += run_scale(small=args.small, large=args.large, seconds=seconds)
    print(f"\n{failures} target(s) missed" if failures else "\nall targets met")
    sys.exit(1 if failures else 0)


def run(root: str, seconds: float) -> int:
    api = root + "/api"
    vendors_url = api + "/v2/accounts-payable/vendors"
    setup = new_session()
    for i in range(SEED_VENDORS):
        checked(setup.post(vendors_url, json={"name": f"Seed vendor {i}", "address": ADDRESS}))
    vendor_id = setup.get(vendors_url, params={"limit": 1}).json()["data"][0]["id"]
    vendor_url = f"{vendors_url}/{vendor_id}"
    setup.close()

    def ping(session):
        url = root + "/_emulator/ping"
        return lambda: checked(session.get(url))

    def retrieve(session):
        return lambda: checked(session.get(vendor_url))

    def list100(session):
        return lambda: checked(session.get(vendors_url, params={"limit": 100}))

    def create(session):
        body = {"name": "Bench vendor", "address": ADDRESS}
        return lambda: checked(session.post(vendors_url, json=body))

    print(f"Dots emulator benchmark: {root}, {seconds:g} s per figure, {os.cpu_count()} CPUs, loopback only")
    results: dict[tuple[str, int], float] = {}
    # Creates run last: every list figure then pages over the same SEED_VENDORS vendors
    # (the emulator's list cost grows with the number of stored vendors).
    for name, make in (("ping", ping), ("retrieve", retrieve), ("list100", list100), ("create", create)):
        for threads in (1, 4):
            results[(name, threads)] = run_threads(make, threads=threads, seconds=seconds)

    failures = 0
    print(f"\n{'operation':<10} {'threads':>7} {'req/s':>9} {'x ping':>7} {'target':>7}  result")
    for threads in (1, 4):
        base = results[("ping", threads)]
        for name in ("ping", "retrieve", "list100", "create"):
            rate = results[(name, threads)]
            if name == "ping":
                print(f"{name:<10} {threads:>7} {rate:>9.0f} {1.0:>7.2f} {'':>7}")
                continue
            ratio = rate / base
            ok = ratio >= TARGETS[name]
            failures += not ok
            print(
                f"{name:<10} {threads:>7} {rate:>9.0f} {ratio:>7.2f} {TARGETS[name]:>7.2f}  {'PASS' if ok else 'FAIL'}"
            )

    bare_rate, client_rate, ratio = client_versus_bare(api, vendor_id, vendor_url, seconds=2 * seconds)
    ok = ratio >= CLIENT_TARGET
    failures += not ok
    print(
        f"\nretrieve, 1 thread: bare requests.Session {bare_rate:.0f} req/s, "
        f"DotsClient.retrieve_vendor {client_rate:.0f} req/s"
    )
    print(
        f"client / bare = {client_rate / bare_rate:.2f} overall, {ratio:.2f} median of 20 interleaved pairs "
        f"(target >= {CLIENT_TARGET:.2f} on the median)  {'PASS' if ok else 'FAIL'}"
    )
    return failures


def client_versus_bare(api: str, vendor_id: str, vendor_url: str, *, seconds: float) -> tuple[float, float, float]:
    """Alternate short slices of each so machine noise hits both alike.

    Returns (bare req/s, client req/s, median of the per-pair client/bare ratios);
    the median of pairs is what the target is judged on, being the least noisy.
    """
    bare = new_session()
    client = DotsClient(api, CLIENT_ID, API_KEY, retry=RetryPolicy(max_retries=0))
    bare_call = lambda: checked(bare.get(vendor_url))  # noqa: E731
    client_call = lambda: client.retrieve_vendor(vendor_id=vendor_id)  # noqa: E731
    bare_call(), client_call()
    totals = {"bare": [0, 0.0], "client": [0, 0.0]}
    pair_ratios = []
    slices = 20
    per_slice = seconds / (2 * slices)
    for i in range(slices):
        rates = {}
        order = (("bare", bare_call), ("client", client_call))
        for name, call in order if i % 2 == 0 else tuple(reversed(order)):
            n, began = 0, time.perf_counter()
            stop_at = began + per_slice
            while time.perf_counter() < stop_at:
                call()
                n += 1
            elapsed = time.perf_counter() - began
            totals[name][0] += n
            totals[name][1] += elapsed
            rates[name] = n / elapsed
        pair_ratios.append(rates["client"] / rates["bare"])
    bare.close()
    client.close()
    return (
        totals["bare"][0] / totals["bare"][1],
        totals["client"][0] / totals["client"][1],
        statistics.median(pair_ratios),
    )


# --- flat as it fills (issue #18 §3) ---------------------------------------------------------------------


class Store:
    """One emulator for the scale figures: its root, what was seeded, ids to read at random."""

    def __init__(self, name: str, root: str) -> None:
        self.name = name
        self.root = root
        self.session = new_session()
        self.user_ids: list[str] = []
        self.transfer_ids: list[str] = []
        self.users = self.transfers = 0

    def seed(self, count: int) -> float:
        """Seed `count` users and `count` transfers in chunks; returns the seconds it took."""
        began = time.perf_counter()
        for kind, ids in (("users", self.user_ids), ("transfers", self.transfer_ids)):
            left = count
            while left > 0:
                chunk = min(SEED_CHUNK, left)
                # at most 1,000 ids to read at random, spread over everything seeded
                sample = max(1, 1000 * chunk // count)
                response = self.session.post(
                    f"{self.root}/_emulator/seed/{kind}", json={"count": chunk, "sample": sample}, timeout=1800
                )
                checked(response)
                ids.extend(response.json()["sample_ids"])
                left -= chunk
                if count > SEED_CHUNK:
                    done = count - left
                    log_progress(
                        f"  {self.name}: {done:,} of {count:,} {kind} seeded ({time.perf_counter() - began:.0f} s)"
                    )
        self.users = self.transfers = count
        return time.perf_counter() - began


def log_progress(message: str) -> None:
    print(message, flush=True)


def scale_operations(store: Store):
    """(name, call) pairs for one store; each call makes one request and checks its answer."""
    api = store.root + "/api/v2"
    phones = itertools.count(1)
    prefix = "6" if store.name == "small" else "7"  # seeded users' phones start with 5
    rng = random.Random(7)

    def create_user() -> None:
        phone = f"{prefix}{next(phones):09d}"
        body = {"first_name": "Bench", "last_name": "User", "email": "bench@example.com", "country_code": "1"}
        checked(store.session.post(api + "/users", json={**body, "phone_number": phone}))
        store.users += 1

    def retrieve_user() -> None:
        checked(store.session.get(f"{api}/users/{rng.choice(store.user_ids)}"))

    def create_transfer() -> None:
        checked(store.session.post(api + "/transfers", json={"amount": 1, "user_id": rng.choice(store.user_ids)}))
        store.transfers += 1

    def retrieve_transfer() -> None:
        checked(store.session.get(f"{api}/transfers/{rng.choice(store.transfer_ids)}"))

    return [
        ("create user", create_user),
        ("retrieve user", retrieve_user),
        ("create transfer", create_transfer),
        ("retrieve transfer", retrieve_transfer),
    ]


def run_scale(*, small: int, large: int, seconds: float) -> int:
    print(
        f"\nFlat as it fills: {small:,} against {large:,} stored users and transfers (each transfer with its "
        f"transaction), 1 thread, {seconds:g} s per figure in 10 alternating slices"
    )
    if large < 1_000_000:
        print(f"NOTE: the large store holds {large:,}, not 1,000,000, of each (--large)")
    with tempfile.TemporaryDirectory(prefix="dots-bench-scale-") as tmp:
        processes = []
        try:
            stores = []
            for name, count in (("small", small), ("large", large)):
                process, root = start_emulator(os.path.join(tmp, f"{name}.sqlite3"))
                processes.append(process)
                store = Store(name, root)
                took = store.seed(count)
                print(f"seeded the {name} store ({count:,} users, {count:,} transfers) in {took:.0f} s")
                stores.append(store)
            size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp) if f.startswith("large"))
            print(f"large store on disk: {size / 1e6:,.0f} MB")
            return compare_stores(*stores, seconds=seconds)
        finally:
            for process in processes:
                stop_emulator(process)


def compare_stores(small: Store, large: Store, *, seconds: float) -> int:
    operations = {store.name: dict(scale_operations(store)) for store in (small, large)}
    for store in (small, large):  # warm: connections, page cache, the WAL checkpoint after seeding
        for call in operations[store.name].values():
            for _ in range(20):
                call()
    failures = 0
    print(f"\n{'operation':<18} {'small req/s':>11} {'large req/s':>11} {'slowdown':>9} {'target':>7}  result")
    for name in operations["small"]:
        rates: dict[str, list[float]] = {"small": [], "large": []}
        slices = 10
        per_slice = seconds / slices
        for i in range(slices):
            order = ("small", "large") if i % 2 == 0 else ("large", "small")
            for side in order:
                call = operations[side][name]
                n, began = 0, time.perf_counter()
                while time.perf_counter() - began < per_slice:
                    call()
                    n += 1
                rates[side].append(n / (time.perf_counter() - began))
        slowdown = statistics.median(s / b for s, b in zip(rates["small"], rates["large"], strict=True))
        ok = slowdown <= SCALE_TARGET
        failures += not ok
        print(
            f"{name:<18} {statistics.mean(rates['small']):>11.0f} {statistics.mean(rates['large']):>11.0f} "
            f"{slowdown:>8.2f}x {SCALE_TARGET:>6.1f}x  {'PASS' if ok else 'FAIL'}"
        )
    print(
        f"(slowdown: small req/s over large req/s, median of 10 slice pairs; by the end the small store held "
        f"{small.users:,} users and {small.transfers:,} transfers, the large {large.users:,} and {large.transfers:,})"
    )
    return failures


if __name__ == "__main__":
    main()
