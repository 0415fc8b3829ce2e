"""Reading and validating a payee CSV: streamed, bounded memory, no Django form per row.

A Django form per row validates about 8,000 rows/s here; calling the validators
directly about 31,000 (PITFALLS.md), so rows are checked by plain functions.

What it accepts: UTF-8 with or without a BOM, else Windows-1252 (anything else is
refused naming the offending byte); comma or semicolon separated (decided from the
header line); quoted fields with newlines; CRLF, LF or CR line ends. Headers match
ignoring case, spaces, `_` and `-`, plus common aliases ("First Name", "E-mail",
"Mobile"). Files over MAX_FILE_BYTES are refused before a byte is parsed.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from core.money import MoneyParseError, parse_money
from payouts.errors import FileRefused

# 100,000 rows of name, email, phone, amount and memo take about 8 MB; 20 MB leaves room
# for long memos and refuses anything that is clearly not a payee list.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
REQUIRED = ("first_name", "last_name", "email", "phone")
OPTIONAL = ("country_code", "amount", "memo", "external_id")

ALIASES = {
    "first_name": ("firstname", "first", "givenname", "forename"),
    "last_name": ("lastname", "last", "surname", "familyname"),
    "email": ("email", "emailaddress", "mail"),
    "phone": ("phone", "phonenumber", "mobile", "mobilenumber", "mobilephone", "cell", "cellphone", "telephone", "tel"),
    "country_code": ("countrycode", "country", "phonecountry"),
    "amount": ("amount", "payout", "payoutamount", "amountusd", "amountdue"),
    "memo": ("memo", "note", "notes", "description"),
    "external_id": ("externalid", "reference", "ref", "yourid"),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_NORMALISE = re.compile(r"[\s_\-]+")
_email_validator = EmailValidator()
_CHUNK = 64 * 1024  # encoding check reads this much at a time: peak memory does not grow with the file


def shown(text: str) -> str:
    """A cell as a message may echo it: NUL and other control characters escaped ("\\x00"), letters kept."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _unreadable(line: int, exc: csv.Error) -> FileRefused:
    """csv.Error for the whole file, in words, naming the line where the record that failed began."""
    if "field larger than field limit" in str(exc):
        return FileRefused(
            f"line {line}: a cell is longer than {csv.field_size_limit():,} characters (an unclosed quote?)"
        )
    return FileRefused(f"line {line}: the file could not be read as CSV ({exc}).")


def normalise_header(text: str) -> str:
    return _NORMALISE.sub("", text.strip().strip('"').lstrip("\ufeff").lower())


@dataclass
class ParsedRow:
    line_number: int
    cells: list[str]
    values: dict = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (column, value, why)


@dataclass
class CsvLayout:
    encoding: str
    delimiter: str
    header: list[str]
    columns: dict[str, int]  # field -> index
    has_nul: bool = True  # whether any byte of the file is NUL; rows are searched for it only then

    @property
    def has_amount(self) -> bool:
        return "amount" in self.columns


def _binary(fileobj):
    return getattr(fileobj, "file", fileobj)


def file_size(fileobj) -> int:
    """Bytes in the file: an upload knows its size; any other file is measured (its position kept)."""
    size = getattr(fileobj, "size", None)
    if size is None:
        raw = _binary(fileobj)
        position = raw.tell()
        raw.seek(0, io.SEEK_END)
        size = raw.tell()
        raw.seek(position)
    return int(size)


def check_size(fileobj) -> None:
    size = file_size(fileobj)
    if size > MAX_FILE_BYTES:
        raise FileRefused(
            f"The file is {size / 1048576:.1f} MB; the limit is {MAX_FILE_BYTES // 1048576} MB. "
            f"Split it into smaller files."
        )
    if size == 0:
        raise FileRefused("The file is empty.")


def detect_encoding(fileobj) -> str:
    """'utf-8-sig' if every byte decodes as UTF-8, else 'cp1252' if it does as Windows-1252, else refuse."""
    return _scan(fileobj)[0]


def _scan(fileobj) -> tuple[str, bool]:
    """The encoding (detect_encoding) and whether the file holds a NUL byte, in the same read."""
    raw = _binary(fileobj)
    has_nul = False
    for encoding in ("utf-8-sig", "cp1252"):
        raw.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        offset = 0
        try:
            while chunk := raw.read(_CHUNK):
                decoder.decode(chunk)
                has_nul = has_nul or b"\x00" in chunk
                offset += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            if encoding == "cp1252":
                bad = offset + exc.start
                raise FileRefused(
                    f"The file could not be read as UTF-8 or as Windows-1252 (byte 0x{exc.object[exc.start]:02x} at "
                    f"offset {bad} is neither). Save it as 'CSV UTF-8' and upload it again."
                ) from None
            continue
        raw.seek(0)
        return encoding, has_nul
    raise AssertionError("unreachable")


