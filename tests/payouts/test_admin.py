"""The admin pages over HTTP: upload, preview errors, confirm, progress JSON, cancel, add forms."""

import io

import pytest
from django.core.management import call_command

from payouts.models import Payee, PayeeImport, PayoutLink
from tests.support import login_verified

from .conftest import csv_bytes, good_rows, phone

pytestmark = pytest.mark.django_db


def upload_file(client, data: bytes, name="payees.csv"):
    f = io.BytesIO(data)
    f.name = name
    return client.post("/admin/payouts/payeeimport/add/", {"file": f})


def test_upload_shows_the_preview_with_line_numbered_errors_and_creates_nothing(dots, operator, client):
    login_verified(client, operator)
    response = upload_file(client, csv_bytes(good_rows(2) + ["Ann,Lee,not-an-email," + phone()]))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'id="valid-rows">2<' in page and 'id="invalid-rows">1<' in page
    assert "<td>4</td>" in page and "not-an-email" in page and "not a valid email address" in page
    assert dots.received("POST", "/v2/users") == []


def test_a_refused_file_keeps_the_form_and_says_why(dots, operator, client):
    login_verified(client, operator)
    response = upload_file(client, csv_bytes(["Ann,Lee"], header="first_name,last_name"))
    assert response.status_code == 200
    assert "Missing required column" in response.content.decode()
    assert PayeeImport.objects.count() == 0


def test_confirm_imports_and_progress_json_reaches_the_end(dots, operator, client, django_capture_on_commit_callbacks):
    login_verified(client, operator)
    imp_url = upload_file(client, csv_bytes(good_rows(3)))["Location"]
    imp = PayeeImport.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/payouts/payeeimport/{imp.pk}/confirm/")
    progress = client.get(f"/admin/payouts/payeeimport/{imp.pk}/progress.json").json()
    assert progress["finished"] and (progress["created"], progress["remaining"], progress["percent"]) == (3, 0, 100)
    assert "Completed" in client.get(imp_url).content.decode()


def test_discard_at_preview_creates_nothing(dots, operator, client):
    login_verified(client, operator)
    upload_file(client, csv_bytes(good_rows(2)))
    imp = PayeeImport.objects.get()
    client.post(f"/admin/payouts/payeeimport/{imp.pk}/discard/")
    imp.refresh_from_db()
    assert imp.status == PayeeImport.Status.DISCARDED and Payee.objects.count() == 0


def test_a_manager_cannot_confirm_an_import(dots, operator, client):
    from core import roles
    from tests.support import make_user

    login_verified(client, operator)
    upload_file(client, csv_bytes(good_rows(1)))
    imp = PayeeImport.objects.get()
    client.logout()
    login_verified(client, make_user("manager", role=roles.MANAGER))
    assert client.post(f"/admin/payouts/payeeimport/{imp.pk}/confirm/").status_code == 403


def test_add_payee_page_creates_it_in_dots(dots, operator, client):
    login_verified(client, operator)
    number = phone()
    response = client.post(
        "/admin/payouts/payee/add/",
        {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "phone": number, "country": "US"},
    )
    assert response.status_code == 302
    assert Payee.objects.get().dots_user_id


def test_add_payee_with_a_bad_phone_keeps_what_was_typed(dots, operator, client):
    login_verified(client, operator)
    response = client.post(
        "/admin/payouts/payee/add/",
        {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "phone": "12", "country": "US"},
    )
    page = response.content.decode()
    assert response.status_code == 200 and "not a valid phone number" in page and 'value="Ann"' in page


def test_add_payout_link_page_sends_it_after_commit(dots, operator, client, django_capture_on_commit_callbacks):
    login_verified(client, operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/payouts/payoutlink/add/", {"amount": "12.34", "delivery_method": "link", "memo": "thanks"}
        )
    assert response.status_code == 302
    link = PayoutLink.objects.get()
    assert (link.amount_cents, link.status) == (1234, "created")


