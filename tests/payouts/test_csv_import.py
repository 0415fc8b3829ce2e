"""Reading hostile and messy CSV files: preview totals and per-row errors with line numbers."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payouts import csv_import
from payouts.errors import FileRefused
from payouts.models import PayeeImport, PayeeImportRow
from payouts.services import payee_import_check

from .conftest import csv_bytes, good_rows, phone, upload

pytestmark = pytest.mark.django_db

Row = PayeeImportRow.Status


def preview(data: bytes, actor):
    return payee_import_check.payee_import_preview(fileobj=upload(data), file_name="payees.csv", actor=actor)


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


def test_formula_looking_names_and_memos_are_data_kept_as_typed(operator):
    """An honest "-5% early payment" or "+ travel" memo, even "=HYPERLINK(...)", is not a reason to refuse a row."""
    header = "first_name,last_name,email,phone,amount,memo"
    data = csv_bytes(
        [
            f'"=HYPERLINK(""http://x"")",Lee,ann@example.com,{phone()},10,-5% early payment',
            f"+Bo,@Lee,bo@example.com,{phone()},10,+ travel",
        ],
        header=header,
    )
    imp = preview(data, operator)
    assert (imp.valid_rows, imp.invalid_rows) == (2, 0)
    rows = list(imp.rows.order_by("line_number").values_list("first_name", "last_name", "memo"))
    assert rows == [('=HYPERLINK("http://x")', "Lee", "-5% early payment"), ("+Bo", "@Lee", "+ travel")]


def test_formula_looking_cells_are_neutralised_in_the_failed_rows_download(operator, client):
    from tests.support import login_verified

    data = csv_bytes(["=cmd|' /C calc'!A0,Lee,not-an-email," + phone()])
    imp = preview(data, operator)
    login_verified(client, operator)
    body = b"".join(client.get(f"/admin/payouts/payeeimport/{imp.pk}/failed-rows.csv").streaming_content).decode()
    assert "'=cmd" in body and not any(line.startswith(("=", "+", "-", "@")) for line in body.splitlines())


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


def test_a_cell_over_the_csv_field_limit_is_refused_naming_its_line(operator):
    memo = "x" * 200_000
    data = csv_bytes([*good_rows(1), f"Ann,Lee,ann@example.com,{phone()},{memo}"], header="first,last,email,phone,memo")
    with pytest.raises(FileRefused) as refused:
        preview(data, operator)
    assert str(refused.value) == "line 3: a cell is longer than 131,072 characters (an unclosed quote?)"
    assert not PayeeImport.objects.exists()


def test_an_unclosed_quote_before_many_rows_is_refused_naming_the_line_it_opens(operator):
    data = csv_bytes([*good_rows(1), f'"Ann,Lee,ann@example.com,{phone()}', *good_rows(20_000)])
    with pytest.raises(
        FileRefused, match=r"^line 3: a cell is longer than 131,072 characters \(an unclosed quote\?\)$"
    ):
        preview(data, operator)
    assert not PayeeImport.objects.exists()


def test_a_header_line_over_the_field_limit_is_refused_naming_its_line(operator):
    data = csv_bytes(good_rows(1), header='\n"first_name' + "x" * 200_000 + ",last_name,email,phone")
    with pytest.raises(FileRefused, match=r"^line 2: a cell is longer than 131,072 characters"):
        preview(data, operator)


def test_a_file_with_a_header_and_no_rows_is_refused(operator):
    with pytest.raises(FileRefused, match=r"^The file has a header but no rows\.$"):
        preview(csv_bytes(["", ",,,", ""]), operator)
    assert not PayeeImport.objects.exists()


def test_a_nul_byte_in_the_header_is_shown_escaped_in_the_missing_column_message(operator):
    data = csv_bytes(["Ann,Lee,ann@example.com," + phone()], header="first_name,last_name,email,pho\x00ne")
    with pytest.raises(FileRefused) as refused:
        preview(data, operator)
    message = str(refused.value)
    assert "\x00" not in message and "pho\\x00ne" in message and "Missing required column(s): phone" in message


def test_a_nul_byte_in_an_extra_column_name_is_refused_naming_the_line_not_stored(operator):
    data = csv_bytes(["Ann,Lee,ann@example.com," + phone() + ",x"], header="first_name,last_name,email,phone,no\x00te")
    with pytest.raises(FileRefused) as refused:
        preview(data, operator)
    assert str(refused.value) == "line 1: the column 'no\\x00te' contains a NUL byte; remove it."
    assert not PayeeImport.objects.exists()


def test_cell_values_in_row_errors_are_shown_with_control_characters_escaped(operator):
    imp = preview(csv_bytes(["Ann,Lee,ann\x1b@example.com," + phone()]), operator)
    row = imp.rows.get()
    assert "\x1b" not in row.error and "ann\\x1b@example.com" in row.error


def _duplicates_file(duplicates: int, total: int = 1001) -> bytes:
    """`duplicates` rows repeating line 2's phone, as many its email, distinct rows up to `total`."""
    number = phone()
    rows = [f"Ann,Lee,first@example.com,{number}"]
    rows += [f"Ann{i},Lee,dup{i}@example.com,{number}" for i in range(duplicates)]
    rows += [f"Bob{i},Ray,first@example.com,{phone()}" for i in range(duplicates)]
    return csv_bytes(rows + good_rows(total - len(rows)))


