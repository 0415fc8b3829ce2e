import pytest
from django.core.management import call_command
from django_q.models import Schedule

from core import registry

pytestmark = pytest.mark.django_db


def test_setup_schedules_creates_every_schedule_the_apps_declare_once(capsys):
    call_command("setup_schedules")
    call_command("setup_schedules")
    schedules = {s.name: s for s in Schedule.objects.all()}
    declared = registry.discover().schedules
    assert set(declared) == set(schedules)
    assert Schedule.objects.count() == len(declared)
    for name, spec in declared.items():
        assert (schedules[name].func, schedules[name].minutes, schedules[name].kwargs) == (
            spec.func,
            spec.minutes,
            spec.kwargs,
        )
    assert "Sync approvers from Dots" in schedules
    assert schedules["Sync with Dots (every record that may still change)"].minutes == 5
    assert "payables.tasks.sync_approvers" in capsys.readouterr().out


def test_setup_schedules_removes_a_schedule_an_app_retired():
    retired = "Sync with Dots (payables in flight, payouts, new transfers, payees, vendors, wallet)"
    assert retired in registry.discover().retired_schedules
    Schedule.objects.create(name=retired, func="reconciliation.tasks.sync_dots", schedule_type=Schedule.MINUTES)
    call_command("setup_schedules")
    assert not Schedule.objects.filter(name=retired).exists()