def test_management_command_dry_run_creates_nothing(dots, tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes(good_rows(2) + ["X,Y,bad," + phone()]))
    call_command("import_payees", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "3 rows, 2 valid, 1 invalid" in out and "line 4" in out and "nothing was created" in out
    assert dots.received("POST", "/v2/users") == []


def test_management_command_imports(dots, tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes(good_rows(2)))
    call_command("import_payees", str(path))
    assert "2 created" in capsys.readouterr().out
    assert Payee.objects.count() == 2


def test_verify_page_verifies_the_payee_with_the_code_dots_sent(dots, operator, client):
    from payouts.services import payees

    payee = payees.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(), actor=operator)
    login_verified(client, operator)
    client.post("/admin/payouts/payee/", {"action": "send_verification_token", "_selected_action": [payee.pk]})
    token = dots.control_get(f"users/{payee.dots_user_id}/verification-token")["token"]
    wrong = client.post(
        f"/admin/payouts/payee/{payee.pk}/verify/", {"token": "000000" if token != "000000" else "111111"}
    )
    assert "incorrect token" in wrong.content.decode()
    assert client.post(f"/admin/payouts/payee/{payee.pk}/verify/", {"token": token}).status_code == 302
    payee.refresh_from_db()
    assert payee.dots_status == "verified"


def test_payout_request_page_sends_one_to_a_new_phone(dots, operator, client, django_capture_on_commit_callbacks):
    from payouts.models import PayoutRequest

    login_verified(client, operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/payouts/payoutrequest/add/",
            {"phone": phone(), "country": "US", "amount": "20.00", "memo": "refund"},
        )
    assert response.status_code == 302
    request = PayoutRequest.objects.get()
    assert (request.status, request.amount_cents) == ("created", 2000) and request.dots_id


def test_editing_a_payees_metadata_updates_it_in_dots(dots, operator, client):
    import requests

    from payouts.services import payees

    payee = payees.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(), actor=operator)
    login_verified(client, operator)
    response = client.post(
        f"/admin/payouts/payee/{payee.pk}/edit/", {"external_id": "EMP-7", "metadata": '{"team": "north"}'}
    )
    assert response.status_code == 302
    user = requests.get(f"{dots.base_url}/v2/users/{payee.dots_user_id}", auth=dots.auth).json()
    assert user["metadata"] == {"team": "north"}
    payee.refresh_from_db()
    assert (payee.external_id, payee.metadata) == ("EMP-7", {"team": "north"})


# --- custom pages check their own permission ------------------------------------------------------


def _payouts_custom_pages():
    """Every page the payouts ModelAdmins add to the admin (read from the admin, not listed here)."""
    from django.contrib import admin

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label == "payouts":
            for page in model_admin.admin_pages():
                yield model, page


def test_a_manager_opens_no_custom_payouts_page_that_changes_anything(dots, client):
    from django.urls import reverse

    from core import roles
    from tests.payouts.admin_access import INSTANCE_FACTORIES
    from tests.support import make_user

    login_verified(client, make_user("manager", role=roles.MANAGER))
    read_only = {"payouts.payeeimport progress", "payouts.payeeimport failed_rows"}
    # Pages a manager reads (GET) whose POST adds something: the POST is refused.
    read_only_get = {"payouts.payee payout_methods"}
    # Downloads a manager reads (GET); a POST is not a method they answer (405), so it changes nothing.
    downloads = {"payouts.payoutrun items_export"}
    wrong = []
    for model, page in _payouts_custom_pages():
        label = f"{model._meta.label_lower} {page.name}"
        args = [INSTANCE_FACTORIES[model._meta.label_lower]().pk] if "object_id" in page.route else []
        if "<str:fmt>" in page.route:
            args.append("csv")
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page.name}", args=args)
        for method in (client.get, client.post):
            status = method(url).status_code
            if label in downloads:
                if status != (200 if method == client.get else 405):
                    wrong.append(f"{label} {method.__name__}: {status}")
                continue
            readable = label in read_only or (label in read_only_get and method == client.get)
            if (status == 200) != readable or status not in (200, 403):
                wrong.append(f"{label} {method.__name__}: {status}")
    assert wrong == []