def _text(fileobj, encoding: str) -> io.TextIOWrapper:
    raw = _binary(fileobj)
    raw.seek(0)
    return io.TextIOWrapper(raw, encoding=encoding, newline="")


def read_layout(fileobj) -> CsvLayout:
    check_size(fileobj)
    encoding, has_nul = _scan(fileobj)
    text = _text(fileobj, encoding)
    line_number = 0
    try:
        first = ""
        while not first.strip():
            line = text.readline()
            if not line:
                raise FileRefused("The file has no header line.")
            line_number += 1
            first = line
    finally:
        text.detach()
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        header = next(csv.reader([first], delimiter=delimiter))
    except csv.Error as exc:
        raise _unreadable(line_number, exc) from None
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = normalise_header(name)
        field_name = key if key in ALIASES else _ALIAS_TO_FIELD.get(key)
        if field_name is None:
            continue
        if field_name in columns:
            raise FileRefused(f"Columns {header[columns[field_name]]!r} and {name!r} both mean {field_name}; keep one.")
        columns[field_name] = index
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        described = "; ".join(f"{name} (also accepted: {', '.join(ALIASES[name][:4])})" for name in missing)
        raise FileRefused(f"Missing required column(s): {described}. The header read was: {shown(', '.join(header))}.")
    nul = next((name for name in header if "\x00" in name), None)
    if nul is not None:
        # The header is stored as JSON, and PostgreSQL refuses NUL in it.
        raise FileRefused(f"line {line_number}: the column '{shown(nul)}' contains a NUL byte; remove it.")
    return CsvLayout(encoding=encoding, delimiter=delimiter, header=header, columns=columns, has_nul=has_nul)


def iter_rows(fileobj, layout: CsvLayout) -> Iterator[ParsedRow]:
    """Every non-blank data row, validated; memory does not grow with the file."""
    text = _text(fileobj, layout.encoding)
    try:
        reader = csv.reader(text, delimiter=layout.delimiter)
        header_seen = False
        previous_end = 0
        width = len(layout.header)
        count = 0
        while True:
            start_line = previous_end + 1
            try:
                cells = next(reader, None)
            except csv.Error as exc:  # a cell over the field limit (an unclosed quote), refused per file
                raise _unreadable(start_line, exc) from None
            if cells is None:
                break
            previous_end = reader.line_num
            if not header_seen:
                if any(c.strip() for c in cells):
                    header_seen = True
                continue
            if not any(c.strip() for c in cells):
                continue  # blank line
            count += 1
            if count > MAX_ROWS:
                raise FileRefused(f"The file has more than {MAX_ROWS:,} rows; split it.")
            yield validate_row(start_line, cells, layout, width)
        if count == 0:
            raise FileRefused("The file has a header but no rows.")
    finally:
        text.detach()


def validate_row(line_number: int, cells: list[str], layout: CsvLayout, width: int) -> ParsedRow:
    row = ParsedRow(line_number=line_number, cells=cells)
    errors = row.errors
    if layout.has_nul and any("\x00" in c for c in cells):
        # PostgreSQL refuses NUL in text; keep the rest of the row so it can be fixed.
        row.cells = cells = [c.replace("\x00", "") for c in cells]
        errors.append(("", "", "contains a NUL byte"))
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        errors.append(("", "", f"has {len(cells)} cells but the header has {width} (a missing quote?)"))
    if len(cells) < width:
        cells = cells + [""] * (width - len(cells))
    # Each cell by its column's index, stripped (a column the file lacks reads ""): inline, as this runs
    # once per cell of every row.
    get = layout.columns.get

    values = row.values
    for name in ("first_name", "last_name"):
        index = get(name)
        value = "" if index is None else cells[index].strip()
        if not value:
            errors.append((name, value, "empty name"))
        elif len(value) > 100:
            errors.append((name, value[:50], "longer than 100 characters"))
        values[name] = value[:100]

    index = get("email")
    email = "" if index is None else cells[index].strip()
    try:
        if len(email) > 254:
            raise ValidationError("too long")
        _email_validator(email)
    except ValidationError:
        errors.append(("email", email, "not a valid email address" if email else "empty email"))
    values["email"] = email.lower()[:254]

    region: str | None = "US"
    index = get("country_code")
    country_value = "" if index is None else cells[index].strip()
    if country_value:
        region = _region(country_value)
        if region is None:
            errors.append(("country_code", country_value, "not a country (use a code such as US, GB or 44)"))
    index = get("phone")
    phone = "" if index is None else cells[index].strip()
    values["phone_e164"] = ""
    values["country"] = region or ""
    if not phone:
        errors.append(("phone", phone, "empty phone"))
    elif region is not None:
        checked = _checked_phone(phone, region)
        if checked is None:
            errors.append(("phone", phone, f"not a valid phone number for {region}"))
        else:
            values["phone_e164"], values["country"] = checked

    values["amount_cents"] = None
    index = get("amount")
    if index is not None:
        amount = cells[index].strip()
        cents = _cents(amount)
        if cents is None:
            errors.append(("amount", amount, "amount is not a positive number of at most 2 decimals"))
        values["amount_cents"] = cents
    # Names and memos are data, kept and sent to Dots as typed ("-5% early payment", "+ travel"); only
    # the CSV exports neutralise what a spreadsheet could run (core.csv_safe).
    index = get("memo")
    values["memo"] = "" if index is None else cells[index].strip()[:500]
    index = get("external_id")
    values["external_id"] = "" if index is None else cells[index].strip()[:100]
    return row


