"""What core brings through the seam (core/registry.py): its roles' permissions, audit actions, schedule,
and the home page's security panel.

Core owns the role names (core/roles.py) and the shared machinery; the business apps
declare the rest in their own `seam.py`.
"""

import datetime as dt

from django.utils import timezone

from core import registry
from core.audit_actions import CORE_AREAS
from core.roles import CORE_ROLE_PERMISSIONS

registry.role_permissions("core", CORE_ROLE_PERMISSIONS)
for _area, _actions in CORE_AREAS.items():
    registry.audit_actions("core", _actions, area=_area)
# A poller: Q_CLUSTER["catch_up"] is off (config/settings.py), so after downtime it runs once
# rather than once per missed minute.
registry.schedule(
    "core",
    registry.ScheduleSpec(
        name="Run actions queued while Dots was unreachable",
        func="core.tasks.run_queued_dots_actions",
        minutes=1,
        first_run=lambda: timezone.now() + dt.timedelta(seconds=20),
    ),
)
registry.schedule(
    "core",
    registry.ScheduleSpec(
        name="Delete old results of successful background tasks",
        func="core.tasks.prune_successful_tasks",
        minutes=10,
    ),
)
registry.dashboard_panel(
    "core",
    registry.DashboardPanel(
        name="security_changes",
        title="Security changes in the last 30 days",
        permission="core.view_auditevent",
        build="core.dashboard.security_changes",
        template="admin/core/dashboard/security_changes.html",
        order=900,
    ),
)
# One step of the scheduled sync with Dots, enqueued per step (core.sync_runner).
registry.task("core", "core.tasks.sync_step")
# Prometheus gauges computed from the database at each scrape (core.metrics): right from any web process.
registry.metric(
    "core",
    "ledgerline_dots_actions_queued",
    "Actions waiting to be sent to Dots (queued during an outage or to be retried), running ones included.",
    "core.metrics.queued_dots_actions",
)
registry.metric(
    "core",
    "ledgerline_dots_unreachable",
    "1 while Dots counts as unreachable, else 0.",
    "core.metrics.dots_unreachable",
)
registry.metric(
    "core", "ledgerline_task_queue_depth", "Background tasks waiting in the broker.", "core.metrics.task_queue_depth"
)
registry.metric(
    "core",
    "ledgerline_task_failures_last_hour",
    "Background tasks that failed in the last hour.",
    "core.metrics.task_failures_last_hour",
)
