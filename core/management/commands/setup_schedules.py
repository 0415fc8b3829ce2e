"""Create (or update) every periodic task the apps declare. Safe to run on every deploy and every `make run`."""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

from core import registry


class Command(BaseCommand):
    help = "Create the django-q2 schedules the apps declare (core.registry.schedule) and remove retired ones."

    def handle(self, *args, **options):
        declared = registry.discover()
        Schedule.objects.filter(name__in=declared.retired_schedules).delete()
        for spec in declared.schedules.values():
            Schedule.objects.update_or_create(
                name=spec.name,
                defaults={
                    "func": spec.func,
                    "kwargs": spec.kwargs,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": spec.minutes,
                    "repeats": -1,
                    "next_run": spec.first_run() if spec.first_run else timezone.now(),
                },
            )
        for schedule in Schedule.objects.order_by("name"):
            if schedule.schedule_type == Schedule.MINUTES:
                every = f"every {schedule.minutes} min"
            else:
                every = schedule.get_schedule_type_display()
            self.stdout.write(f"  {schedule.name}: {schedule.func} ({every})")
