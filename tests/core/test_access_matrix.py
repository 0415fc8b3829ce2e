"""Every URL the resolver knows and every list action, for anonymous, no role and each role, GET and POST.

The five standard admin pages of each model are held to tests/core/test_roles.py's EXPECTED
table (GET) and to the permission each write needs (POST); every other URL is in CUSTOM below
with the permission of what it does. A URL name or list action missing from these tables fails
the suite, so a new page or action is never unguarded by omission. A refused request must write
nothing: no INSERT, UPDATE or DELETE outside the session and lockout tables.
"""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from core import roles
from tests.core.test_roles import EXPECTED, INSTANCE_FACTORIES, NO_ROLE
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db

ANONYMOUS = "(anonymous)"
PRINCIPALS = (ANONYMOUS, NO_ROLE, *roles.ALL_ROLES)
STANDARD = ("changelist", "add", "change", "delete", "history")
# Writes a refused request may make: its session and django-axes' bookkeeping, nothing else.
ALLOWED_WRITES = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+"?(django_session|axes_)', re.I)
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.I)

# Pages anyone signed in as staff may open (or that answer everyone, like sign-in).
OPEN_TO_STAFF = {
    "admin:index",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:jsi18n",
    "admin:two_factor_setup",
    "admin:autocomplete",  # answers only for fields of models the user may view
}
# Signed in or not: sign-in page, signed webhooks (refused unsigned), the load balancer's probes (no secrets:
# tests/prod/test_health.py) and Prometheus' metrics (a bearer token, never the session: tests/prod/test_metrics.py).
PUBLIC = {"admin:login", "webhooks:dots", "healthz", "readyz", "metrics"}