_PLAIN_AMOUNT = re.compile(r"(\d{1,8})(?:\.(\d\d))?")


def _cents(amount: str) -> int | None:
    """A positive amount in cents, else None. "125.25" and "125" are read here directly (at most
    99,999,999.99, within parse_money's limit); any other shape goes through parse_money."""
    plain = _PLAIN_AMOUNT.fullmatch(amount)
    if plain is not None:
        whole, frac = plain.groups()
        cents = int(whole) * 100 + (int(frac) if frac else 0)
    else:
        try:
            cents = parse_money(amount)
        except MoneyParseError:
            return None
    return cents if cents > 0 else None


@functools.lru_cache(maxsize=4096)
def _checked_phone(phone: str, region: str) -> tuple[str, str] | None:
    """(E.164, country) of a valid number, else None. Cached: payee files repeat phones (the same person
    paid twice, a shared office line), and parsing is most of a row's cost; 4,096 entries are a few
    hundred KB, whatever the file's size.

    A US row written as ten digits, with or without 1 or +1 in front and spaces, dashes, dots or
    brackets between (most of a US payee file), is taken apart here: phonenumbers.parse reads such a
    number as exactly country code 1 and those ten digits, and its parse was over half the cost of a
    row. Whether the number is valid is still phonenumbers' check. Anything else is parsed.
    (tests/payouts/test_csv_import.py holds this equal to _parsed_phone over many shapes.)
    """
    if region == "US" and len(phone) <= _NANP_MAX_LENGTH:
        plain = _NANP.fullmatch(phone.translate(_NANP_PUNCTUATION))
        if plain is not None:
            digits = plain.group(1)
            number = phonenumbers.PhoneNumber(country_code=1, national_number=int(digits))
            return (f"+1{digits}", "US") if _valid_phone(number, region) else None
    return _parsed_phone(phone, region)


_NANP = re.compile(r"(?:\+1|1)?([2-9]\d{9})")
_NANP_PUNCTUATION = str.maketrans("", "", " -.()")
_NANP_MAX_LENGTH = 40


def _parsed_phone(phone: str, region: str) -> tuple[str, str] | None:
    """(E.164, country) of a valid number, else None, by phonenumbers.parse."""
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    if not _valid_phone(parsed, region):
        return None
    e164 = f"+{parsed.country_code}{phonenumbers.national_significant_number(parsed)}"
    # The main region of the calling code (US for +1): cheaper than a per-number lookup.
    return e164, phonenumbers.region_code_for_country_code(parsed.country_code) or region


def _valid_phone(parsed: phonenumbers.PhoneNumber, region: str) -> bool:
    """phonenumbers.is_valid_number, asked first for the row's own region: a number valid there is valid,
    and that one check costs half of is_valid_number, which tries every region of the calling code
    (some 25 for +1) to find the number's own. Any other number gets the full check."""
    return phonenumbers.is_valid_number_for_region(parsed, region) or phonenumbers.is_valid_number(parsed)


def _region(value: str) -> str | None:
    text = value.strip().lstrip("+")
    if text.isdigit():
        region = phonenumbers.region_code_for_country_code(int(text))
        return None if region == "ZZ" else region
    upper = text.upper()
    if len(upper) == 2 and upper in phonenumbers.SUPPORTED_REGIONS:
        return upper
    return None


def dots_phone(phone_e164: str) -> tuple[str, str]:
    """E.164 -> (country code, national number) as Dots takes them apart."""
    parsed = phonenumbers.parse(phone_e164, None)
    return str(parsed.country_code), phonenumbers.national_significant_number(parsed)


def describe_errors(errors: list[tuple[str, str, str]]) -> str:
    parts = []
    for column, value, why in errors:
        if column:
            parts.append(f"{column} {value!r}: {why}" if value else f"{column}: {why}")
        else:
            parts.append(why)
    return "; ".join(parts)
