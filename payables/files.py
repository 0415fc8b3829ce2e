"""A payable's PDF in the admin: served to those who may see the payable, linked to from its page.

The file lives in default storage (MEDIA_ROOT on one machine, a private S3-compatible bucket with STORAGE_URL),
which nothing serves publicly; the page links to the payable's own download page (`admin:payables_payable_file`),
which checks the permission first and reads the file through the storage API (never a path on this disk).
"""

import os

from django.contrib.admin.widgets import AdminFileWidget
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.html import format_html

GONE = "The PDF of this payable is no longer in storage."


def file_url(payable) -> str:
    return reverse("admin:payables_payable_file", args=[payable.pk])


def file_name(payable) -> str:
    return os.path.basename(payable.file.name)


def download_response(payable) -> FileResponse:
    """The stored bytes: shown in the browser when they are a PDF, otherwise offered as a download."""
    try:
        handle = payable.file.open("rb")
        is_pdf = handle.read(1024).lstrip().startswith(b"%PDF-")
    except FileNotFoundError:
        raise Http404(GONE) from None
    except Exception:
        # Object storage says "no such key" in its own words (S3 opens lazily, so it is the read that fails).
        if not payable.file.storage.exists(payable.file.name):
            raise Http404(GONE) from None
        raise
    handle.seek(0)
    response = FileResponse(
        handle,
        as_attachment=not is_pdf,
        filename=file_name(payable),
        content_type="application/pdf" if is_pdf else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def file_link(payable):
    """The link a read-only payable page shows for its PDF ("" when none is attached)."""
    if not payable or not payable.pk or not payable.file:
        return ""
    return format_html('<a href="{}">{}</a>', file_url(payable), file_name(payable))


class _Current:
    """What the upload widget shows as "Currently": the file's name, linked to the download page."""

    def __init__(self, url: str, name: str):
        self.url = url
        self.name = name

    def __str__(self) -> str:
        return self.name


class PayableFileInput(AdminFileWidget):
    """The admin's file input, its "Currently" link pointing at the payable's download page."""

    download_url = ""

    def format_value(self, value):
        value = super().format_value(value)
        if value and self.download_url and getattr(value, "name", None):
            return _Current(self.download_url, os.path.basename(value.name))
        return value
