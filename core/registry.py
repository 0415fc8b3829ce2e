"""The seam: what each app brings, declared by the app itself and found here.

Every app (core included) has a module named `seam.py` that registers, at import time,
what it brings to the shared machinery:

- the permissions each role gets on its models (`role_permissions`),
- its audit action names and how they read (`audit_actions`),
- its periodic tasks (`schedule`),
- every other task function it enqueues (`task`): the worker runs nothing else (core.task_guard),
- its steps of the sync with Dots (`sync_step`),
- its reconciliation checks (`reconcile_check`),
- its kinds of queued Dots action, each with the permission it needs (`action_kind`),
- its panels on the admin home page, each shown to those with its permission (`dashboard_panel`),
  and the charts they draw (`dashboard_chart`),
- its report pages, each exportable (`report`),
- the Dots webhook events it processes (`webhook_handler`),
- the events it tells people about (`notification_event`, delivered by notifications.services.notify),
- what waits for a person, listed on their "My tasks" page (`inbox_source`).
- the figures it exposes to Prometheus at `/metrics`, computed when scraped (`metric`).

A seam module is data: services, tasks, sync steps and checks are named by dotted path and
imported when first used, so a seam imports nothing of its own app and the app's services
may import the seam's constants (its queued action kinds) without a cycle.

`discover()` (called from core's AppConfig.ready) imports every installed app's `seam`
module through Django's app registry, the way the admin finds every `admin.py`. Core and
reconciliation read these registries; they never name a business app. Adding an app is
writing the app: no list elsewhere is edited. A duplicate name is refused loudly at
import; a permission or service that does not exist is refused by the system check
`core.checks.check_seam` (run by `manage.py check`, `migrate`, `runserver` and the tests).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.apps import apps as django_apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules, import_string

if TYPE_CHECKING:
    from core.findings import RecordCheck
    from core.sync_report import SyncReport

SEAM_MODULE = "seam"


@dataclass(frozen=True)
class ActionKind:
    """How the action queue runs one kind of queued action, and who may have it run."""

    kind: str  # stored on QueuedDotsAction.kind: "payable.pay"
    label: str  # how it reads in lists: "Pay payable"
    # Dotted path; called as service(<target_arg>=id, actor=user, from_queue=True, **arguments).
    service: str
    target_model: str  # app_label.model_name
    target_arg: str
    noun: str  # "your <noun> of INV-104 is queued"
    # The permission the user must still hold when the action runs, and what it lets them do.
    permission: str
    doing: str  # "pay payables": "Your role no longer allows you to pay payables."
    # One active action per record (pay, pushes), or one per record and person (approvals).
    per_actor: bool = False
    # Keyed calls (a stored idempotency key) stop retrying 23 h after their first attempt.
    keyed: bool = False
    # After a lost answer, run again (the service looks before it acts) or stop (pay: the
    # payable itself is followed to its end by its own task).
    again_after_unknown: bool = True
    # A person sending it by hand while Dots answers replaces a waiting retry (the service
    # is safe to repeat); otherwise they are told it is already queued (pay never replaces).
    direct_replaces_waiting: bool = False


@dataclass(frozen=True)
class ScheduleSpec:
    """A periodic django-q2 task, created (or updated) by `manage.py setup_schedules`."""

    name: str  # the schedule's name, as people read it under Background tasks
    func: str  # dotted path of the task function
    minutes: int
    kwargs: str = ""
    # When the first run is due; default: 30 seconds from setup.
    first_run: Callable[[], dt.datetime] | None = None


@dataclass(frozen=True)
class SyncStep:
    """One step of the sync with Dots (`sync_dots`, the scheduled sync)."""

    name: str  # "payables in flight": what `sync_dots --only` accepts and the report prints
    run: str  # dotted path of run(*, actor, full) -> SyncReport
    order: int  # steps run in ascending order
    # In the 5-minute scheduled sync; False for a step with its own schedule.
    scheduled: bool = True


@dataclass(frozen=True)
class RecordDetail:
    """A line one app adds to another app's record page, without that app naming it.

    The record's admin asks `record_detail(model, name, obj)`; the app that knows the answer
    (say, the transfer that paid a payable) registers how to render it.
    """

    model: str  # the record's model label: "payables.payable"
    name: str  # what the line is: "payment_transfer"
    render: str  # dotted path of render(obj) -> safe HTML or text, or None when it has nothing to say


@dataclass(frozen=True)
class DashboardPanel:
    """A box on the admin home page, above the list of models, for people who may see what it shows."""

    name: str  # "security_changes": its id on the page
    title: str  # "Security changes in the last 30 days"
    permission: str  # app_label.codename the viewer must hold
    # Dotted path of build(request) -> dict for the template, or None when there is nothing to show.
    build: str
    template: str
    order: int = 100  # ascending, top first


@dataclass(frozen=True)
class DashboardChart:
    """A chart a dashboard panel shows as a picture (`admin:dashboard_chart`), drawn by core.charts.

    Served as its own SVG so the page's Content-Security-Policy needs no inline style or script; the
    panel shows the same numbers as a table beside it.
    """

    name: str  # "cash_out_by_week": the URL's name part
    permission: str  # app_label.codename the viewer must hold
    build: str  # dotted path of build(request) -> core.charts.ChartData


@dataclass(frozen=True)
class Report:
    """A report page in the admin (`admin:report`), exportable as CSV and Excel (`admin:report_export`).

    `build(request)` answers a core.reports.ReportTable: its filters as read from the request, its
    columns (core.exports.ExportColumn) and rows; core renders the page and the exports from it.
    """

    name: str  # "ap_aging": the URL's name part
    title: str
    description: str  # one sentence under the title: what it shows and how it is counted
    permission: str
    build: str  # dotted path of build(request) -> core.reports.ReportTable
    order: int = 100


@dataclass(frozen=True)
class WebhookHandler:
    """How a Dots webhook event some app owns is processed, without the receiver naming that app."""

    event_type: str  # "payment_intent.updated"
    object_type: str  # "payment_intent": stored on the delivery, and what finds this handler again
    payload_key: str  # the payload field holding the Dots id: "payment_intent_id"
    handle: str  # dotted path of handle(dots_id, actor) -> str: a note on what it found, for the delivery


@dataclass(frozen=True)
class NotificationEvent:
    """Something an app tells people about (in their inbox, and by email unless they opted out)."""

    key: str  # "payable.waiting_for_approval"
    label: str  # how it reads in a person's preferences: "A payable waits for your approval"


@dataclass(frozen=True)
class InboxItem:
    """One thing that waits for a person, as their "My tasks" page lists it."""

    title: str  # "INV-104 from Acme Supplies ($250.00) waits for your approval (step 1 of 2)"
    url: str = ""  # the page where they act on it
    for_whom: str = ""  # "for Avery Approver (out until 12 Dec)" when they cover for someone away
    note: str = ""  # a further line: "You are not an approver of this step: ..."
    since: dt.datetime | None = None  # how long it has waited (sorting: newest or oldest first)


@dataclass(frozen=True)
class InboxSource:
    """A kind of work that waits for people: `build(user)` lists what waits for `user` now."""

    name: str  # "payables_to_approve"
    title: str  # the section's heading: "Payables waiting for your approval"
    build: str  # dotted path of build(user) -> list[InboxItem]
    order: int = 100


@dataclass(frozen=True)
class Metric:
    """A gauge on `/metrics` (core.metrics), computed from the database each time Prometheus scrapes.

    Read from the database, so any web process answers the same figure (no per-process state).
    """

    name: str  # "ledgerline_payments_outcome_unknown": Prometheus' naming, lower case and underscores
    help: str  # one sentence: what is counted
    value: str  # dotted path of a function taking nothing and returning a number


@dataclass
class Registry:
    role_permissions: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # app -> role -> perms
    audit_actions: dict[str, str] = field(default_factory=dict)
    audit_action_apps: dict[str, str] = field(default_factory=dict)  # action -> app
    # action -> the area it is listed under in the audit history's filter (default: its app's name)
    audit_action_areas: dict[str, str] = field(default_factory=dict)
    schedules: dict[str, ScheduleSpec] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)  # dotted path of a task function -> declaring app
    retired_schedules: set[str] = field(default_factory=set)
    sync_steps: dict[str, SyncStep] = field(default_factory=dict)
    # record type -> (declaring app, dotted path of a RecordCheck)
    reconcile_checks: dict[str, tuple[str, str]] = field(default_factory=dict)
    action_kinds: dict[str, ActionKind] = field(default_factory=dict)
    record_details: dict[tuple[str, str], RecordDetail] = field(default_factory=dict)
    dashboard_panels: dict[str, DashboardPanel] = field(default_factory=dict)
    dashboard_charts: dict[str, DashboardChart] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    webhook_handlers: dict[str, WebhookHandler] = field(default_factory=dict)  # event type -> handler
    notification_events: dict[str, NotificationEvent] = field(default_factory=dict)
    notification_event_apps: dict[str, str] = field(default_factory=dict)  # event key -> declaring app
    inbox_sources: dict[str, InboxSource] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)  # name -> metric
    apps: list[str] = field(default_factory=list)  # app labels that declared anything, in order

    def _app(self, app_label: str) -> None:
        if app_label not in self.apps:
            self.apps.append(app_label)


registry = Registry()
_discovered = False


def _refuse_duplicates(what: str, existing: Iterable[str], new: Iterable[str], app_label: str) -> None:
    clashes = sorted(set(existing) & set(new))
    if clashes:
        raise ImproperlyConfigured(f"{app_label}.seam declares {what} already declared: {', '.join(clashes)}")


def role_permissions(app_label: str, table: Mapping[str, Iterable[str]]) -> None:
    """What each role may do with this app's models: {role name: ("app_label.codename", ...)}."""
    if app_label in registry.role_permissions:
        raise ImproperlyConfigured(f"{app_label}.seam declares its role permissions twice")
    registry.role_permissions[app_label] = {role: tuple(names) for role, names in table.items()}
    registry._app(app_label)


