"""Payables' PDFs in S3-compatible storage (STORAGE_URL), against moto's S3 server started here on a free port:
uploaded, downloaded and deleted through the admin, never on this machine's disk, never at a public URL."""

import os
import subprocess
import sys
import time

import boto3
import pytest
import requests
from django.core.files.storage import storages
from django.urls import reverse

from config.settings import _s3_storage
from payables.models import Payable
from tests.fixtures_emulator import _free_port
from tests.support import login_verified

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
BUCKET = "ledgerline-bills"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "moto-test-key", "AWS_SECRET_ACCESS_KEY": "moto-test-secret"}


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server, as a separate process (real HTTP, as a bucket elsewhere would be)."""
    port = _free_port()
    env = {**os.environ, **CREDENTIALS}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint + "/moto-api/", timeout=2)
                break
            except requests.RequestException:
                assert process.poll() is None, "moto's server stopped"
                assert time.monotonic() < deadline, "moto's server did not start within 30 s"
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def bucket(s3_server, settings, monkeypatch, tmp_path):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **_lower(CREDENTIALS))
    s3.create_bucket(Bucket=BUCKET)
    url = f"s3://{BUCKET}/bills?endpoint_url={s3_server}&region_name=us-east-1&addressing_style=path"
    settings.MEDIA_ROOT = str(tmp_path / "media")  # must stay empty
    settings.STORAGES = {**settings.STORAGES, "default": _s3_storage(url)}
    yield s3
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def _lower(credentials):
    return {name.lower(): value for name, value in credentials.items()}


def _keys(s3) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def _form(vendor, account, **extra):
    return {
        "vendor": vendor.pk,
        "bank_account": account.pk,
        "bill_number": "INV-S3-1",
        "description": "Stored in the bucket",
        "external_id": "",
        "due_date": "2026-12-31",
        "funding_source": "dots_balance",
        "amount_cents": "$1,050.00",
        "items-TOTAL_FORMS": "0",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        **extra,
    }


def test_storage_url_reads_bucket_prefix_and_options():
    spec = _s3_storage("s3://bills/ledgerline?endpoint_url=https://s3.example.com&region_name=eu-west-1")
    assert spec["BACKEND"] == "storages.backends.s3.S3Storage"
    assert spec["OPTIONS"]["bucket_name"] == "bills"
    assert spec["OPTIONS"]["location"] == "ledgerline"
    assert spec["OPTIONS"]["endpoint_url"] == "https://s3.example.com"
    assert spec["OPTIONS"]["default_acl"] is None and spec["OPTIONS"]["querystring_auth"] is True


def test_a_pdf_is_uploaded_to_the_bucket_downloaded_through_the_admin_and_deleted_with_the_draft(
    client, people, vendor_account, bucket, settings, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    assert type(storages["default"]).__name__ == "S3Storage"
    vendor, account = vendor_account
    login_verified(client, people.clerk)
    upload = SimpleUploadedFile("acme bill.pdf", PDF, content_type="application/pdf")
    response = client.post(reverse("admin:payables_payable_add"), _form(vendor, account, file=upload))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    payable = Payable.objects.get(bill_number="INV-S3-1")
    form_page = client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()
    assert "acme" in form_page and BUCKET not in form_page and "X-Amz-" not in form_page
    keys = _keys(bucket)
    assert keys == [f"bills/{payable.file.name}"]
    assert bucket.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read() == PDF
    assert not os.path.exists(settings.MEDIA_ROOT) or not any(os.scandir(settings.MEDIA_ROOT))
    assert payable.file_sha256  # the checksum was read back through the storage API

    # Anyone who may see the payable reads it through the signed-in download page.
    login_verified(client, people.approver)
    page = client.get(reverse("admin:payables_payable_change", args=[payable.pk])).content.decode()
    assert reverse("admin:payables_payable_file", args=[payable.pk]) in page
    assert "127.0.0.1" not in page and BUCKET not in page  # no link to the bucket, signed or not
    download = client.get(reverse("admin:payables_payable_file", args=[payable.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Type"] == "application/pdf"

    # The clerk clears the PDF on the draft: it is gone from the bucket.
    login_verified(client, people.clerk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:payables_payable_change", args=[payable.pk]), _form(vendor, account, **{"file-clear": "on"})
        )
    assert response.status_code == 302
    payable.refresh_from_db()
    assert not payable.file
    assert _keys(bucket) == []
    login_verified(client, people.approver)
    assert client.get(reverse("admin:payables_payable_file", args=[payable.pk])).status_code == 404


def test_a_pdf_missing_from_the_bucket_answers_not_found(client, people, make_payable, bucket):
    from django.core.files.base import ContentFile

    payable = make_payable()
    payable.file.save("bill.pdf", ContentFile(PDF), save=True)
    bucket.delete_object(Bucket=BUCKET, Key=f"bills/{payable.file.name}")
    login_verified(client, people.approver)
    response = client.get(reverse("admin:payables_payable_file", args=[payable.pk]))
    assert response.status_code == 404
