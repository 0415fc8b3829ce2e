"""The users of bench/load.py, for locust (run by load.py, headless; not meant to be run alone).

Reads the plan load.py wrote (LOAD_PLAN: accounts with their TOTP keys, the payables to approve
and to pay, the vendor for PDF uploads) and the phase (LOAD_PHASE: `single`, `load` or `two_nodes`).
No Django here: each simulated person signs in through the sign-in form (password and the current
code of their authenticator) and then works through the pages as a browser would.

What counts as an error (a failure in locust's figures): any 5xx, any 4xx (none is expected: every
page and action here is one the role may use), a redirect to the sign-in page once signed in (a lost
session), a download that does not give back the PDF that was uploaded (a lost PDF).
"""

from __future__ import annotations

import hmac
import itertools
import json
import os
import random
import re
import struct
import time
from hashlib import sha1

import gevent
from locust import HttpUser, between, task
from locust.exception import StopUser

PLAN = json.loads(open(os.environ["LOAD_PLAN"]).read()) if os.environ.get("LOAD_PLAN") else {}  # noqa: SIM115
PHASE = os.environ.get("LOAD_PHASE", "load")
ACCOUNTS = PLAN.get("phases", {}).get(PHASE, {}).get("accounts", {})
POOLS = PLAN.get("phases", {}).get(PHASE, {}).get("pools", {"submitted": [], "approved": []})
NODES = PLAN.get("phases", {}).get(PHASE, {}).get("nodes", [])
LIST = "/admin/payables/payable/"
PDF = b"%PDF-1.4\nBT (Invoice LOAD-1) Tj (Total: $1,234.56) Tj ET\n%%EOF\n"
STATUSES = ("created", "submitted_for_approval", "approved", "payment_completed")
PAYMENT_ACTIONS_SENT: list[int] = []  # every payable some payer asked to pay, in order

TOTAL_USERS = sum(len(accounts) for accounts in ACCOUNTS.values())
_sign_in_failures: list[str] = []
_sign_in_retries = [0]
_to_approve = iter(POOLS.get("submitted", []))
_to_pay = iter(POOLS.get("approved", []))
_uploads = itertools.count()


