"""Every admin URL of every registered model, for a user of each role.

A model registered in the admin but missing from EXPECTED (or from INSTANCE_FACTORIES)
fails this suite: whoever adds a model decides who may see and change it. Business
apps keep their own tables in `tests/<app>/admin_access.py` (EXPECTED and
INSTANCE_FACTORIES, same shapes as below); this module merges them in.
"""

import datetime as dt
import re
import uuid
from importlib import import_module

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_q.models import OrmQ, Schedule, Task

from core import audit, registry, roles
from core.models import Holiday, QueuedDotsAction
from tests.support import login_verified, make_user
from vendors import seam as vendors_seam

pytestmark = pytest.mark.django_db

KINDS = ("changelist", "add", "change", "delete", "history")
VIEW = {"changelist", "change", "history"}
ALL = set(KINDS)
NO_ROLE = "(no role)"

# model -> role -> the admin pages that role may open. Roles not listed: none.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "auth.user": {roles.ADMINISTRATOR: VIEW | {"add"}, roles.MANAGER: VIEW},
    "auth.group": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "core.auditevent": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "otp_totp.totpdevice": {roles.ADMINISTRATOR: VIEW | {"delete"}},
    "axes.accessattempt": {roles.ADMINISTRATOR: VIEW | {"delete"}, roles.MANAGER: VIEW},
    "axes.accesslog": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "axes.accessfailurelog": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    # Schedules come from the apps: no one adds or deletes one in the admin (core.admin_tasks).
    "django_q.schedule": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "django_q.success": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "django_q.failure": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "django_q.ormq": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    "core.queueddotsaction": {roles.ADMINISTRATOR: VIEW, roles.MANAGER: VIEW},
    # Business days skip holidays: everyone sees the list, Administrators keep it.
    "core.holiday": {
        **dict.fromkeys(roles.ALL_ROLES, VIEW),
        roles.ADMINISTRATOR: ALL,
    },
}


def _task(success: bool):
    now = timezone.now()
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"task-{success}",
        func="math.floor",
        started=now,
        stopped=now + dt.timedelta(seconds=1),
        success=success,
        attempt_count=1,
    )


INSTANCE_FACTORIES = {
    "auth.user": lambda: make_user("someone-else"),
    "auth.group": lambda: Group.objects.create(name="Temporary group"),
    "core.auditevent": lambda: audit.record(
        actor=None, action="record.created", object_type="tests.thing", object_id="1", object_repr="thing"
    ),
    "otp_totp.totpdevice": lambda: TOTPDevice.objects.create(user=make_user("device-owner"), name="phone"),
    "axes.accessattempt": lambda: AccessAttempt.objects.create(
        username="mallory",
        ip_address="10.0.0.9",
        user_agent="test",
        http_accept="*/*",
        path_info="/admin/login/",
        failures_since_start=3,
        get_data="",
        post_data="",
    ),
    "axes.accesslog": lambda: AccessLog.objects.create(
        username="mallory", ip_address="10.0.0.9", user_agent="test", http_accept="*/*", path_info="/admin/login/"
    ),
    "axes.accessfailurelog": lambda: AccessFailureLog.objects.create(
        username="mallory", ip_address="10.0.0.9", user_agent="test", http_accept="*/*", path_info="/admin/login/"
    ),
    "django_q.schedule": lambda: Schedule.objects.create(func="math.floor", args="1", name="nightly"),
    "django_q.success": lambda: _task(True),
    "django_q.failure": lambda: _task(False),
    "django_q.ormq": lambda: OrmQ.objects.create(key="ledgerline", payload="x", lock=timezone.now()),
    "core.holiday": lambda: Holiday.objects.create(date=dt.date(2026, 12, 25), name="Christmas Day"),
    "core.queueddotsaction": lambda: QueuedDotsAction.objects.create(
        kind=vendors_seam.VENDOR_SEND,
        target_type="vendors.vendor",
        target_id="1",
        target_repr="Acme",
        actor=make_user("queue-asker"),
        dedupe_key="vendor.send_to_dots:vendors.vendor:1",
        next_attempt_at=timezone.now(),
    ),
}


