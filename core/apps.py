from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_roles_after_migrate(sender, using="default", **kwargs):
    # post_migrate is sent once per app; permissions of later apps do not exist yet
    # when earlier apps' signals fire, so sync once, after the last app's.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if not with_models or sender is not with_models[-1]:
        return
    from django.db import connections

    from core.db_guards import ensure_audit_triggers
    from core.roles import sync_role_permissions

    sync_role_permissions()
    ensure_audit_triggers(connections[using])


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Audit and access"

    def ready(self) -> None:
        from core import checks, registry, signals, task_guard  # noqa: F401  (system checks; login/logout audit receivers)

        # Every app's seam.py: roles, audit actions, schedules, sync steps, checks, queued action kinds.
        registry.discover()
        # The worker runs only registered tasks: see core/task_guard.py for why this hook.
        task_guard.install()

        post_migrate.connect(_sync_roles_after_migrate, dispatch_uid="core.sync_roles")

        # The worker's own Prometheus endpoint (its Dots calls), started in qcluster's first process before it
        # forks the processes that run tasks (core.metrics.start_worker_exporter).
        import sys

        from django.conf import settings

        if settings.WORKER_METRICS_BIND and sys.argv[1:2] == ["qcluster"]:
            from core.metrics import start_worker_exporter

            start_worker_exporter(settings.WORKER_METRICS_BIND)