def totp_code(key_hex: str, *, step: int = 30, digits: int = 6, at: float | None = None) -> str:
    """RFC 6238, as django-otp's TOTP devices check it (HMAC-SHA1, t0 = 0)."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def start_the_figures(environment) -> None:
    """The figures start now: after the single user's warm-up, or once every person of a mixed phase has
    signed in. Sign-ins refused for good, and those tried again with the next code, still count."""
    environment.stats.reset_all()
    fire = environment.events.request.fire
    for error in _sign_in_failures:
        fire(request_type="POST", name="sign in", response_time=0, response_length=0, exception=Exception(error))
    for _ in range(_sign_in_retries[0]):
        fire(
            request_type="POST",
            name="sign in: again, with the next code",
            response_time=0,
            response_length=0,
            exception=None,
        )


_started: list[str] = []


def one_more_started(environment) -> None:
    """A person has signed in (or given up): once everyone has, the figures start, and the phase ends
    `measure_seconds` later (the sign-in rush is not measured: each sign-in hashes a password, and on a
    busy machine 50 at once take tens of seconds)."""
    _started.append("x")
    if PHASE != "single" and len(_started) == TOTAL_USERS:
        start_the_figures(environment)
        gevent.spawn_later(float(PLAN.get("measure_seconds", 60)), environment.runner.quit)


def _count(role: str) -> int:
    return len(ACCOUNTS.get(role, []))


class Person(HttpUser):
    """One signed-in person of a role; the subclasses are the roles."""

    abstract = True
    role = ""
    wait_time = between(float(PLAN.get("wait_min", 1)), float(PLAN.get("wait_max", 4)))

    def on_start(self) -> None:
        self.account = ACCOUNTS[self.role].pop(0)
        self.code_counter = -1
        try:
            self.sign_in()
            self.warm_up()
        finally:
            one_more_started(self.environment)

    def warm_up(self) -> None:
        """Before the figures start: nothing (the Baseline user warms every page up)."""

    # --- helpers ---------------------------------------------------------------------------------

    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def code(self) -> str:
        """A code from the authenticator, never one this person already used (django-otp refuses a reuse)."""
        counter = int(time.time() // 30)
        if counter <= self.code_counter:
            time.sleep((self.code_counter + 1) * 30 - time.time() + 0.1)
            counter = self.code_counter + 1
        self.code_counter = counter
        return totp_code(self.account["key"], at=counter * 30 + 1)

    def sign_in(self) -> None:
        """The sign-in form with the password and the current code. A person whose code expired while the
        page was loading types the next one: up to three tries, the refused ones counted apart; a person
        who still cannot sign in is an error and stops."""
        for attempt in range(3):
            self.client.get("/admin/login/", name="sign in: page")
            with self.client.post(
                "/admin/login/?next=/admin/",
                data={
                    "csrfmiddlewaretoken": self.csrf(),
                    "username": self.account["username"],
                    "password": PLAN["password"],
                    "otp_token": self.code(),
                    "next": "/admin/",
                },
                name="sign in" if attempt == 0 else "sign in: again, with the next code",
                catch_response=True,
            ) as response:
                if response.status_code == 200 and "/admin/login/" not in response.url:
                    response.success()
                    return
                refused = f"sign-in refused for {self.account['username']} ({response.status_code})"
                if attempt < 2 and response.status_code == 200 and b"authenticator code" in response.content:
                    response.success()  # the code expired on the way: the next try says whether it holds
                    _sign_in_retries[0] += 1
                    continue
                _sign_in_failures.append(refused)
                response.failure(refused)
                raise StopUser()

    def _judge(self, response, *, expect: bytes | None = None) -> None:
        if response.status_code >= 400:
            response.failure(f"HTTP {response.status_code}")
        elif "/admin/login/" in response.url:
            response.failure("lost session: sent to the sign-in page")
        elif expect is not None and response.content != expect:
            response.failure("lost PDF: the download is not the uploaded file")
        else:
            response.success()

    def page(self, path: str, name: str, params: dict | None = None, *, base: str = "", expect: bytes | None = None):
        with self.client.get(base + path, params=params, name=name, catch_response=True) as response:
            self._judge(response, expect=expect)
            return response

    def post(self, path: str, name: str, data: dict, *, files: dict | None = None, base: str = ""):
        data = {"csrfmiddlewaretoken": self.csrf(), **data}
        with self.client.post(base + path, data=data, files=files, name=name, catch_response=True) as response:
            self._judge(response)
            return response

    def some_payable(self) -> int:
        low, high = PLAN["change_ids"]
        return random.randint(low, high)

    # --- pages every role with payables sees -------------------------------------------------------

    def list_payables(self) -> None:
        self.page(LIST, "list: payables")

    def list_by_status(self, status: str | None = None) -> None:
        self.page(LIST, "list: payables by status", {"status__exact": status or random.choice(STATUSES)})

    def list_searched(self) -> None:
        self.page(LIST, "list: payables searched", {"q": random.choice(PLAN["searches"])})

    def list_second_page(self) -> None:
        self.page(LIST, "list: payables page 2", {"p": 2})

    def change_payable(self, pk: int | None = None) -> None:
        self.page(f"{LIST}{pk or self.some_payable()}/change/", "change: payable")

    def dashboard(self) -> None:
        self.page("/admin/", "dashboard")


class Baseline(Person):
    """The single user measured first: every list and change page and the dashboard, one at a time,
    `single_rounds` times over (after as many rounds of warming up); then the phase ends."""

    role = "manager"
    fixed_count = 1
    wait_time = between(0.1, 0.3)

    def one_round(self) -> None:
        for page in (self.list_payables, self.list_by_status, self.list_searched, self.list_second_page):
            page()
        self.change_payable()
        self.change_payable()
        self.dashboard()
        self.page("/admin/payouts/payee/", "list: payees")
        self.page("/admin/core/auditevent/", "list: audit history")

    def warm_up(self) -> None:
        """Every page several times over, so that each web worker has served it before the figures start."""
        for _ in range(int(PLAN.get("warm_up_rounds", 8))):
            self.one_round()
        self.rounds = 0
        start_the_figures(self.environment)

    @task
    def measured_round(self) -> None:
        self.one_round()
        self.rounds += 1
        if self.rounds >= int(PLAN.get("single_rounds", 20)):
            self.environment.runner.quit()


class Clerk(Person):
    role = "clerk"
    fixed_count = _count("clerk")

    @task(3)
    def lists(self) -> None:
        random.choice((self.list_payables, self.list_searched, lambda: self.list_by_status("created")))()

    @task(3)
    def change(self) -> None:
        self.change_payable()

    @task(1)
    def upload_pdf(self) -> None:
        """A bill's PDF read by Dots into a new draft, then downloaded. With two nodes: uploaded through one
        node and downloaded through the other, with the same session."""
        n = next(_uploads)
        up, down = (NODES[n % 2], NODES[(n + 1) % 2]) if NODES else ("", "")
        pdf = PDF.replace(b"LOAD-1", f"LOAD-{n}-{random.randint(0, 10**9)}".encode())
        self.page(f"{LIST}from-file/", "pdf: upload page", base=up)
        response = self.post(
            f"{LIST}from-file/",
            "pdf: upload",
            {"vendor": PLAN["vendor_id"], "bank_account": PLAN["bank_account_id"]},
            files={"file": (f"bill-{n}.pdf", pdf, "application/pdf")},
            base=up,
        )
        found = re.search(r"/payable/(\d+)/change/", response.url or "")
        if response.ok and found:
            self.page(f"{LIST}{found.group(1)}/file/", "pdf: download", base=down, expect=pdf)


class Approver(Person):
    role = "approver"
    fixed_count = _count("approver")

    @task(2)
    def lists(self) -> None:
        self.list_by_status("submitted_for_approval")

    @task(2)
    def change(self) -> None:
        self.change_payable()

    @task(2)
    def approve(self) -> None:
        pk = next(_to_approve, None)
        if pk is None:
            return
        self.page(f"{LIST}{pk}/change/", "change: payable to act on")
        self.page(f"{LIST}{pk}/act/approve/", "action: approve (confirm page)")
        self.post(f"{LIST}{pk}/act/approve/", "action: approve", {"confirm": "1", "comment": "Checked."})


class Payer(Person):
    role = "payer"
    fixed_count = _count("payer")

    @task(2)
    def lists(self) -> None:
        self.list_by_status("approved")

    @task(2)
    def change(self) -> None:
        self.change_payable()

    @task(2)
    def pay(self) -> None:
        """Pay the next approved payable; one time in four, pay again one another payer just paid (two
        people pressing Pay on the same bill): Dots must see one payment."""
        again = bool(PAYMENT_ACTIONS_SENT) and random.random() < 0.25
        if again:
            pk = PAYMENT_ACTIONS_SENT[-1]
        else:
            pk = next(_to_pay, None)
            if pk is None:
                return
        PAYMENT_ACTIONS_SENT.append(pk)
        self.page(f"{LIST}{pk}/change/", "change: payable to act on")
        name = "action: pay again (a bill just paid)" if again else "action: pay"
        response = self.post(f"{LIST}{pk}/act/pay/", name, {"confirm": "1"})
        if b'name="otp_token"' in response.content and "/admin/login/" not in response.url:  # code too old
            self.post(f"{LIST}{pk}/act/pay/", "action: pay (fresh code)", {"confirm": "1", "otp_token": self.code()})


class Operator(Person):
    role = "operator"
    fixed_count = _count("operator")

    @task(3)
    def lists(self) -> None:
        self.page("/admin/payouts/payee/", "list: payees")

    @task(1)
    def links(self) -> None:
        self.page("/admin/payouts/payoutlink/", "list: payout links")

    @task(1)
    def payee_import(self) -> None:
        """A small payee file (5 rows, new phone numbers) uploaded, then its page."""
        n = next(_uploads)
        rows = ["first_name,last_name,email,phone"]
        for i in range(5):
            k = (n * 5 + i) % 8_000_000
            rows.append(f"Load{k},Payee,load{n}-{i}@example.com,201{2000000 + k:07d}")
        self.page("/admin/payouts/payeeimport/add/", "payee import: page")
        response = self.post(
            "/admin/payouts/payeeimport/add/",
            "payee import: upload",
            {},
            files={"file": (f"payees-{n}.csv", ("\n".join(rows) + "\n").encode(), "text/csv")},
        )
        found = re.search(r"/payeeimport/(\d+)/change/", response.url or "")
        if response.ok and found:
            self.page(f"/admin/payouts/payeeimport/{found.group(1)}/change/", "change: payee import")


class Manager(Person):
    role = "manager"
    fixed_count = _count("manager")

    @task(2)
    def home(self) -> None:
        self.dashboard()

    @task(3)
    def lists(self) -> None:
        random.choice((self.list_payables, self.list_by_status, self.list_searched, self.list_second_page))()

    @task(2)
    def change(self) -> None:
        self.change_payable()

    @task(1)
    def audit(self) -> None:
        self.page("/admin/core/auditevent/", "list: audit history")


class Administrator(Person):
    role = "administrator"
    fixed_count = _count("administrator")

    @task(1)
    def home(self) -> None:
        self.dashboard()

    @task(1)
    def users(self) -> None:
        self.page("/admin/auth/user/", "list: users")

    @task(1)
    def lists(self) -> None:
        self.list_payables()

    @task(1)
    def change(self) -> None:
        self.change_payable()