# Every other named URL: (the permission of what it does, how to build its arguments).
CUSTOM: dict[str, tuple[str, object]] = {
    "admin:core_auditevent_export": ("core.export_auditevent", None),
    "admin:auth_user_password_change": ("auth.change_user", "auth.user"),
    "admin:vendors_vendor_send_to_dots": ("vendors.change_vendor", "vendors.vendor"),
    "admin:vendors_vendorbankaccount_verify": ("vendors.verify_vendorbankaccount", "vendors.vendorbankaccount"),
    "admin:vendors_vendorbankaccount_in_dots": ("vendors.view_vendorbankaccount", "vendors.vendorbankaccount"),
    "admin:payables_approvalpolicy_send_to_dots": ("payables.change_approvalpolicy", "payables.approvalpolicy"),
    "admin:payables_approver_sync": ("payables.change_approver", None),
    "admin:payables_payable_act": ("payables.approve_payable", ("payables.payable", "approve")),
    "admin:payables_payable_bulk": ("payables.approve_payable", "approve"),
    "admin:payables_payable_from_file": ("payables.add_payable", None),
    "admin:payables_payable_bank_accounts": ("payables.add_payable", None),
    "admin:payables_payable_status": ("payables.view_payable", "payables.payable"),
    "admin:payables_payable_file": ("payables.view_payable", "payables.payable"),
    "admin:payables_payable_add_backup": ("payables.change_approvalpolicy", ["1", "1"]),
    "admin:payables_payable_hold": ("payables.hold_payable", "payables.payable"),
    "admin:payables_payable_release": ("payables.hold_payable", "payables.payable"),
    "admin:payables_payable_send_back": ("payables.approve_payable", "payables.payable"),
    "admin:payables_payable_approve_again": ("payables.approve_payable", "payables.payable"),
    "admin:payables_payable_override": ("payables.override_control", "payables.payable"),
    "admin:payouts_payee_verify": ("payouts.change_payee", "payouts.payee"),
    "admin:payouts_payee_edit": ("payouts.change_payee", "payouts.payee"),
    "admin:payouts_payee_remove": ("payouts.delete_payee", "payouts.payee"),
    "admin:payouts_payee_w9": ("payouts.change_payee", "payouts.payee"),
    "admin:payouts_payee_w8ben": ("payouts.change_payee", "payouts.payee"),
    "admin:payouts_payee_address": ("payouts.change_payee", "payouts.payee"),
    "admin:payouts_payee_payout_methods": ("payouts.view_payee", "payouts.payee"),  # adding: POST_NEEDS
    "admin:payouts_payeetransfer_approve": ("payouts.approve_payeetransfer", "payouts.payeetransfer"),
    "admin:payouts_payeetransfer_reject": ("payouts.approve_payeetransfer", "payouts.payeetransfer"),
    "admin:payouts_payeepayout_approve": ("payouts.approve_payeepayout", "payouts.payeepayout"),
    "admin:payouts_payeepayout_reject": ("payouts.approve_payeepayout", "payouts.payeepayout"),
    "admin:payouts_payoutbatch_approve": ("payouts.approve_payoutbatch", "payouts.payoutbatch"),
    "admin:payouts_payoutbatch_reject": ("payouts.approve_payoutbatch", "payouts.payoutbatch"),
    "admin:payouts_payeeimport_progress": ("payouts.view_payeeimport", "payouts.payeeimport"),
    "admin:payouts_payeeimport_failed_rows": ("payouts.view_payeeimport", "payouts.payeeimport"),
    "admin:payouts_payeeimport_confirm": ("payouts.change_payeeimport", "payouts.payeeimport"),
    "admin:payouts_payeeimport_discard": ("payouts.change_payeeimport", "payouts.payeeimport"),
    "admin:payouts_payeeimport_cancel": ("payouts.change_payeeimport", "payouts.payeeimport"),
    "admin:payouts_payoutrun_approve": ("payouts.approve_payoutrun", "payouts.payoutrun"),
    "admin:payouts_payoutrun_cancel": ("payouts.approve_payoutrun", "payouts.payoutrun"),
    "admin:payouts_payoutrun_retry": ("payouts.approve_payoutrun", "payouts.payoutrun"),
    "admin:payouts_transfer_sync": ("payouts.view_transfer", None),
    "admin:receivables_paymentcustomer_attach": ("receivables.change_paymentmethod", "receivables.paymentcustomer"),
    "admin:receivables_paymentintent_confirm": ("receivables.confirm_paymentintent", "receivables.paymentintent"),
    "admin:reconciliation_discrepancy_run": ("reconciliation.view_discrepancy", None),
    "admin:wallet_app_read_from_dots": ("wallet.change_app", None),
    "admin:wallet_app_ach_account": ("wallet.add_achaccount", "wallet.app"),
    "admin:wallet_app_move": ("wallet.add_wallettransfer", ("wallet.app", "deposit")),
    "admin:wallet_app_kyb": ("wallet.change_app", "wallet.app"),
    "admin:wallet_app_kyb_flow": ("wallet.change_app", "wallet.app"),
    "admin:wallet_app_settings": ("wallet.change_app", "wallet.app"),
    "admin:wallet_achaccount_verify": ("wallet.verify_achaccount", "wallet.achaccount"),
    "admin:wallet_wallettransfer_decide": ("wallet.approve_wallettransfer", "wallet.wallettransfer"),
    "admin:dashboard_chart": ("reports.view_overview", "cash_out_by_week"),
    "admin:report": ("reports.view_overview", "ap_aging"),
    "admin:report_export": ("reports.view_overview", ["tax_1099", "xlsx"]),
    # Exports of a list: whoever may view the list (the audit history: who may export it).
    "admin:payables_payable_export": ("payables.view_payable", "csv"),
    "admin:vendors_vendor_export": ("vendors.view_vendor", "csv"),
    "admin:vendors_vendorbankaccount_export": ("vendors.view_vendorbankaccount", "csv"),
    "admin:payouts_payee_export": ("payouts.view_payee", "csv"),
    "admin:payouts_payoutlink_export": ("payouts.view_payoutlink", "csv"),
    "admin:payouts_payoutrequest_export": ("payouts.view_payoutrequest", "csv"),
    "admin:payouts_payoutrun_export": ("payouts.view_payoutrun", "csv"),
    "admin:payouts_payoutrun_items_export": ("payouts.view_payoutrun", ("payouts.payoutrun", "csv")),
    "admin:payouts_transfer_export": ("payouts.view_transfer", "csv"),
    "admin:reconciliation_discrepancy_export": ("reconciliation.view_discrepancy", "csv"),
    "admin:core_auditevent_export_list": ("core.export_auditevent", "xlsx"),
    # Each staff member's own (no permission; they show and change only what is theirs): what waits for
    # them and what they were told, their email preferences, their absences; ending one's own absence
    # (someone else's needs notifications.record_absence_for_others, checked by the service: 403).
    "admin:notifications_notification_inbox": ("", None),
    "admin:notifications_notification_preferences": ("", None),
    "admin:notifications_notification_absences": ("", None),
    "admin:notifications_notification_absence_end": ("", [1]),
    "admin:app_list": ("", None),  # an app's section of the index: shows only what the user may view
    "admin:view_on_site": ("", None),  # redirects to a record's own page, which checks its own permission
}
# Pages that act on a POST only: a GET is refused (405 or 403) even for those who may post.
POST_ONLY = {
    "admin:vendors_vendor_send_to_dots",
    "admin:payables_approvalpolicy_send_to_dots",
    "admin:payables_approver_sync",
    "admin:payables_payable_bulk",
    "admin:payables_payable_add_backup",
    "admin:notifications_notification_absence_end",
    "admin:payouts_payeeimport_confirm",
    "admin:payouts_payeeimport_discard",
    "admin:payouts_payeeimport_cancel",
    "admin:payouts_payoutrun_approve",
    "admin:payouts_payoutrun_cancel",
    "admin:payouts_payoutrun_retry",
    "admin:payouts_transfer_sync",
    "admin:reconciliation_discrepancy_run",
    "admin:wallet_app_read_from_dots",
    "admin:wallet_app_kyb_flow",
}
# Permissions some custom pages need besides the one above (all must be held).
ALSO_NEEDS = {
    # Reading the transfers is not enough to make the app write them: a role that moves payout money.
    "admin:payouts_transfer_sync": ("payouts.change_payoutlink", "payouts.approve_payoutrun"),
    "admin:reconciliation_discrepancy_run": ("reconciliation.adopt_discrepancy", "payables.pay_payable"),
}

