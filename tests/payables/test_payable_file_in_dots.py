"""A PDF removed from a draft Dots already has is removed in Dots too (audited); replaced, the new one goes."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from core.models import AuditEvent
from payables import drafts, services
from payables.models import Payable

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\nBT (Invoice INV-778) Tj (Total: $1,234.56) Tj ET\n%%EOF\n"
FILE_PATH = "/v2/accounts-payable/payables/*/file"


@pytest.fixture
def from_pdf(people, vendor_account):
    """A draft Dots read from a PDF: Dots holds the payable and its PDF."""
    vendor, account = vendor_account
    upload = SimpleUploadedFile("inv-778.pdf", PDF, content_type="application/pdf")
    return drafts.payable_create_from_file(actor=people.clerk, upload=upload, vendor=vendor, bank_account=account)


def _edit(payable, actor, change, on_commit):
    """What the admin's change page does: the edit, then payable_record_edit, in one transaction."""
    before = drafts.payable_edit_snapshot(Payable.objects.get(pk=payable.pk))
    with on_commit(execute=True), transaction.atomic():
        change(payable)
        drafts.payable_record_edit(payable_id=payable.pk, actor=actor, before=before, created=False)
    payable.refresh_from_db()


def _dots_payable(openapi_session, payable):
    return openapi_session.get(f"/v2/accounts-payable/payables/{payable.dots_id}").json()


def _removed_events(payable):
    return AuditEvent.objects.filter(action="payable.file_removed_in_dots", object_id=str(payable.pk))


def test_removing_the_pdf_here_removes_it_in_dots_and_is_audited(
    dots, openapi_session, people, from_pdf, django_capture_on_commit_callbacks
):
    assert _dots_payable(openapi_session, from_pdf).get("file_url")
    _edit(from_pdf, people.clerk, lambda p: p.file.delete(save=True), django_capture_on_commit_callbacks)
    assert len(dots.received("DELETE", FILE_PATH)) == 1
    assert not _dots_payable(openapi_session, from_pdf).get("file_url")
    assert from_pdf.dots_file_uploaded is False
    (event,) = _removed_events(from_pdf)
    assert event.actor == people.clerk
    # Submitting later sends no file and removes nothing twice.
    services.payable_submit(payable_id=from_pdf.pk, actor=people.clerk)
    assert len(dots.received("DELETE", FILE_PATH)) == 1
    assert dots.received("POST", FILE_PATH) == []


def test_when_dots_is_away_the_pdf_stays_marked_and_the_next_send_to_dots_removes_it(
    dots, openapi_session, people, from_pdf, django_capture_on_commit_callbacks
):
    from payables.selectors import acting_dots_user_id

    dots.add_fault(method="DELETE", path=FILE_PATH, kind="status", status=503, count=50)
    _edit(from_pdf, people.clerk, lambda p: p.file.delete(save=True), django_capture_on_commit_callbacks)
    assert from_pdf.dots_file_uploaded is True  # Dots still holds it, and we know
    assert not _removed_events(from_pdf).exists()
    assert _dots_payable(openapi_session, from_pdf).get("file_url")

    dots.control("faults/clear")
    # What submit does first (it sends the draft to Dots): the PDF goes there before anything else.
    services._ensure_in_dots(from_pdf, acting_user_id=acting_dots_user_id(people.clerk), actor=people.clerk)
    from_pdf.refresh_from_db()
    assert not _dots_payable(openapi_session, from_pdf).get("file_url")
    assert from_pdf.dots_file_uploaded is False
    assert _removed_events(from_pdf).count() == 1
    assert dots.received("POST", FILE_PATH) == []


def test_replacing_the_pdf_sends_the_new_one_at_submit(
    dots, openapi_session, people, from_pdf, django_capture_on_commit_callbacks
):
    new = b"%PDF-1.4\nBT (Invoice INV-778 corrected) Tj ET\n%%EOF\n"
    _edit(
        from_pdf,
        people.clerk,
        lambda p: p.file.save("inv-778-corrected.pdf", ContentFile(new), save=True),
        django_capture_on_commit_callbacks,
    )
    assert dots.received("DELETE", FILE_PATH) == []
    assert from_pdf.dots_file_uploaded is False
    services.payable_submit(payable_id=from_pdf.pk, actor=people.clerk)
    assert len(dots.received("POST", FILE_PATH)) == 1


def test_a_draft_dots_does_not_have_yet_calls_nothing(dots, people, make_payable, django_capture_on_commit_callbacks):
    payable = make_payable()
    payable.file.save("bill.pdf", ContentFile(PDF), save=True)
    _edit(payable, people.clerk, lambda p: p.file.delete(save=True), django_capture_on_commit_callbacks)
    assert dots.received("DELETE", FILE_PATH) == []
    assert not _removed_events(payable).exists()
