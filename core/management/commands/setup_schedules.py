"""Create (or update) every periodic task in django-q2. Safe to run on every deploy and every `make run`."""

from importlib import import_module

from django.core.management.base import BaseCommand
from django_q.models import Schedule

# Each app that has periodic work offers `ensure_schedules()` in its tasks module.
APP_TASK_MODULES = ("core.tasks", "payables.tasks", "reconciliation.tasks")


class Command(BaseCommand):
    help = "Create the django-q2 schedules that keep Ledgerline in step with Dots."

    def handle(self, *args, **options):
        for module_name in APP_TASK_MODULES:
            import_module(module_name).ensure_schedules()
        for schedule in Schedule.objects.order_by("name"):
            every = (
                f"every {schedule.minutes} min"
                if schedule.schedule_type == Schedule.MINUTES
                else schedule.get_schedule_type_display()
            )
            self.stdout.write(f"  {schedule.name}: {schedule.func} ({every})")
