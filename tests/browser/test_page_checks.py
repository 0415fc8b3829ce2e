"""The page walk's detectors (tests/browser/page_checks.py) catch what they must, and only that."""

import pytest

from tests.browser import page_checks as pc

BAD_PAGE = """
<html><head><style>
  .status { background: #eef; color: #fff; padding: 2px; }
  .button { background: #79aec8; color: #fff; }
  .fine { background: #205067; color: #fff; }
</style></head><body>
<div class="form-row"><label>Amount:</label><div class="readonly">6600</div></div>
<div class="form-row"><label>Amount cents:</label><div class="readonly">2500</div></div>
<div class="form-row"><label>Vendor:</label><div class="readonly">None</div></div>
<div class="form-row"><label>Request:</label><div class="readonly">{"amount": 2500, "payee": "x"}</div></div>
<div class="form-row"><label>Verified:</label><div class="readonly">True</div></div>
<table><thead><tr><th>Item</th><th>Unit price</th></tr></thead>
<tbody><tr><td>Widgets</td><td>2500</td></tr></tbody></table>
<p>Total: 12500</p>
<span class="status">Draft</span> <a class="button" href="#">Save</a> <span class="status fine">Paid</span>
<pre>Traceback (most recent call last):</pre>
</body></html>
"""

GOOD_PAGE = """
<html><body>
<div class="form-row"><label>Amount:</label><div class="readonly">$66.00</div></div>
<div class="form-row"><label>Vendor:</label><div class="readonly">Acme</div></div>
<table><thead><tr><th>Item</th><th>Unit price</th><th>Quantity</th></tr></thead>
<tbody><tr><td>Widgets</td><td>$25.00</td><td>100</td></tr></tbody></table>
<p>Total: $1,049.99 for 2 payables. Imported 1500 rows. Balance as of 2026-03-01: $12.00</p>
<p>None of these payables can be paid yet.</p>
<span class="status" style="background:#205067;color:#fff">Paid</span>
</body></html>
"""


def test_raw_cents_detector_on_text():
    assert pc.raw_cents_in_text("Amount: 6600")
    assert pc.raw_cents_in_text("Amount cents: 2500")
    assert pc.raw_cents_in_text("Balance\n120000")
    assert pc.raw_cents_in_text("total 2500")
    assert not pc.raw_cents_in_text("Amount: $66.00")
    assert not pc.raw_cents_in_text("Total 2 payables; total 1500 rows")
    assert not pc.raw_cents_in_text("Amount: 25")  # two digits could be anything; cents start at 100
    assert not pc.raw_cents_in_text("Balance as of 2026-03-01")
    assert not pc.raw_cents_in_text("Amount\tStatus\n1234\tINV-1")  # a table's header row, then an id


def test_raw_cents_detector_on_fields_and_tables():
    assert pc.raw_cents_in_fields([("Amount:", "6600")])
    assert not pc.raw_cents_in_fields([("Amount:", "$66.00"), ("Rows:", "1500"), ("Bill number:", "2002")])
    tables = [{"headers": ["Bill", "Total", "Lines"], "rows": [["INV-1", "12500", "300"]]}]
    assert pc.raw_cents_in_tables(tables) == ["raw cents: column 'Total' shows '12500'"]


def test_none_and_literal_detectors():
    assert pc.visible_none("Vendor:\tNone\n")
    assert pc.visible_none("", [("Vendor:", "None")])
    assert not pc.visible_none("None of these payables can be paid yet.")
    assert pc.literals('Request: {"amount": 2500}')
    assert pc.literals("Tags: ['a', 'b']")
    assert pc.literals("", [("Verified:", "True")])
    assert pc.literals("Verified:\tFalse\n")
    assert not pc.literals("True to its word, the vendor paid. [see note]")


def test_contrast_is_computed_from_colours():
    white, pale, dark = [255, 255, 255, 1], [238, 238, 255], [32, 80, 103]
    assert pc.contrast_ratio(white, pale) < 1.2
    assert pc.contrast_ratio(white, dark) > 4.5
    assert round(pc.contrast_ratio([0, 0, 0, 1], [255, 255, 255]), 1) == 21.0
    assert pc.low_contrast([{"label": "Draft", "fg": white, "bg": pale}])
    assert not pc.low_contrast([{"label": "Paid", "fg": white, "bg": dark}])


@pytest.mark.browser
def test_the_walk_finds_every_kind_of_problem_on_a_deliberately_bad_page(page):
    page.set_content(BAD_PAGE)
    found = pc.problems(pc.collect(page, 200))
    text = "\n".join(found)
    for expected in (
        "raw cents: Amount: '6600'",
        "raw cents: Amount cents: '2500'",
        "raw cents: column 'Unit price' shows '2500'",
        "Total: 12500",
        "shows None: Vendor:",
        "shows a JSON or Python dict in 'Request:'",
        "shows 'True' as the value of 'Verified:'",
        "low contrast",
        "'Draft'",
        "'Save'",
        "shows a traceback",
    ):
        assert expected in text, f"{expected!r} not reported; reported:\n{text}"
    assert "'Paid'" not in text  # white on dark blue passes


@pytest.mark.browser
def test_the_walk_finds_nothing_on_a_good_page(page):
    page.set_content(GOOD_PAGE)
    assert pc.problems(pc.collect(page, 200)) == []
    assert pc.problems(pc.collect(page, 500)) == ["answered 500"]