# Pages that anyone with the permission above may read, but whose POST needs another permission:
# a POST from someone who may read but not write is refused (403) and writes nothing.
POST_NEEDS = {
    "admin:payouts_payee_payout_methods": "payouts.change_payee",
}

# Each model's list actions, with the permission the action needs. Django's delete_selected is
# removed from the business lists (deletes go through services); where it remains it needs delete.
ACTIONS: dict[tuple[str, str], str] = {}


def _named_urls():
    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name

    return sorted(set(walk(get_resolver().url_patterns)))


def _standard_names():
    names = {}
    for model in admin.site._registry:
        for kind in STANDARD:
            names[f"admin:{model._meta.app_label}_{model._meta.model_name}_{kind}"] = (model, kind)
    return names


def test_every_named_url_is_in_the_matrix():
    standard = _standard_names()
    missing = [
        name
        for name in _named_urls()
        if name not in standard and name not in CUSTOM and name not in OPEN_TO_STAFF and name not in PUBLIC
    ]
    assert missing == [], f"say who may open these (tests/core/test_access_matrix.py CUSTOM): {missing}"


def _user_for(principal):
    if principal == ANONYMOUS:
        return None
    return make_user(f"matrix-{principal.replace(' ', '-').lower()}", role=None if principal == NO_ROLE else principal)


def _holds(user, perm: str, also: tuple[str, ...] = ()) -> bool:
    if user is None:
        return False
    if perm and not user.has_perm(perm):
        return False
    return not also or any(user.has_perm(p) for p in also)


def _refused(response) -> bool:
    # 405: a page that only takes a POST answers a GET with nothing (and does nothing).
    if response.status_code in (403, 405):
        return True
    return response.status_code == 302 and "/login/" in response.get("Location", "")


def _writes(queries) -> list[str]:
    return [q["sql"][:160] for q in queries if WRITE.match(q["sql"]) and not ALLOWED_WRITES.match(q["sql"])]