def audit_actions(app_label: str, actions: Mapping[str, str], *, area: str = "") -> None:
    """This app's audit action names ("payable.approved") and how they read ("Payable approved").

    `area` is the heading they are listed under in the audit history's action filter; by
    default the app's own name (its AppConfig.verbose_name). An app may call this once per area.
    """
    _refuse_duplicates("audit actions", registry.audit_actions, actions, app_label)
    registry.audit_actions.update(actions)
    registry.audit_action_apps.update(dict.fromkeys(actions, app_label))
    if area:
        registry.audit_action_areas.update(dict.fromkeys(actions, area))
    registry._app(app_label)


def schedule(app_label: str, spec: ScheduleSpec) -> None:
    _refuse_duplicates("schedules", registry.schedules, [spec.name], app_label)
    registry.schedules[spec.name] = spec
    registry._app(app_label)


def task(app_label: str, path: str) -> None:
    """A task function this app enqueues with `async_task` ("payables.tasks.follow_payment").

    The worker runs only registered tasks and the funcs of declared schedules (core.task_guard),
    so a task not declared here is refused where it runs.
    """
    _refuse_duplicates("tasks", registry.tasks, [path], app_label)
    registry.tasks[path] = app_label
    registry._app(app_label)


def retire_schedules(app_label: str, names: Iterable[str]) -> None:
    """Schedules this app used to have: `setup_schedules` removes them from older databases."""
    registry.retired_schedules.update(names)
    registry._app(app_label)


