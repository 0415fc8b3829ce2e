"""Every page each role can reach, opened in Chromium and read as a person would (issue #15's guard).

For each of the six demo roles (README's table): sign in through the real login page, then open
the admin index, each app's page, every list the role may view, its add page, one change page per
model (one per status where the model has one), one history page, every list action that asks for
confirmation first (its description ends in "…", or Django's delete), and every custom admin page
the resolver knows that the role may open (tests/core/test_access_matrix.py's tables, which fail
the suite when a new URL is missing, so new pages are walked without editing this file).

Each page is checked by tests/browser/page_checks.py (no 5xx or traceback, no raw cents, no
"None", no Python or JSON literal, badge and button contrast at least 4.5:1) and saved as a
full-page screenshot under test-output/screens/<role>/<page>.png for a person to look at. All
problems are collected and reported together at the end (also in test-output/screens/problems.txt).
"""

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError

from core import roles
from notifications import services as notification_services
from payables import services as payable_services
from payables.admin_acts import PAYABLE_ACTIONS
from tests.browser import page_checks
from tests.browser.helpers import sign_in
from tests.core.test_access_matrix import ALSO_NEEDS, CUSTOM, POST_ONLY, _named_urls
from tests.core.test_roles import INSTANCE_FACTORIES
from tests.support import add_totp_device, current_code, make_user
from vendors import bank_accounts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = Path(__file__).resolve().parents[2] / "test-output" / "screens"
# Pages that take an argument besides a record's id: each value to walk, with the permissions it
# needs besides the page's own (a new page of this shape fails below until it is listed here).
ARGUMENTS = {
    "admin:payables_payable_act": {name: spec.perms for name, spec in PAYABLE_ACTIONS.items()},
    "admin:wallet_app_move": {"deposit": (), "withdrawal": ()},
}
# For those, the record each value is best shown with: a payable in the state the action is for.
ARGUMENT_STATES = {
    "approve": "submitted_for_approval",
    "reject": "submitted_for_approval",
    "pay": "approved",
    "cancel": "created",
    "schedule": "approved",
    "schedule_due": "approved",
    "unschedule": "approved",
}
# Pages of one record best shown with a record in a given status (Payable.Status values), else the newest.
PAGE_STATES = {
    "admin:payables_payable_hold": "approved",
    "admin:payables_payable_send_back": "submitted_for_approval",
    "admin:payables_payable_override": "approved",
}
STAFF_PAGES = ("admin:two_factor_setup", "admin:password_change")
MAX_CHANGE_PAGES_PER_MODEL = 6
# About 2 to 3 minutes on a quiet machine; this only catches a walk that has grown out of hand.
TIME_BUDGET_SECONDS = 360


def _world(people, make_payable, vendor_account, dots):
    """Records in many states, through the services where it matters (and so audit events too)."""
    dots.settings(payable_payment={"mode": "immediate", "outcome": "payment_completed"})
    vendor, _account = vendor_account
    bank_accounts.bank_account_create(
        actor=people.clerk,
        vendor_id=vendor.pk,
        name="Acme savings (unverified)",
        routing_number="021000021",
        account_number="000987654321",
        account_type="savings",
    )
    make_payable(bill_number="INV-2001")  # draft
    submitted = make_payable(bill_number="INV-2002", items=(("Paper", 2500, 4),))
    payable_services.payable_submit(payable_id=submitted.pk, actor=people.clerk)
    approved = make_payable(bill_number="INV-2003", amount_cents=660_000)
    payable_services.payable_submit(payable_id=approved.pk, actor=people.clerk)
    payable_services.payable_approve(payable_id=approved.pk, actor=people.approver)
    rejected = make_payable(bill_number="INV-2004", amount_cents=31_000)
    payable_services.payable_submit(payable_id=rejected.pk, actor=people.clerk)
    payable_services.payable_reject(payable_id=rejected.pk, actor=people.approver, reason="Wrong vendor")
    canceled = make_payable(bill_number="INV-2005", amount_cents=42_000)
    payable_services.payable_cancel(payable_id=canceled.pk, actor=people.clerk, reason="Sent twice")
    paid = make_payable(bill_number="INV-2006", amount_cents=12_345)
    payable_services.payable_submit(payable_id=paid.pk, actor=people.clerk)
    payable_services.payable_approve(payable_id=paid.pk, actor=people.approver)
    payable_services.payable_pay(payable_id=paid.pk, actor=people.payer)
    # One row of every other model registered in the admin (the role matrix's factories), so every
    # list has a row and a change page to open; a new model brings its own factory.
    for label, factory in INSTANCE_FACTORIES.items():
        if label not in ("payables.payable", "vendors.vendor", "vendors.vendorbankaccount"):
            factory()
    # The first approver is away; the second covers (My tasks and the payable page say "for ...").
    today = timezone.localdate()
    notification_services.absence_record(
        actor=people.approver,
        user=people.approver,
        starts_on=today,
        ends_on=today + dt.timedelta(days=3),
        backup=people.approver2,
        note="Conference",
    )


