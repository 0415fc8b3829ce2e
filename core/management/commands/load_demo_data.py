"""Demo logins, one per role, for `make run`. Safe to run again: it changes nothing the second time.

The logins work only while DEBUG is on (core.auth_backends), and only they may sign in
without a role's required second factor, and only then. Paying's step-up still asks for a
code (core.two_factor.step_up_needed): the demo payer sets up an authenticator at the first payment.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from core import audit, roles
from core.models import AuditEvent, DemoAccount, Holiday

DEMO_LOGINS = (
    # username, password, role, first name, last name
    ("clerk", "demo-clerk-pass", roles.AP_CLERK, "Casey", "Clerk"),
    ("clerk2", "demo-clerk2-pass", roles.AP_CLERK, "Charlie", "Checker"),
    ("approver", "demo-approver-pass", roles.APPROVER, "Avery", "Approver"),
    ("approver2", "demo-approver2-pass", roles.APPROVER, "Alex", "Second-Approver"),
    ("payer", "demo-payer-pass", roles.PAYER, "Pat", "Payer"),
    ("payer2", "demo-payer2-pass", roles.PAYER, "Paz", "Second-Payer"),  # approves large wallet deposits
    ("operator", "demo-operator-pass", roles.PAYOUTS_OPERATOR, "Oli", "Operator"),
    ("manager", "demo-manager-pass", roles.MANAGER, "Morgan", "Manager"),
    ("admin", "demo-admin-pass", roles.ADMINISTRATOR, "Ada", "Administrator"),
    ("receivables", "demo-receivables-pass", roles.RECEIVABLES_CLERK, "Rory", "Receivables"),
)


def _next(month: int, day: int) -> dt.date:
    """The next `day` of `month` from today (today included)."""
    today = timezone.localdate()
    this_year = dt.date(today.year, month, day)
    return this_year if this_year >= today else dt.date(today.year + 1, month, day)


# Holidays business days skip (reminders, escalation): the next of each, so they matter in a demo.
DEMO_HOLIDAYS = ((12, 25, "Christmas Day"), (1, 1, "New Year's Day"), (7, 4, "Independence Day"))


class Command(BaseCommand):
    help = "Create the demo logins (one per role) used by `make run`."

    def handle(self, *args, **options):
        User = get_user_model()
        system = audit.system_user()
        created = 0
        with transaction.atomic():
            for username, password, role, first, last in DEMO_LOGINS:
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User(
                        username=username,
                        first_name=first,
                        last_name=last,
                        is_staff=True,
                        email=f"{username}@ledgerline.example",
                    )
                    user.set_password(password)
                    user.save()
                    user.groups.add(Group.objects.get(name=role))
                    DemoAccount.objects.get_or_create(user=user)
                    audit.record(
                        actor=system,
                        action="user.created",
                        target=user,
                        changes={"role": {"before": None, "after": role}},
                        reason="demo data",
                        source=AuditEvent.Source.COMMAND,
                    )
                    created += 1
            for month, day, name in DEMO_HOLIDAYS:
                holiday, new = Holiday.objects.get_or_create(date=_next(month, day), defaults={"name": name})
                if new:
                    audit.record(
                        actor=system,
                        action="record.created",
                        target=holiday,
                        after={"date": holiday.date, "name": name},
                        reason="demo data",
                        source=AuditEvent.Source.COMMAND,
                    )
        self.stdout.write(f"Demo logins ({created} new) at http://127.0.0.1:8000/admin/:")
        for username, password, role, _first, _last in DEMO_LOGINS:
            self.stdout.write(f"  {role:<17} {username:<10} {password}")
        self.stdout.write(
            "Approvers are synced from Dots by the worker shortly after start "
            "(setup_schedules), linking these logins by email. Before it starts, the worker makes demo payables "
            "(load_demo_payables): Avery Approver is away with Alex as backup, one bill waits for approval, "
            "one is on hold, one is scheduled for its due date and one is ready to pay."
        )
        if not settings.DEBUG:
            self.stdout.write(self.style.WARNING("DEBUG is off: demo logins are refused until it is on."))
        else:
            self.stdout.write(
                "Payer and Administrator demo logins sign in without two-factor because DEBUG is on. Paying "
                "still asks for an authenticator code: the demo payer sets up an authenticator the first time "
                "they pay (the pay page links to the set-up page)."
            )
