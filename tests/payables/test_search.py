"""Searching payables: part of a bill number (as typed or normalised like the duplicate check), a
vendor's name, an external id; indexed on PostgreSQL."""

import pytest
from django.db import connection
from django.urls import reverse

from tests.support import login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def bills(people, make_payable):
    return {
        "INV-2002": make_payable(bill_number="INV-2002"),
        "INV-0000120": make_payable(bill_number="INV-0000120", external_id="ERP-77"),
        "B-7": make_payable(bill_number="B-7"),
    }


def _found(client, people, term):
    login_verified(client, people.clerk)
    response = client.get(reverse("admin:payables_payable_changelist"), {"q": term})
    return sorted(p.bill_number for p in response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("2002", ["INV-2002"]),  # inside the number, not only its start
        ("inv 2002", ["INV-2002"]),  # normalised like the duplicate check
        ("#2002", ["INV-2002"]),
        ("INV2002", ["INV-2002"]),
        ("INV-000012", ["INV-0000120"]),  # leading zeros typed: the padded number, not every "12"
        ("erp-77", ["INV-0000120"]),  # external id
        ("acme", ["B-7", "INV-0000120", "INV-2002"]),  # the vendor's name, any case
        ("Globex", []),
    ],
)
def test_the_search_finds_a_bill_number_anywhere_a_vendor_name_or_an_external_id(client, people, bills, term, expected):
    assert _found(client, people, term) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only")
def test_on_postgresql_each_searched_column_has_a_trigram_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'payables_payable'")
        indexes = dict(cursor.fetchall())
    for name in ("payable_number_trgm", "payable_number_key_trgm", "payable_external_id_trgm"):
        assert "gin_trgm_ops" in indexes[name]


def test_a_term_of_one_or_two_characters_matches_the_start_of_a_bill_number(client, people, bills):
    # Anywhere would read every row of a million (no trigram of fewer than three characters).
    assert _found(client, people, "b-") == ["B-7"]
    assert _found(client, people, "02") == []
