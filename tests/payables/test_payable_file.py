"""A payable's PDF opens from its page through an authenticated download page, never a public /media/ URL."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from core import roles
from payables import services
from tests.support import login_verified, make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def with_pdf(make_payable):
    payable = make_payable()
    payable.file.save("acme-inv-7.pdf", ContentFile(PDF), save=True)
    return payable


def _download(client, payable):
    return client.get(reverse("admin:payables_payable_file", args=[payable.pk]))


def test_someone_who_may_see_the_payable_gets_its_pdf(client, people, with_pdf):
    login_verified(client, people.approver)
    response = _download(client, with_pdf)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline;")
    assert "acme-inv-7" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_file_that_is_not_a_pdf_is_offered_as_a_download_never_shown(client, people, make_payable):
    payable = make_payable()
    payable.file.save("bill.pdf", ContentFile(b"<html><script>alert(1)</script></html>"), save=True)
    login_verified(client, people.approver)
    response = _download(client, payable)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_role_that_may_not_see_payables_is_refused(client, with_pdf):
    login_verified(client, make_user("money-in", role=roles.RECEIVABLES_CLERK))
    response = _download(client, with_pdf)
    assert response.status_code == 403
    assert PDF not in response.content


def test_someone_not_signed_in_is_sent_to_sign_in(client, with_pdf):
    response = _download(client, with_pdf)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_payable_without_a_pdf_answers_not_found(client, people, make_payable):
    login_verified(client, people.approver)
    assert _download(client, make_payable()).status_code == 404


def _page(client, payable):
    return client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()


@pytest.mark.parametrize("who", ["clerk", "approver", "submitted"])
def test_the_payable_page_links_to_the_download_page_not_to_media(client, people, with_pdf, who):
    """The clerk's form (editable), an approver's read-only view, and a submitted payable's page."""
    if who == "submitted":
        services.payable_submit(payable_id=with_pdf.pk, actor=people.clerk)
    login_verified(client, people.clerk if who != "approver" else people.approver)
    html = _page(client, with_pdf)
    url = reverse("admin:payables_payable_file", args=[with_pdf.pk])
    assert f'href="{url}"' in html
    assert "/media/" not in html
    assert "acme-inv-7" in html
