"""`load_demo_payables`: the demo story `make run` shows a newcomer, made through the services against Dots."""

import pytest
from django.core.management import call_command

from notifications.models import Absence, Notification
from payables.models import Payable, PayableHold

pytestmark = pytest.mark.django_db
S = Payable.Status


@pytest.fixture
def demo_dots(dots):
    """The emulator seeded with the demo dashboard users, as the Procfile starts it."""
    import json

    from tests.fixtures_emulator import REPO_ROOT

    users = json.loads((REPO_ROOT / "core/demo/dots_dashboard_users.json").read_text())
    dots.seed_approvers(users)
    return dots


def test_demo_payables_show_a_waiting_a_held_a_scheduled_and_an_approved_bill_once(demo_dots, capsys):
    call_command("load_demo_data")
    call_command("load_demo_payables")
    bills = {p.bill_number: p for p in Payable.objects.all()}
    assert bills["NW-1001"].status == S.SUBMITTED
    assert bills["NW-1002"].status == S.APPROVED
    assert PayableHold.objects.filter(payable=bills["NW-1002"], released_at__isnull=True).exists()
    assert (
        bills["NW-1003"].pay_on == bills["NW-1003"].due_date and bills["NW-1003"].pay_scheduled_by.username == "payer"
    )
    assert bills["NW-1004"].status == S.APPROVED and bills["NW-1004"].pay_on is None
    absence = Absence.objects.get(user__username="approver")
    assert absence.backup.username == "approver2"
    # The backup is told about the waiting bill for the away approver.
    assert Notification.objects.filter(
        recipient__username="approver2", on_behalf_of__username="approver", title__contains="NW-1001"
    ).exists()
    assert "(4 new)" in capsys.readouterr().out

    call_command("load_demo_payables")
    assert Payable.objects.count() == 4 and Absence.objects.count() == 1
    assert "(0 new)" in capsys.readouterr().out


def test_demo_payables_wait_for_the_demo_logins(dots, capsys):
    call_command("load_demo_payables")
    assert Payable.objects.count() == 0
    assert "run load_demo_data first" in capsys.readouterr().out
