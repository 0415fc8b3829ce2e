"""python manage.py import_payees FILE [--dry-run] [--as USERNAME]

Previews the file (the same checks as the admin page), prints the totals and every
rejected row, then, unless --dry-run, creates the valid rows in Dots in this process
(no worker needed) and prints the final counts.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.audit import system_user
from core.errors import DomainError
from payouts import selectors
from payouts.services import payee_import_check, payee_imports


class Command(BaseCommand):
    help = "Import payees from a CSV file (preview with --dry-run)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Preview only: nothing is created in Dots")
        parser.add_argument("--as", dest="username", help="Record the import as this user (default: system)")

    def handle(self, *args, file, dry_run, username, **options):
        actor = get_user_model().objects.get(username=username) if username else system_user()
        try:
            with open(file, "rb") as handle:
                payee_import = payee_import_check.payee_import_preview(fileobj=handle, file_name=file, actor=actor)
        except FileNotFoundError as exc:
            raise CommandError(f"{file}: no such file") from exc
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        out = self.stdout
        out.write(
            f"{payee_import}: {payee_import.total_rows} rows, {payee_import.valid_rows} valid, "
            f"{payee_import.invalid_rows} invalid, {payee_import.duplicate_rows} duplicates"
        )
        for row in selectors.import_problem_rows(payee_import, limit=10_000):
            out.write(f"  line {row.line_number}: {row.get_status_display()}: {row.error}")
        if dry_run:
            payee_imports.payee_import_discard(import_id=payee_import.pk, actor=actor)
            out.write("Dry run: nothing was created.")
            return
        payee_imports.payee_import_confirm(import_id=payee_import.pk, actor=actor)
        payee_import = payee_imports.payee_import_process(import_id=payee_import.pk, actor=actor)
        out.write(
            f"{payee_import.get_status_display()}: {payee_import.created_count} created, "
            f"{payee_import.linked_count} linked, {payee_import.failed_count} failed."
        )