def _existing_file(existing: int, total: int = 1001) -> bytes:
    from payouts.models import Payee

    numbers = [phone() for _ in range(existing)]
    Payee.objects.bulk_create(
        Payee(first_name="A", last_name="B", email=f"p{n}@example.com", phone_e164="+1" + n) for n in numbers
    )
    return csv_bytes([f"Ann,Lee,new{n}@example.com,{n}" for n in numbers] + good_rows(total - existing))


@pytest.mark.parametrize("make_file", [_duplicates_file, _existing_file])
def test_a_previews_query_count_does_not_grow_with_duplicate_or_existing_rows(operator, make_file):
    preview(csv_bytes(good_rows(1)), operator)  # first-use caches (content types, permissions) filled here
    counts = []
    for size in (50, 500):
        data = make_file(size)
        with CaptureQueriesContext(connection) as queries:
            preview(data, operator)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_duplicate_rows_name_the_first_line_with_their_phone_or_email(operator):
    imp = preview(_duplicates_file(3, total=7), operator)
    dups = {r.line_number: (r.error, r.error_column) for r in imp.rows.filter(status=Row.DUPLICATE)}
    assert dups == {
        3: ("same phone as line 2", "phone"),
        4: ("same phone as line 2", "phone"),
        5: ("same phone as line 2", "phone"),
        6: ("same email as line 2", "email"),
        7: ("same email as line 2", "email"),
        8: ("same email as line 2", "email"),
    }
    assert (imp.valid_rows, imp.duplicate_rows) == (1, 6)


def test_a_duplicate_names_whichever_earlier_line_comes_first(operator):
    a, b = phone(), phone()
    imp = preview(
        csv_bytes([f"Ann,Lee,x@example.com,{a}", f"Bob,Ray,y@example.com,{b}", f"Cy,Day,x@example.com,{b}"]), operator
    )
    dup = imp.rows.get(status=Row.DUPLICATE)
    assert (dup.line_number, dup.error, dup.error_value) == (4, "same email as line 2", "x@example.com")


def test_rows_matching_existing_payees_are_linked_to_them(operator):
    from payouts.models import Payee

    imp = preview(_existing_file(3, total=3), operator)
    rows = list(imp.rows.order_by("line_number"))
    assert [r.status for r in rows] == [Row.EXISTING] * 3
    assert all(
        r.payee == Payee.objects.get(phone_e164=r.phone_e164) and f"already a payee: {r.payee}" == r.error for r in rows
    )


def test_a_number_of_another_region_of_the_same_calling_code_is_valid_and_a_bad_one_is_not(operator):
    # Toronto and Kingston (Jamaica) share +1 with the US: valid although the file's region is US.
    data = csv_bytes(
        [
            "Ann,Lee,ann@example.com,416 555 0142",
            "Bo,Lee,bo@example.com,876 927 1234",
            "Cy,Lee,cy@example.com,099 555 0142",
            "Di,Lee,di@example.com,+44 20 7946 0958",
        ]
    )
    imp = preview(data, operator)
    rows = {r.first_name: r for r in imp.rows.all()}
    assert rows["Ann"].phone_e164 == "+14165550142" and rows["Ann"].status == Row.PENDING
    assert rows["Bo"].phone_e164 == "+18769271234" and rows["Bo"].status == Row.PENDING
    assert rows["Cy"].status == Row.INVALID and "not a valid phone number" in rows["Cy"].error
    assert rows["Di"].phone_e164 == "+442079460958" and rows["Di"].country == "GB"


def test_cells_with_tabs_backslashes_newlines_and_quotes_are_stored_as_typed(operator):
    """The rows go in by COPY on PostgreSQL and executemany on SQLite: either way, byte for byte."""
    memo = 'line one\nline\ttwo \\N back\\slash "quoted" ünïcode'
    data = csv_bytes(
        [f'Ann,Lee,ann@example.com,{phone()},10,"{memo.replace(chr(34), chr(34) * 2)}"'],
        header="first_name,last_name,email,phone,amount,memo",
    )
    imp = preview(data, operator)
    row = imp.rows.get()
    assert row.memo == memo and row.cells[-1] == memo and row.status == Row.PENDING


