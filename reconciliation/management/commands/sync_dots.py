"""`python manage.py sync_dots [--full] [--reconcile]`: bring local records in step with Dots now.

Says what changed, and for steps that follow records one by one how many were due, read and left.
Each step runs to its end, reading every record it follows (a person asked: no time budget, no
backoff); a step the worker is running at that moment is left to it, and the output says so.
"""

from django.core.management.base import BaseCommand

from core import audit
from reconciliation import services, sync


class Command(BaseCommand):
    help = (
        "Sync with Dots now: payables in flight, payout requests and links, transfers (new ones; every one with "
        "--full), payees, vendors, approvers and the app wallet. Prints what changed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="read every transfer, not only the new ones")
        parser.add_argument(
            "--reconcile", action="store_true", help="then compare every record with Dots and report disagreements"
        )
        names = sync.step_names()
        parser.add_argument(
            "--only",
            action="append",
            choices=names,
            metavar="STEP",
            help=f"run only this step (repeatable): {', '.join(names)}",
        )

    def handle(self, *args, full=False, reconcile=False, only=None, **options):
        actor = audit.system_user()
        failed = False
        for report in sync.sync_all(actor=actor, full=full, steps=only):
            self.stdout.write(report.summary())
            for line in report.changes:
                self.stdout.write(f"  changed: {line}")
            for line in report.errors:
                failed = True
                self.stderr.write(f"  failed: {line}")
        if reconcile:
            result = services.reconcile_all(actor=actor, trigger="command")
            self.stdout.write(f"reconciliation: {result.summary()}")
            for line in result.settled:
                self.stdout.write(f"  settled: {line}")
            for line in result.still_in_doubt:
                self.stdout.write(f"  still in doubt: {line}")
            for line in result.opened:
                self.stdout.write(f"  disagreement: {line}")
            for line in result.errors:
                failed = True
                self.stderr.write(f"  failed: {line}")
        if failed:
            self.stderr.write("Some of Dots could not be read; run again when it answers.")