def sync_step(app_label: str, step: SyncStep) -> None:
    _refuse_duplicates("sync steps", registry.sync_steps, [step.name], app_label)
    registry.sync_steps[step.name] = step
    registry._app(app_label)


def reconcile_check(app_label: str, record_type: str, check: str) -> None:
    """`check`: the dotted path of a core.findings.RecordCheck ("payables.reconcile.PAYABLE_CHECK")."""
    _refuse_duplicates("reconcile checks", registry.reconcile_checks, [record_type], app_label)
    registry.reconcile_checks[record_type] = (app_label, check)
    registry._app(app_label)


def action_kind(app_label: str, spec: ActionKind) -> None:
    _refuse_duplicates("queued action kinds", registry.action_kinds, [spec.kind], app_label)
    registry.action_kinds[spec.kind] = spec
    registry._app(app_label)


def record_detail_provider(app_label: str, detail: RecordDetail) -> None:
    key = (detail.model, detail.name)
    _refuse_duplicates(
        "record details", [f"{m}:{n}" for m, n in registry.record_details], [f"{key[0]}:{key[1]}"], app_label
    )
    registry.record_details[key] = detail
    registry._app(app_label)


def dashboard_panel(app_label: str, panel: DashboardPanel) -> None:
    _refuse_duplicates("dashboard panels", registry.dashboard_panels, [panel.name], app_label)
    registry.dashboard_panels[panel.name] = panel
    registry._app(app_label)


