"""Vendors compared with Dots: a vendor one side has and the other lacks.

Dots has no vendor update, so a vendor's fields cannot drift once created; what can
happen is a vendor deleted in Dots' dashboard, or one made there and not here.
"""

from collections.abc import Iterator

from django.contrib.auth.models import User
from django.db import transaction

from core import audit
from core.compare import compare_listing
from core.dots_gateway import client, dots_call, is_not_found
from core.errors import DomainError, DotsRejected
from core.findings import Finding, RecordCheck
from core.models import AuditEvent
from vendors.models import Vendor


def find_vendor_disagreements() -> Iterator[Finding]:
    return compare_listing(
        what="the vendors",
        listing=client().iter_vendors,
        local_rows=lambda ids: Vendor.objects.filter(dots_id__in=ids).values_list("pk", "dots_id"),
        linked_rows=lambda: (
            Vendor.objects.filter(dots_id__isnull=False).values_list("pk", "dots_id", "name").iterator(chunk_size=2000)
        ),
        only_in_dots=lambda vendor: Finding(
            record_type="vendor",
            kind="missing_locally",
            label=f"Dots vendor {vendor.name or vendor.id}",
            local_id=None,
            dots_id=vendor.id,
            local_value="(none)",
            dots_value="in Dots",
            detail="Adopting adds the vendor here (then add its bank accounts here).",
        ),
        only_here=lambda row: Finding(
            record_type="vendor",
            kind="missing_in_dots",
            label=f"Vendor {row[2]} (#{row[0]})",
            local_id=row[0],
            dots_id=row[1],
            local_value="in Dots",
            dots_value="(none)",
            detail="Adopting marks the vendor not in Dots here and stops offering it.",
        ),
    )


def adopt_vendor(*, discrepancy, actor: User) -> str:
    if discrepancy.kind == "missing_in_dots":
        vendor = Vendor.objects.get(pk=discrepancy.local_id)
        try:
            with dots_call("read the vendor"):
                client().retrieve_vendor(vendor_id=vendor.dots_id)
        except DotsRejected as exc:
            if not is_not_found(exc):
                raise
        else:
            raise DomainError(f"Vendor {vendor.name}: Dots has it again; nothing to adopt. Run reconciliation again.")
        with transaction.atomic():
            before = {"dots_status": vendor.dots_status, "active": vendor.active}
            Vendor.objects.filter(pk=vendor.pk).update(
                dots_status=Vendor.DotsStatus.FAILED,
                active=False,
                last_dots_error="Dots has no such vendor (reconciliation)",
            )
            audit.record(
                actor=actor,
                action="vendor.adopted_from_dots",
                target=vendor,
                source=AuditEvent.Source.RECONCILE,
                before=before,
                after={"dots_status": Vendor.DotsStatus.FAILED, "active": False},
                reason="Dots has no such vendor",
            )
        return f"Vendor {vendor.name}: marked not in Dots and no longer offered"
    with dots_call("read the vendor"):
        found = client().retrieve_vendor(vendor_id=discrepancy.dots_id)
    address = found.address or {}
    with transaction.atomic():
        if Vendor.objects.filter(dots_id=found.id).exists():
            raise DomainError(f"Vendor {found.name} is already recorded here.")
        vendor = Vendor.objects.create(
            name=found.name or found.id,
            contact_email=found.contact_email or "",
            external_id=found.external_id or "",
            address_line_1=address.get("address_line_1") or address.get("line1") or "",
            address_line_2=address.get("address_line_2") or address.get("line2") or "",
            city=address.get("city") or "",
            state=(address.get("state") or "")[:2],
            postcode=address.get("postcode") or address.get("zip") or "",
            dots_id=found.id,
            dots_status=Vendor.DotsStatus.CREATED,
            created_by=audit.system_user(),
        )
        audit.record(
            actor=actor,
            action="vendor.adopted_from_dots",
            target=vendor,
            source=AuditEvent.Source.RECONCILE,
            after={"dots_id": found.id, "name": vendor.name},
            reason="Created here from Dots (it was missing here)",
        )
    return f"Vendor {vendor.name}: added from Dots"


VENDOR_CHECK = RecordCheck(label="vendors", model="vendors.vendor", find=find_vendor_disagreements, adopt=adopt_vendor)