def test_a_row_matching_payees_by_email_only_is_linked_to_the_newest_of_them(operator):
    from payouts.models import Payee

    old = Payee.objects.create(first_name="Old", last_name="One", email="shared@example.com", phone_e164="+1" + phone())
    new = Payee.objects.create(first_name="New", last_name="One", email="shared@example.com", phone_e164="+1" + phone())
    imp = preview(csv_bytes([f"Ann,Lee,Shared@Example.com,{phone()}"]), operator)
    row = imp.rows.get()
    assert new.pk > old.pk
    assert (row.status, row.payee, row.error) == (Row.EXISTING, new, f"already a payee: {new}")
    assert (imp.existing_rows, imp.duplicate_rows, imp.valid_rows) == (1, 1, 0)


def test_a_row_repeating_an_existing_payees_row_is_a_duplicate_of_that_line(operator):
    from payouts.models import Payee

    number = phone()
    Payee.objects.create(first_name="A", last_name="B", email="a@example.com", phone_e164="+1" + number)
    imp = preview(
        csv_bytes([f"Ann,Lee,ann.new@example.com,{number}", f"Bob,Ray,ann.new@example.com,{phone()}", *good_rows(1)]),
        operator,
    )
    statuses = {r.line_number: (r.status, r.error) for r in imp.rows.all()}
    assert statuses[2][0] == Row.EXISTING
    assert statuses[3] == (Row.DUPLICATE, "same email as line 2")
    assert statuses[4] == (Row.PENDING, "")


def _phone_shapes():
    """US phone numbers as people type them, valid and not: every area code, random exchanges and lines,
    with and without 1 / +1, in the usual punctuations, plus near misses (9, 11, 12 digits, + alone)."""
    import random

    rng = random.Random(18)
    layouts = [
        "{a}{b}{c}",
        "({a}) {b}-{c}",
        "{a}-{b}-{c}",
        "{a}.{b}.{c}",
        "{a} {b} {c}",
        "({a}){b}-{c}",
        " {a} - {b} - {c} ",
        "(({a})) {b}..{c}",
        "{a}{b}{c}(",
    ]
    prefixes = ["", "1", "+1", "1 ", "+1 ", "+1-", "1-", "+", "11", "01", "+11", "0", "+44 "]
    for area in range(0, 1000):
        for _ in range(12):
            a = f"{area:03d}"
            b = f"{rng.randrange(1000):03d}" if rng.random() < 0.8 else rng.choice(["555", "211", "911", "011", "100"])
            c = f"{rng.randrange(10000):04d}"
            yield rng.choice(prefixes) + rng.choice(layouts).format(a=a, b=b, c=c)
    for length in (9, 11, 12):
        for _ in range(500):
            yield "".join(rng.choice("0123456789") for _ in range(length))
    yield from ["", "1", "+1", "()", "2015550100" + " " * 40, "201 555 0100 x12", "201/555/0100"]
    yield "２０１５５５０１００"  # full-width digits


def test_the_us_phone_shortcut_reads_every_shape_as_phonenumbers_parse_does():
    checked = csv_import._checked_phone.__wrapped__  # not the cache: each shape computed afresh
    shapes = list(_phone_shapes())
    differ = [(p, checked(p, "US"), csv_import._parsed_phone(p, "US")) for p in shapes]
    differ = [d for d in differ if d[1] != d[2]]
    assert differ == []
    valid = sum(1 for p in shapes if checked(p, "US") is not None)
    assert 1000 < valid < len(shapes) - 1000  # both outcomes well represented
    shortcut = sum(1 for p in shapes if csv_import._NANP.fullmatch(p.translate(csv_import._NANP_PUNCTUATION)))
    assert shortcut > 4000  # thousands took the shortcut, and it agreed on each


def test_a_duplicate_of_an_email_longer_than_the_error_value_column_is_flagged(operator):
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com"  # 250 characters, a valid address
    imp = preview(csv_bytes([f"Ann,Lee,{email},{phone()}", f"Bob,Ray,{email},{phone()}"]), operator)
    dup = imp.rows.get(status=Row.DUPLICATE)
    assert (dup.line_number, dup.error, dup.error_value) == (3, "same email as line 2", email[:200])


@pytest.mark.parametrize("newer_by", ["phone", "email"])
def test_a_row_matching_one_payee_by_phone_and_another_by_email_is_linked_to_the_newer(operator, newer_by):
    from payouts.models import Payee

    first = Payee.objects.create(
        first_name="First", last_name="One", email="first@example.com", phone_e164="+1" + phone()
    )
    second = Payee.objects.create(
        first_name="Second", last_name="Two", email="second@example.com", phone_e164="+1" + phone()
    )
    by_phone, by_email = (second, first) if newer_by == "phone" else (first, second)
    imp = preview(csv_bytes([f"Ann,Lee,{by_email.email},{by_phone.phone_e164}"]), operator)
    row = imp.rows.get()
    assert (row.status, row.payee, row.error) == (Row.EXISTING, second, f"already a payee: {second}")