def _role_users(people):
    users = {
        roles.AP_CLERK: people.clerk,
        roles.APPROVER: people.approver,
        roles.PAYER: people.payer,
        roles.PAYOUTS_OPERATOR: make_user("operator", role=roles.PAYOUTS_OPERATOR),
        roles.MANAGER: make_user("manager", role=roles.MANAGER),
        roles.ADMINISTRATOR: make_user("admin", role=roles.ADMINISTRATOR),
        roles.RECEIVABLES_CLERK: make_user("receivables", role=roles.RECEIVABLES_CLERK),
    }
    assert set(users) == set(roles.ALL_ROLES), "a role was added: give it a user here"
    return users


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def _request_for(user):
    request = RequestFactory().get("/admin/")
    request.user = type(user).objects.get(pk=user.pk)  # fresh permission cache
    return request


def _records(model_admin, request):
    """One record per status (or the newest one) of a model this role may see."""
    queryset = model_admin.get_queryset(request).order_by("-pk")
    if any(f.name == "status" for f in model_admin.model._meta.concrete_fields):
        seen, picked = set(), []
        for obj in queryset[:200]:
            if obj.status not in seen:
                seen.add(obj.status)
                picked.append(obj)
        return picked[:MAX_CHANGE_PAGES_PER_MODEL]
    first = queryset.first()
    return [first] if first is not None else []


def _pages_for(user):
    """(name, url) of every GET page this user may open; list actions come separately."""
    request = _request_for(user)
    pages = [("home", reverse("admin:index"))]
    # Pages that read the same for every role (an app's section, a record's history): once, for
    # the role that sees the most (Managers read everything), to keep the walk quick.
    reads_all = user.groups.filter(name=roles.MANAGER).exists()
    if reads_all:
        for app in admin.site.get_app_list(request):
            pages.append((f"app {app['app_label']}", reverse("admin:app_list", args=[app["app_label"]])))
    pages += [(name.split(":")[1], reverse(name)) for name in STAFF_PAGES]
    lists = []
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_or_change_permission(request):
            continue
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        label = model._meta.model_name
        pages.append((f"{label} list", reverse(f"admin:{info}_changelist")))
        lists.append((model, model_admin))
        if model_admin.has_add_permission(request):
            pages.append((f"{label} add", reverse(f"admin:{info}_add")))
        records = _records(model_admin, request)
        for obj in records:
            state = f" {obj.status}" if hasattr(obj, "status") else ""
            pages.append((f"{label} {obj.pk}{state}", reverse(f"admin:{info}_change", args=[obj.pk])))
        if records and reads_all:
            pages.append((f"{label} history", reverse(f"admin:{info}_history", args=[records[0].pk])))
    pages += _custom_pages(request.user)
    return pages, lists


def _custom_pages(user):
    """The resolver's other admin pages this user may open by GET (see test_access_matrix.CUSTOM)."""
    pages = []
    for name in _named_urls():
        if name not in CUSTOM or name in POST_ONLY or name in ("admin:app_list", "admin:view_on_site"):
            continue
        perm, spec = CUSTOM[name]
        also = ALSO_NEEDS.get(name, ())
        if (perm and not user.has_perm(perm)) or (also and not any(user.has_perm(p) for p in also)):
            continue
        short = name.split(":")[1]
        if short.endswith(("_export", "_export_list")) or short in ("dashboard_chart",):
            continue  # files and pictures, not pages: their own tests open them (tests/core/test_exports.py)
        if name == "admin:report":
            from core import registry

            for report in registry.reports():
                if user.has_perm(report.permission):
                    pages.append((f"report {report.name}", reverse(name, args=[report.name])))
            continue
        if spec is None:
            pages.append((short, reverse(name)))
        elif isinstance(spec, tuple):
            label, _ = spec
            assert name in ARGUMENTS, f"{name} takes an argument: list the values to walk in ARGUMENTS"
            for value, needs in ARGUMENTS[name].items():
                if not user.has_perms(needs):
                    continue
                obj = _record_of(label, ARGUMENT_STATES.get(value))
                if obj is not None:
                    pages.append((f"{short} {value}", reverse(name, args=[obj.pk, value])))
        else:
            obj = _record_of(spec, PAGE_STATES.get(name))
            if obj is not None:
                pages.append((short, reverse(name, args=[obj.pk])))
    return pages


