from django.core.management.base import BaseCommand, CommandError

from core.audit import verify_chain


class Command(BaseCommand):
    help = "Walk the audit trail's hash chain and name the first event that was altered or removed."

    def handle(self, *args, **options):
        report = verify_chain()
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Audit log intact: {report.checked:,} events verified."))
            return
        raise CommandError(f"Audit log broken after {report.checked:,} events checked. {report.problem.message}")
