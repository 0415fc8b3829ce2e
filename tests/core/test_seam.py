"""The seam: apps declare what they bring in their seam.py; core and reconciliation name no business app."""

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import checks, registry
from core.management.commands import load_demo_data
from core.registry import ActionKind

ROOT = Path(__file__).resolve().parents[2]
BUSINESS_APPS = ("vendors", "payables", "payouts", "receivables", "wallet")
DEMO_USERNAMES = {login[0] for login in load_demo_data.DEMO_LOGINS}


def _python_files(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def _names_an_app(node: ast.AST, apps: tuple[str, ...]) -> str | None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in apps:
                return alias.name
    if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in apps:
        return node.module
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        for app in apps:
            if node.value.startswith((f"{app}.", f"{app}:")) or node.value == app:
                return node.value
    return None


# notifications sits below the business apps: they call notify() and declare their events and inbox sources.
@pytest.mark.parametrize("app", ["core", "reconciliation", "notifications"])
def test_core_and_reconciliation_name_no_business_app_in_code_or_strings(app):
    found = []
    for path in _python_files(app):
        for node in ast.walk(ast.parse(path.read_text())):
            named = _names_an_app(node, BUSINESS_APPS)
            if named and path.name == "load_demo_data.py" and named in DEMO_USERNAMES:
                continue  # a demo login's username ("receivables"), not a reference to the app
            if named:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {named}")
    assert found == []


@pytest.mark.parametrize("app", BUSINESS_APPS)
def test_no_business_app_imports_reconciliation(app):
    found = []
    for path in _python_files(app):
        for node in ast.walk(ast.parse(path.read_text())):
            named = _names_an_app(node, ("reconciliation",))
            if named and isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {named}")
    assert found == []


def test_every_app_declares_itself_through_its_seam():
    declared = registry.discover()
    # reports reads every business app (like reconciliation, it sits above them).
    assert set(declared.apps) == {"core", *BUSINESS_APPS, "notifications", "reconciliation", "reports"}
    assert set(declared.role_permissions) == set(declared.apps)
    assert set(declared.audit_action_apps.values()) == set(declared.apps)


def test_a_declared_name_cannot_be_declared_twice():
    registry.discover()
    with pytest.raises(ImproperlyConfigured, match="payable.approved"):
        registry.audit_actions("someapp", {"payable.approved": "Approved again"})
    spec = registry.action_kind_for("payable.pay")
    with pytest.raises(ImproperlyConfigured, match="payable.pay"):
        registry.action_kind("someapp", spec)


def test_the_seam_as_declared_passes_the_system_check():
    assert checks.seam_errors() == []


def test_a_misspelt_permission_in_a_role_table_fails_the_system_check(monkeypatch):
    tables = dict(registry.registry.role_permissions)
    tables["payables"] = {**tables["payables"], "Payer": ("payables.pay_payabel",)}
    monkeypatch.setattr(registry.registry, "role_permissions", tables)

    errors = checks.seam_errors()

    assert [e.id for e in errors] == ["ledgerline.E001"]
    assert "payables.pay_payabel" in errors[0].msg and "role Payer" in errors[0].msg


def test_a_queued_kind_whose_service_or_permission_does_not_exist_fails_the_system_check(monkeypatch):
    kinds = dict(registry.registry.action_kinds)
    kinds["payable.fly"] = ActionKind(
        kind="payable.fly",
        label="Fly",
        service="payables.services.payable_fly",
        target_model="payables.payable",
        target_arg="payable_id",
        noun="flight",
        permission="payables.fly_payable",
        doing="fly payables",
    )
    monkeypatch.setattr(registry.registry, "action_kinds", kinds)

    messages = [e.msg for e in checks.seam_errors()]

    assert any("payables.fly_payable" in m for m in messages)
    assert any("payables.services.payable_fly" in m for m in messages)


@pytest.mark.parametrize("app", BUSINESS_APPS)
def test_no_business_app_imports_an_app_above_it(app):
    """vendors < payables < payouts: an app may import the ones below it, never one above."""
    above = BUSINESS_APPS[BUSINESS_APPS.index(app) + 1 :]
    found = []
    for path in _python_files(app):
        for node in ast.walk(ast.parse(path.read_text())):
            named = _names_an_app(node, above) if above else None
            if named and isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {named}")
    assert found == []
