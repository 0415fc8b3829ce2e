"""System checks for the seam: a permission, service or model an app names must exist.

Registered in core's AppConfig.ready, so `manage.py check`, `migrate`, `runserver` and the
test run refuse to start on a typo instead of silently granting nothing.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from core import registry


def declared_permissions() -> set[str]:
    """Every "app_label.codename" the installed models declare (default and Meta.permissions)."""
    names = set()
    for model in apps.get_models():
        opts = model._meta
        for action in opts.default_permissions:
            names.add(f"{opts.app_label}.{action}_{opts.model_name}")
        for codename, _ in opts.permissions:
            names.add(f"{opts.app_label}.{codename}")
    return names


def seam_errors() -> list[Error]:
    errors: list[Error] = []
    known = declared_permissions()
    for name, where in sorted(registry.all_permission_names().items()):
        if name not in known:
            errors.append(Error(f"Unknown permission {name!r} (named by {'; '.join(where)})", id="ledgerline.E001"))
    for spec in registry.discover().action_kinds.values():
        _resolves(spec.service, f"queued action kind {spec.kind}", errors)
        try:
            apps.get_model(spec.target_model)
        except (LookupError, ValueError):
            errors.append(
                Error(
                    f"Queued action kind {spec.kind} acts on unknown model {spec.target_model!r}", id="ledgerline.E003"
                )
            )
    for schedule in registry.registry.schedules.values():
        _resolves(schedule.func, f"schedule {schedule.name!r}", errors)
    for path, app_label in registry.registry.tasks.items():
        _resolves(path, f"{app_label}.seam task", errors)
    for step in registry.registry.sync_steps.values():
        _resolves(step.run, f"sync step {step.name!r}", errors)
    for detail in registry.registry.record_details.values():
        _resolves(detail.render, f"record detail {detail.model}:{detail.name}", errors)
    for panel in registry.registry.dashboard_panels.values():
        _resolves(panel.build, f"dashboard panel {panel.name}", errors)
    for chart in registry.registry.dashboard_charts.values():
        _resolves(chart.build, f"dashboard chart {chart.name}", errors)
    for report_spec in registry.registry.reports.values():
        _resolves(report_spec.build, f"report {report_spec.name}", errors)
    for handler in registry.registry.webhook_handlers.values():
        _resolves(handler.handle, f"webhook handler {handler.event_type}", errors)
    for source in registry.registry.inbox_sources.values():
        _resolves(source.build, f"inbox source {source.name}", errors)
    for gauge in registry.registry.metrics.values():
        _resolves(gauge.value, f"metric {gauge.name}", errors)
    for record_type, (_, path) in registry.registry.reconcile_checks.items():
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(Error(f"reconcile check {record_type!r} names {path!r}: {exc}", id="ledgerline.E002"))
    return errors


def _resolves(path: str, what: str, errors: list[Error]) -> None:
    try:
        target = import_string(path)
    except ImportError as exc:
        errors.append(Error(f"{what} names {path!r}, which cannot be imported: {exc}", id="ledgerline.E002"))
        return
    if not callable(target):
        errors.append(Error(f"{what} names {path!r}, which is not callable", id="ledgerline.E002"))


@register()
def check_seam(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return seam_errors()