def dashboard_chart(app_label: str, chart: DashboardChart) -> None:
    _refuse_duplicates("dashboard charts", registry.dashboard_charts, [chart.name], app_label)
    registry.dashboard_charts[chart.name] = chart
    registry._app(app_label)


def report(app_label: str, spec: Report) -> None:
    _refuse_duplicates("reports", registry.reports, [spec.name], app_label)
    registry.reports[spec.name] = spec
    registry._app(app_label)


def reports() -> list[Report]:
    return sorted(discover().reports.values(), key=lambda spec: (spec.order, spec.name))


def webhook_handler(app_label: str, handler: WebhookHandler) -> None:
    """A Dots webhook event this app processes (the receiver verifies and stores it, then calls `handle`)."""
    _refuse_duplicates("webhook handlers", registry.webhook_handlers, [handler.event_type], app_label)
    registry.webhook_handlers[handler.event_type] = handler
    registry._app(app_label)


def notification_event(app_label: str, key: str, label: str) -> None:
    """An event this app tells people about with notifications.services.notify(event=key, ...)."""
    _refuse_duplicates("notification events", registry.notification_events, [key], app_label)
    registry.notification_events[key] = NotificationEvent(key=key, label=label)
    registry.notification_event_apps[key] = app_label
    registry._app(app_label)


def inbox_source(app_label: str, source: InboxSource) -> None:
    _refuse_duplicates("inbox sources", registry.inbox_sources, [source.name], app_label)
    registry.inbox_sources[source.name] = source
    registry._app(app_label)


_METRIC_NAME = re.compile(r"^ledgerline_[a-z0-9_]+$")


def metric(app_label: str, name: str, help: str, value: str) -> None:  # noqa: A002 - Prometheus' word
    """A gauge Prometheus reads at `/metrics`: `value` is the dotted path of a function returning a number."""
    if not _METRIC_NAME.match(name):
        raise ImproperlyConfigured(f"{app_label}.seam metric {name!r}: names start with ledgerline_ (a-z, 0-9, _)")
    _refuse_duplicates("metrics", registry.metrics, [name], app_label)
    registry.metrics[name] = Metric(name=name, help=help, value=value)
    registry._app(app_label)


def metrics() -> list[Metric]:
    return sorted(discover().metrics.values(), key=lambda spec: spec.name)


def discover() -> Registry:
    """Import every installed app's `seam` module (once). Returns the filled registry."""
    global _discovered
    if not _discovered:
        autodiscover_modules(SEAM_MODULE)
        _discovered = True
    return registry


# --- reads -----------------------------------------------------------------------------------------------


def action_kind_choices() -> list[tuple[str, str]]:
    """QueuedDotsAction.kind's choices (a callable, so core's model names no app's kinds)."""
    return sorted(((spec.kind, spec.label) for spec in discover().action_kinds.values()), key=lambda c: c[1].lower())


def action_kind_for(kind: str) -> ActionKind:
    try:
        return discover().action_kinds[kind]
    except KeyError:
        raise LookupError(f"No app declares the queued action kind {kind!r}") from None


def record_detail(model: str, name: str, obj: Any) -> Any:
    """What the app that registered (model, name) says about `obj`; None when no app does."""
    detail = discover().record_details.get((model, name))
    if detail is None:
        return None
    render: Callable[[Any], Any] = import_string(detail.render)
    return render(obj)


def webhook_handler_for_event(event_type: str) -> WebhookHandler | None:
    return discover().webhook_handlers.get(event_type)


def webhook_handle(object_type: str) -> Callable[..., str] | None:
    """The declared handle(dots_id, actor) for deliveries stored with `object_type`; None when no app declares one."""
    for handler in discover().webhook_handlers.values():
        if handler.object_type == object_type:
            handle: Callable[..., str] = import_string(handler.handle)
            return handle
    return None


