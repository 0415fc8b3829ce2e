"""Demo payables for `make run`, made through the services against Dots (the emulator): a vendor with a
verified bank account, a bill waiting for approval (the demo approver is away, so their backup sees it
"for" them), a bill on hold, a bill scheduled to be paid on its due date, and one approved, ready to pay.

Needs the demo logins (load_demo_data) and Dots answering, so the Procfile's worker runs it before it
starts (`--wait` waits for the emulator). Safe to run again: once the demo vendor exists it changes nothing.
"""

import datetime as dt
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from core import audit
from core.errors import DomainError
from notifications.models import Absence
from notifications.services import absence_record
from payables import approver_sync, drafts, holds, scheduled, services
from payables.models import Payable
from vendors import bank_accounts
from vendors import services as vendor_services
from vendors.models import Vendor

VENDOR = "Northwind Office Supply"
# bill number, days until due, line items (name, unit price in cents, quantity), what happens to it
BILLS = (
    ("NW-1001", 10, (("Printer paper, 10 boxes", 4_250, 10),), "waits"),
    ("NW-1002", 12, (("Standing desks", 38_900, 3),), "held"),
    ("NW-1003", 3, (("Toner cartridges", 8_975, 6),), "scheduled"),
    ("NW-1004", 5, (("Office chairs", 21_450, 4),), "approved"),
)


class Command(BaseCommand):
    help = "Create demo payables in Dots (waiting, held, scheduled, approved) for `make run`. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=int, default=0, help="Seconds to wait for Dots to answer first.")

    def handle(self, *args, wait: int = 0, **options):
        if Vendor.objects.filter(name=VENDOR).exists():
            self.stdout.write("Demo payables (0 new): already there.")
            return
        User = get_user_model()
        names = ["clerk", "clerk2", "approver", "approver2", "payer"]
        people = {u.username: u for u in User.objects.filter(username__in=names)}
        if len(people) < len(names):
            self.stdout.write(self.style.WARNING("Demo payables skipped: run load_demo_data first."))
            return
        if not self._dots_answers(wait):
            self.stdout.write(
                self.style.WARNING(f"Demo payables skipped: Dots ({settings.DOTS_API_URL}) does not answer.")
            )
            return
        try:
            made = self._story(people)
        except DomainError as exc:
            self.stdout.write(self.style.WARNING(f"Demo payables stopped: {exc}"))
            return
        self.stdout.write(f"Demo payables ({len(made)} new): " + "; ".join(made))

    def _dots_answers(self, wait: int) -> bool:
        deadline = time.monotonic() + wait
        while True:
            try:
                approver_sync.approvers_sync(actor=audit.system_user())
                return True
            except DomainError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(1)

    def _story(self, people) -> list[str]:
        clerk, clerk2, payer = people["clerk"], people["clerk2"], people["payer"]
        away, backup = people["approver"], people["approver2"]
        today = timezone.localdate()
        # The demo approver is away this week: their backup is told, and sees the bills "for" them.
        if not Absence.objects.filter(user=away, ends_on__gte=today).exists():
            absence_record(
                actor=away,
                user=away,
                starts_on=today,
                ends_on=today + dt.timedelta(days=6),
                backup=backup,
                note="demo data: at the auditors' all week",
            )
        vendor = vendor_services.vendor_create(
            actor=clerk,
            name=VENDOR,
            address_line_1="200 Harbor Way",
            city="Seattle",
            state="WA",
            postcode="98101",
            contact_email="billing@northwind.example",
        )
        account = bank_accounts.bank_account_create(
            actor=clerk,
            vendor_id=vendor.pk,
            name="Northwind operating",
            routing_number="021000021",
            account_number="000111222333",
            account_type="checking",
        )
        bank_accounts.bank_account_verify(
            actor=clerk2, bank_account_id=account.pk, how_confirmed="called the number on their first invoice"
        )
        made = []
        for bill_number, due_in, items, fate in BILLS:
            payable = Payable.objects.create(
                bill_number=bill_number,
                vendor=vendor,
                bank_account=account,
                due_date=today + dt.timedelta(days=due_in),
                created_by=clerk,
            )
            for name, unit_price, quantity in items:
                payable.items.create(name=name, unit_price_cents=unit_price, quantity=quantity)
            drafts.payable_record_edit(payable_id=payable.pk, actor=clerk, before={}, created=True)
            services.payable_submit(payable_id=payable.pk, actor=clerk)
            if fate != "waits":
                services.payable_approve(payable_id=payable.pk, actor=backup, comment="demo data")
            if fate == "held":
                holds.payable_hold(
                    payable_id=payable.pk,
                    actor=backup,
                    reason="Northwind is checking the desk count on the delivery note",
                    release_on=today + dt.timedelta(days=7),
                )
            elif fate == "scheduled":
                scheduled.payable_schedule_pay(payable_id=payable.pk, actor=payer, pay_on=payable.due_date)
            made.append(f"{bill_number} {fate}")
        return made