APP_ACCESS_MODULES = (
    "tests.vendors.admin_access",
    "tests.payables.admin_access",
    "tests.payouts.admin_access",
    "tests.receivables.admin_access",
    "tests.reconciliation.admin_access",
    "tests.wallet.admin_access",
    "tests.notifications.admin_access",
)
for _module_name in APP_ACCESS_MODULES:
    try:
        _module = import_module(_module_name)
    except ModuleNotFoundError as exc:
        if exc.name != _module_name:
            raise
        continue
    EXPECTED.update(_module.EXPECTED)
    INSTANCE_FACTORIES.update(_module.INSTANCE_FACTORIES)


def _url(model, kind: str, obj) -> str:
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{kind}"
    if kind in ("changelist", "add"):
        return reverse(name)
    return reverse(name, args=[obj.pk])


def _registered_labels():
    return sorted(model._meta.label_lower for model in admin.site._registry)


def test_every_registered_model_has_an_expectation_and_a_factory():
    missing = [label for label in _registered_labels() if label not in EXPECTED or label not in INSTANCE_FACTORIES]
    assert missing == [], f"Add these models to EXPECTED and INSTANCE_FACTORIES in {__name__}: {missing}"


def test_every_permission_named_in_the_role_table_exists(monkeypatch):
    # The lookup refuses a misspelt name, and says which one (an unknown app label too).
    with pytest.raises(LookupError, match=r"core\.view_auditevnet") as refused:
        roles.permissions_named(["core.view_auditevent", "core.view_auditevnet", "nosuchapp.view_thing"])
    assert "nosuchapp.view_thing" in str(refused.value)
    assert re.search(r"core\.view_auditevent\b", str(refused.value)) is None  # only the unknown ones are named

    # A role table (as an app declares it through its seam) naming a permission that does not
    # exist fails the same lookup.
    core_table = registry.registry.role_permissions["core"]
    monkeypatch.setitem(core_table, roles.MANAGER, (*core_table[roles.MANAGER], "core.export_auditevnet"))
    with pytest.raises(LookupError, match=r"core\.export_auditevnet"):
        roles.permissions_named(roles.role_permissions()[roles.MANAGER])
    monkeypatch.undo()

    # The real table: every role is there, and each of its names is exactly one Permission row.
    table = roles.role_permissions()
    assert set(table) == set(roles.ALL_ROLES)
    assert sum(len(names) for names in table.values()) > 0
    for role, names in table.items():
        perms = roles.permissions_named(names)
        found = [f"{perm.content_type.app_label}.{perm.codename}" for perm in perms]
        assert len(perms) == len(names), f"{role}: {len(names)} names resolved to {len(perms)} permissions"
        assert sorted(found) == sorted(names), f"{role}: not found {sorted(set(names) - set(found))}"


@pytest.mark.parametrize("role", [*roles.ALL_ROLES, NO_ROLE])
def test_each_role_opens_exactly_the_admin_pages_it_is_allowed(client, role):
    user = make_user(f"user-{role.replace(' ', '-').lower()}", role=None if role == NO_ROLE else role)
    login_verified(client, user)
    instances = {label: INSTANCE_FACTORIES[label]() for label in _registered_labels()}
    wrong = []
    for model in admin.site._registry:
        label = model._meta.label_lower
        allowed = EXPECTED.get(label, {}).get(role, set())
        for kind in KINDS:
            response = client.get(_url(model, kind, instances[label]))
            opened = response.status_code == 200
            if response.status_code not in (200, 403, 302):
                wrong.append(f"{label} {kind}: unexpected status {response.status_code}")
            elif opened != (kind in allowed):
                wrong.append(f"{label} {kind}: {'opened' if opened else 'refused'} ({response.status_code})")
    assert wrong == [], f"{role}: " + "; ".join(wrong)


def test_a_role_member_sees_the_admin_index(client):
    user = make_user("clerk", role=roles.AP_CLERK)
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 200