def notification_events() -> list[NotificationEvent]:
    """Every declared event, apps in INSTALLED_APPS order, each in the order it declared them."""
    reg = discover()
    order = {config.label: index for index, config in enumerate(django_apps.get_app_configs())}
    keys = sorted(reg.notification_events, key=lambda key: order.get(reg.notification_event_apps[key], len(order)))
    return [reg.notification_events[key] for key in keys]


def notification_event_named(key: str) -> NotificationEvent | None:
    return discover().notification_events.get(key)


def inbox_sources() -> list[InboxSource]:
    return sorted(discover().inbox_sources.values(), key=lambda source: (source.order, source.name))


def sync_steps() -> list[SyncStep]:
    return sorted(discover().sync_steps.values(), key=lambda step: step.order)


def run_sync_step(step: SyncStep, *, actor: Any, full: bool) -> SyncReport:
    runner: Callable[..., SyncReport] = import_string(step.run)
    return runner(actor=actor, full=full)


def reconcile_checks() -> dict[str, RecordCheck]:
    """Every record type the reconciler compares: apps in INSTALLED_APPS order, each in its own order."""
    order = {config.label: index for index, config in enumerate(django_apps.get_app_configs())}
    entries = sorted(discover().reconcile_checks.items(), key=lambda item: order.get(item[1][0], len(order)))
    return {record_type: import_string(path) for record_type, (_, path) in entries}


def registered_tasks() -> frozenset[str]:
    """Every task function the worker may run: declared tasks and every declared schedule's func."""
    reg = discover()
    return frozenset(reg.tasks) | frozenset(spec.func for spec in reg.schedules.values())


def dashboard_panels() -> list[DashboardPanel]:
    return sorted(discover().dashboard_panels.values(), key=lambda panel: (panel.order, panel.name))


def dashboard_chart_named(name: str) -> DashboardChart | None:
    return discover().dashboard_charts.get(name)


def audit_action_areas() -> dict[str, dict[str, str]]:
    """{area: {action: label}}: every audit action under the heading a person looks for it by,
    areas in alphabetical order, actions by their label."""
    reg = discover()
    grouped: dict[str, dict[str, str]] = {}
    for action, label in reg.audit_actions.items():
        area = reg.audit_action_areas.get(action)
        if not area:
            app_label = reg.audit_action_apps.get(action, "")
            try:
                area = str(django_apps.get_app_config(app_label).verbose_name)
            except LookupError:
                area = app_label
        grouped.setdefault(area, {})[action] = label
    return {
        area: dict(sorted(actions.items(), key=lambda item: item[1].lower()))
        for area, actions in sorted(grouped.items())
    }


def declared_apps() -> list[str]:
    return list(discover().apps)


def merged_role_permissions(roles: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Every role's permission names, from every app, without repeats (unknown roles refused)."""
    merged: dict[str, list[str]] = {role: [] for role in roles}
    for app_label, table in discover().role_permissions.items():
        for role, names in table.items():
            if role not in merged:
                raise ImproperlyConfigured(f"{app_label}.seam names an unknown role {role!r}")
            merged[role].extend(names)
    return {role: tuple(dict.fromkeys(names)) for role, names in merged.items()}


def all_permission_names() -> dict[str, list[str]]:
    """Every permission named anywhere in the seam, with where: {"app.codename": ["payables roles", ...]}."""
    named: dict[str, list[str]] = {}
    for app_label, table in discover().role_permissions.items():
        for role, names in table.items():
            for name in names:
                named.setdefault(name, []).append(f"{app_label}.seam, role {role}")
    for spec in registry.action_kinds.values():
        named.setdefault(spec.permission, []).append(f"queued action kind {spec.kind}")
    for panel in registry.dashboard_panels.values():
        named.setdefault(panel.permission, []).append(f"dashboard panel {panel.name}")
    for chart in registry.dashboard_charts.values():
        named.setdefault(chart.permission, []).append(f"dashboard chart {chart.name}")
    for report_spec in registry.reports.values():
        named.setdefault(report_spec.permission, []).append(f"report {report_spec.name}")
    return named