def _record_of(label: str, status: str | None = None):
    from django.apps import apps

    model = apps.get_model(label)
    queryset = model._default_manager.order_by("-pk")
    if status:
        queryset = queryset.filter(status=status)
    return queryset.first()


def _confirmation_actions(model_admin, request):
    """List actions that show a page before acting: "…" in their description, or Django's delete."""
    return [
        name
        for name, (_func, _, description) in model_admin.get_actions(request).items()
        if name == "delete_selected" or str(description).rstrip().endswith(("…", "..."))
    ]


def _check(page, screenshot: Path, status: int) -> page_checks.Found:
    """Read the page as rendered, then keep a full-page screenshot of it for a person."""
    found = page_checks.collect(page, status)
    page.screenshot(path=str(screenshot), full_page=True)
    return found


def test_every_page_each_role_can_reach_reads_well(browser, live_server, people, make_payable, vendor_account, dots):
    started = time.monotonic()
    _world(people, make_payable, vendor_account, dots)
    problems: list[str] = []
    opened = 0
    SCREENS.mkdir(parents=True, exist_ok=True)

    for role, user in _role_users(people).items():
        device = add_totp_device(user)
        folder = SCREENS / _slug(role)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, live_server.url, user.username, code=current_code(device))
        assert "/login/" not in page.url, f"{role} could not sign in"
        pages, lists = _pages_for(user)

        for name, url in pages:
            try:
                response = page.goto(live_server.url + url)
            except PlaywrightError as exc:
                if "Download is starting" in str(exc):
                    continue  # a file (CSV export, failed rows): nothing to read on screen
                raise
            if response and "text/html" not in response.headers.get("content-type", ""):
                continue  # data for a page's script (an import's progress as JSON), not a page
            found = _check(page, folder / f"{_slug(name)}.png", response.status if response else 0)
            opened += 1
            problems += [f"{role} | {name} | {url} | {p}" for p in page_checks.problems(found)]
            if response and response.status == 403:
                problems.append(f"{role} | {name} | {url} | refused (403) though the role may open it")
            if name.endswith(" list") and not any(t["rows"] for t in found.tables):
                problems.append(f"{role} | {name} | {url} | the list is empty: the walk's data misses a row")

        request = _request_for(user)
        for model, model_admin in lists:
            actions = _confirmation_actions(model_admin, request)
            if not actions:
                continue
            info = f"{model._meta.app_label}_{model._meta.model_name}"
            for action in actions:
                page.goto(live_server.url + reverse(f"admin:{info}_changelist"))
                if page.locator("input.action-select").count() == 0:
                    continue
                page.locator("input.action-select").first.check()
                page.select_option("select[name=action]", action)
                with page.expect_navigation() as navigation:
                    page.click("button[name=index]")
                response = navigation.value
                name = f"{model._meta.model_name} action {action}"
                found = _check(page, folder / f"{_slug(name)}.png", response.status if response else 0)
                opened += 1
                problems += [
                    f"{role} | {name} | {page.url.removeprefix(live_server.url)} | {p}"
                    for p in page_checks.problems(found)
                ]
        context.close()

    elapsed = time.monotonic() - started
    report = "\n".join(problems)
    (SCREENS / "problems.txt").write_text(f"{opened} pages in {elapsed:.0f} s\n{report}\n")
    assert problems == [], (
        f"{len(problems)} problems on {opened} pages ({elapsed:.0f} s; screenshots in {SCREENS}):\n{report}"
    )
    assert elapsed < TIME_BUDGET_SECONDS, f"the walk took {elapsed:.0f} s for {opened} pages"