def test_a_manager_cannot_refresh_transfers_from_dots(dots, client):
    from core import roles
    from payouts.models import Transfer
    from tests.support import make_user

    dots.control("seed/transfers", {"count": 2, "statuses": {"completed": 2}, "amount": 500})
    login_verified(client, make_user("manager", role=roles.MANAGER))

    assert "Refresh from Dots" not in client.get("/admin/payouts/transfer/").content.decode()
    assert client.post("/admin/payouts/transfer/sync/").status_code == 403
    assert Transfer.objects.count() == 0
    assert dots.received("GET", "/v2/transfers*") == []


def test_a_payer_may_refresh_transfers_from_dots(dots, payer, client):
    from payouts.models import Transfer

    dots.control("seed/transfers", {"count": 2, "statuses": {"completed": 2}, "amount": 500})
    login_verified(client, payer)

    assert "Refresh from Dots" in client.get("/admin/payouts/transfer/").content.decode()
    assert client.post("/admin/payouts/transfer/sync/").status_code == 302
    assert Transfer.objects.count() == 2


def test_an_upload_with_a_cell_over_the_csv_field_limit_is_refused_on_the_form(dots, operator, client, settings):
    # Checked in the request (a larger file is checked by the worker: tests/payouts/test_import_check.py).
    settings.PAYEE_IMPORT_CHECK_IN_REQUEST_BYTES = 2 * 1024 * 1024
    login_verified(client, operator)
    data = csv_bytes([*good_rows(1), f'"Ann,Lee,ann@example.com,{phone()}', *good_rows(20_000)])
    response = upload_file(client, data)
    assert response.status_code == 200
    assert "line 3: a cell is longer than 131,072 characters (an unclosed quote?)" in response.content.decode()
    assert PayeeImport.objects.count() == 0


def test_an_upload_with_a_header_and_no_rows_is_refused_on_the_form(dots, operator, client):
    login_verified(client, operator)
    response = upload_file(client, csv_bytes([]))
    assert response.status_code == 200
    assert "The file has a header but no rows." in response.content.decode()
    assert PayeeImport.objects.count() == 0


def test_management_command_refuses_an_overlong_cell_with_a_message_and_exit_status_1(
    dots, tmp_path, capsys, monkeypatch
):
    from django.db import connections

    from payouts.management.commands.import_payees import Command

    monkeypatch.setattr(connections, "close_all", lambda: None)  # run_from_argv closes them; the test needs its own

    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes([*good_rows(1), f"Ann,Lee,ann@example.com,{phone()},{'x' * 200_000}"]))
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "import_payees", str(path)])
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "line 3: a cell is longer than 131,072 characters" in err and "Traceback" not in err
    assert PayeeImport.objects.count() == 0


def test_payee_labels_are_edited_as_name_value_lines_and_shown_back_so(dots, operator, client):
    import requests

    from payouts.services import payees

    payee = payees.payee_create(first_name="Ann", last_name="Lee", email="a@example.com", phone=phone(), actor=operator)
    login_verified(client, operator)
    url = f"/admin/payouts/payee/{payee.pk}/edit/"
    assert client.post(url, {"external_id": "", "metadata": "team: north\ncost centre: 42\n"}).status_code == 302
    user = requests.get(f"{dots.base_url}/v2/users/{payee.dots_user_id}", auth=dots.auth).json()
    assert user["metadata"] == {"team": "north", "cost centre": "42"}
    page = client.get(url).content.decode()
    assert (
        "cost centre: 42\nteam: north" in page and "{" not in page.split('name="metadata"')[1].split("</textarea>")[0]
    )
    refused = client.post(url, {"external_id": "", "metadata": "team north"})
    assert (
        refused.status_code == 200 and "Line 1 (&#x27;team north&#x27;) is not name: value." in refused.content.decode()
    )
