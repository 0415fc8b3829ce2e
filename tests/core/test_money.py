import pytest
from django import forms

from core.money import MoneyFormField, MoneyParseError, format_cents, parse_money


@pytest.mark.parametrize(
    "text, cents",
    [
        ("1234.56", 123456),
        ("1,234.56", 123456),
        ("$1,234.56", 123456),
        (" $ 1,234.5 ", 123450),
        ("0.07", 7),
        (".5", 50),
        ("12", 1200),
        ("1,000,000", 100000000),
        ("0", 0),
    ],
)
def test_parse_money_accepts_common_ways_of_writing_dollars(text, cents):
    assert parse_money(text) == cents


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("12.345", "more than two decimals"),
        ("-5", "negative"),
        ("$-5.00", "negative"),
        ("abc", "not an amount"),
        ("1,23.00", "not an amount"),
        ("1.2.3", "not an amount"),
        ("", "Enter an amount"),
        ("$", "not an amount"),
        ("1e5", "not an amount"),
    ],
)
def test_parse_money_refuses_bad_input_with_a_reason(text, fragment):
    with pytest.raises(MoneyParseError) as exc:
        parse_money(text)
    assert fragment in str(exc.value)


@pytest.mark.parametrize(
    "cents, shown",
    [(0, "$0.00"), (5, "$0.05"), (123456, "$1,234.56"), (100000000, "$1,000,000.00"), (-123456, "-$1,234.56")],
)
def test_format_cents_shows_dollars_with_thousands_separators(cents, shown):
    assert format_cents(cents) == shown


def test_money_form_field_cleans_to_cents_and_names_the_problem():
    class Form(forms.Form):
        amount = MoneyFormField()

    good = Form({"amount": "$1,234.56"})
    assert good.is_valid()
    assert good.cleaned_data == {"amount": 123456}
    bad = Form({"amount": "12.345"})
    assert not bad.is_valid()
    assert "more than two decimals" in bad.errors["amount"][0]


def test_money_form_field_shows_stored_cents_as_dollars():
    class Form(forms.Form):
        amount = MoneyFormField()

    rendered = str(Form(initial={"amount": 123456})["amount"])
    assert 'value="1,234.56"' in rendered


def test_money_template_filter_formats_cents():
    from django.template import Context, Template

    html = Template("{% load humanize_cents %}{{ v|money }}").render(Context({"v": 9876543}))
    assert html == "$98,765.43"


def test_money_model_field_keeps_a_text_input_in_the_admin():
    from django.contrib import admin

    from payables.models import LineItem

    field = LineItem._meta.get_field("unit_price_cents")
    formfield = admin.site._registry[__import__("payables.models", fromlist=["Payable"]).Payable].formfield_for_dbfield(
        field, request=None
    )
    assert 'type="text"' in formfield.widget.render("unit_price_cents", 4999)
