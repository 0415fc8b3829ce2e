"""The vendors' step of the sync with Dots (declared in vendors/seam.py)."""

from django.contrib.auth.models import User

from core.errors import DomainError, DotsCallError
from core.sync_report import SyncReport
from vendors import services
from vendors.models import Vendor


def vendors_step(*, actor: User, full: bool = False) -> SyncReport:
    """Vendors whose create in Dots ended without an answer: look in Dots, adopt or send again."""
    report = SyncReport("vendors")
    for vendor in Vendor.objects.filter(dots_id__isnull=True, dots_status=Vendor.DotsStatus.UNKNOWN):
        report.checked += 1
        try:
            vendor = services.vendor_send_to_dots(actor=actor, vendor_id=vendor.pk)
        except (DotsCallError, DomainError) as exc:
            report.errors.append(f"Vendor {vendor.name}: {exc}")
            continue
        report.changes.append(f"Vendor {vendor.name}: outcome unknown -> {vendor.get_dots_status_display()}")
    return report
