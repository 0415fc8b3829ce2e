import pytest
from django.core.management import call_command
from django_q.models import Schedule

pytestmark = pytest.mark.django_db


def test_setup_schedules_creates_each_periodic_sync_once(capsys):
    call_command("setup_schedules")
    call_command("setup_schedules")
    names = list(Schedule.objects.values_list("name", flat=True))
    assert "Sync approvers from Dots" in names
    assert {
        "Sync with Dots (payables in flight, payouts, new transfers, payees, vendors, wallet)",
        "Full sync with Dots (every transfer)",
        "Reconcile with Dots (report disagreements, settle outcome-unknown records)",
    } <= set(names)
    assert len(names) == len(set(names))
    assert "payables.tasks.sync_approvers" in capsys.readouterr().out