def _custom_url(name: str, spec, instances) -> str:
    if spec is None:
        return reverse(name)
    if isinstance(spec, list):  # the URL's arguments as they are
        return reverse(name, args=spec)
    if isinstance(spec, tuple):
        label, action = spec
        return reverse(name, args=[instances[label].pk, action])
    if spec in instances:
        return reverse(name, args=[instances[spec].pk])
    return reverse(name, args=[spec])


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_each_principal_gets_exactly_what_the_table_says_and_a_refusal_writes_nothing(client, principal, dots):
    instances = {label: factory() for label, factory in INSTANCE_FACTORIES.items()}
    user = _user_for(principal)
    if user is not None:
        login_verified(client, user)
        user = type(user).objects.get(pk=user.pk)  # fresh permission cache
    wrong = []

    def check(method, url, *, allowed, data=None):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, data or {}) if method == "POST" else client.get(url)
        if response.status_code >= 500:
            wrong.append(f"{method} {url}: {response.status_code}")
        elif allowed and _refused(response):
            wrong.append(f"{method} {url}: refused ({response.status_code}) but the table allows it")
        elif not allowed and not _refused(response):
            wrong.append(f"{method} {url}: answered {response.status_code} but the table refuses it")
        if not allowed and _writes(queries.captured_queries):
            wrong.append(f"{method} {url}: refused yet wrote {_writes(queries.captured_queries)}")

    for name, (model, kind) in _standard_names().items():
        label = model._meta.label_lower
        obj = instances[label]
        url = reverse(name) if kind in ("changelist", "add") else reverse(name, args=[obj.pk])
        may_open = kind in EXPECTED.get(label, {}).get(principal, set())
        check("GET", url, allowed=may_open)
        # A write needs the permission for it; without it the POST is refused and writes nothing.
        needed = {"add": "add", "change": "change", "delete": "delete"}.get(kind)
        if needed is not None:
            perm = f"{model._meta.app_label}.{needed}_{model._meta.model_name}"
            if not _holds(user, perm):
                check("POST", url, allowed=False, data={"post": "yes"})

    for name, (perm, spec) in CUSTOM.items():
        if name == "admin:view_on_site":
            continue  # needs a content type id; the page it redirects to is checked above
        url = _custom_url(name, spec, instances) if name != "admin:app_list" else reverse(name, args=["payables"])
        also = ALSO_NEEDS.get(name, ())
        allowed = principal != ANONYMOUS and principal != NO_ROLE and _holds(user, perm, also) if perm else True
        if principal == ANONYMOUS:
            allowed = False
        if perm and not (allowed and name in POST_ONLY):
            check("GET", url, allowed=allowed)
        if not allowed or (name in POST_NEEDS and not _holds(user, POST_NEEDS[name])):
            check("POST", url, allowed=False)

    for name in OPEN_TO_STAFF:
        if name == "admin:autocomplete":
            continue  # answers 403 without its query parameters, for everyone
        url = reverse(name)
        if principal == ANONYMOUS:
            check("GET", url, allowed=name == "admin:logout")
    assert wrong == [], f"{principal}:\n  " + "\n  ".join(wrong)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_no_list_action_runs_for_a_principal_without_its_permission(client, principal, dots):
    """Every list action of every model, posted by someone whose role may not take it: nothing is written."""
    instances = {label: factory() for label, factory in INSTANCE_FACTORIES.items()}
    user = _user_for(principal)
    if user is not None:
        login_verified(client, user)
    superuser = make_user("matrix-root", is_superuser=True)
    wrong = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        request = type("R", (), {"user": superuser, "GET": {}, "POST": {}})()
        for action_name, (func, _, _) in model_admin.get_actions(request).items():
            needed = getattr(func, "allowed_permissions", ())
            perms = [f"{model._meta.app_label}.{p}_{model._meta.model_name}" for p in needed]
            if user is not None and perms and all(_holds(user, p) for p in perms):
                continue  # the role may take it
            if user is not None and not perms:
                wrong.append(f"{label} action {action_name} declares no permission")
                continue
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            data = {"action": action_name, "_selected_action": [str(instances[label].pk)], "post": "yes"}
            with CaptureQueriesContext(connection) as queries:
                response = client.post(url, data)
            if response.status_code >= 500:
                wrong.append(f"{label} action {action_name}: {response.status_code}")
            if _writes(queries.captured_queries):
                wrong.append(f"{label} action {action_name}: wrote {_writes(queries.captured_queries)}")
    assert wrong == [], f"{principal}:\n  " + "\n  ".join(wrong)
