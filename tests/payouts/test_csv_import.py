"""Reading hostile and messy CSV files: preview totals and per-row errors with line numbers."""

import pytest

from payouts import csv_import
from payouts.errors import FileRefused
from payouts.models import PayeeImportRow
from payouts.services import payee_imports

from .conftest import csv_bytes, good_rows, phone, upload

pytestmark = pytest.mark.django_db

Row = PayeeImportRow.Status


def preview(data: bytes, actor):
    return payee_imports.payee_import_preview(fileobj=upload(data), file_name="payees.csv", actor=actor)


def test_utf8_with_bom_is_read_and_its_header_matched(operator):
    data = "\ufeff".encode() + csv_bytes(["Zoë,Ångström,zoe@example.com," + phone()])
    imp = preview(data, operator)
    assert (imp.total_rows, imp.valid_rows, imp.encoding) == (1, 1, "utf-8-sig")
    assert imp.rows.get().first_name == "Zoë"


def test_windows_1252_file_is_read_as_such(operator):
    data = csv_bytes(["José,Müller,jose@example.com," + phone()], encoding="cp1252")
    imp = preview(data, operator)
    assert imp.encoding == "cp1252"
    assert imp.rows.get().last_name == "Müller"


def test_a_file_in_neither_encoding_is_refused_naming_the_byte(operator):
    data = csv_bytes(["Ann,Lee,ann@example.com," + phone()]) + b"\x81\x8d\x90"
    with pytest.raises(FileRefused, match="UTF-8 or as Windows-1252.*0x81"):
        preview(data, operator)


def test_semicolons_crlf_and_aliased_headers_are_understood(operator):
    data = csv_bytes(
        [f"Ann;Lee;ann@example.com;{phone()}"], header="First Name;Last-Name;E-mail;Mobile", newline="\r\n"
    )
    imp = preview(data, operator)
    assert (imp.delimiter, imp.valid_rows) == (";", 1)


def test_quoted_newlines_keep_the_row_and_its_starting_line_number(operator):
    data = csv_bytes([f'"Ann\nMarie",Lee,ann@example.com,{phone()}', "Bob,,bob@example.com," + phone()])
    imp = preview(data, operator)
    rows = list(imp.rows.order_by("line_number"))
    assert rows[0].first_name == "Ann\nMarie" and rows[0].status == Row.PENDING
    assert (rows[1].line_number, rows[1].error_column, rows[1].status) == (4, "last_name", Row.INVALID)


def test_blank_lines_are_skipped_and_not_counted(operator):
    data = csv_bytes(["", *good_rows(2), "", ",,,", ""])
    imp = preview(data, operator)
    assert imp.total_rows == 2


def test_invalid_rows_say_line_column_value_and_why(operator):
    data = csv_bytes(
        [
            "Ann,Lee,not-an-email," + phone(),
            "Bob,Ray,bob@example.com,12345",
            "Cy,Day,cy@example.com," + phone() + ",12.345",
            "Dee,Fay,dee@example.com," + phone() + ",-5",
        ],
        header="first_name,last_name,email,phone,amount",
    )
    imp = preview(data, operator)
    errors = {r.line_number: (r.error_column, r.error_value, r.error) for r in imp.rows.filter(status=Row.INVALID)}
    assert errors[2][:2] == ("email", "not-an-email") and "not a valid email" in errors[2][2]
    assert errors[3][:2] == ("phone", "12345") and "not a valid phone number for US" in errors[3][2]
    assert errors[4][:2] == ("amount", "12.345") and "at most 2 decimals" in errors[4][2]
    assert errors[5][0] == "amount"
    assert (imp.total_rows, imp.invalid_rows, imp.valid_rows) == (4, 4, 0)


def test_formula_cells_are_refused_as_names(operator):
    data = csv_bytes(['=HYPERLINK("http://x"),Lee,ann@example.com,' + phone()])
    imp = preview(data, operator)
    row = imp.rows.get()
    assert row.status == Row.INVALID and "formula" in row.error


def test_nul_bytes_make_the_row_invalid_and_are_not_stored(operator):
    data = csv_bytes(["An\x00n,Lee,ann@example.com," + phone()])
    imp = preview(data, operator)
    row = imp.rows.get()
    assert row.status == Row.INVALID and "NUL" in row.error
    assert "\x00" not in "".join(row.cells)


def test_a_missing_required_column_is_named(operator):
    data = csv_bytes(["Ann,Lee,ann@example.com"], header="first_name,last_name,email")
    with pytest.raises(FileRefused, match="Missing required column.*phone"):
        preview(data, operator)


def test_ten_megabytes_of_junk_is_refused_without_a_server_error(operator):
    junk = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    with pytest.raises(FileRefused):
        preview(junk, operator)


def test_a_file_over_the_size_limit_is_refused_up_front(operator):
    data = csv_bytes(good_rows(1)) + b"x" * (csv_import.MAX_FILE_BYTES + 1)
    with pytest.raises(FileRefused, match="the limit is"):
        preview(data, operator)


def test_duplicate_phones_in_the_file_are_flagged_against_the_first(operator):
    number = phone()
    data = csv_bytes([f"Ann,Lee,ann@example.com,{number}", f"Ann,Lee,other@example.com,+1{number}"])
    imp = preview(data, operator)
    dup = imp.rows.get(status=Row.DUPLICATE)
    assert (dup.line_number, dup.error) == (3, "same phone as line 2")
    assert (imp.valid_rows, imp.duplicate_rows) == (1, 1)


def test_rows_matching_an_existing_payee_are_flagged(operator):
    from payouts.models import Payee

    number = phone()
    Payee.objects.create(first_name="A", last_name="B", email="a@example.com", phone_e164="+1" + number)
    imp = preview(csv_bytes([f"Ann,Lee,new@example.com,{number}"]), operator)
    row = imp.rows.get()
    assert row.status == Row.EXISTING and "already a payee" in row.error
