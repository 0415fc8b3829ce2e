from django import template

from core.money import format_cents

register = template.Library()


@register.filter
def money(cents):
    """{{ payable.amount_cents|money }} -> $1,234.56"""
    return format_cents(cents)


@register.filter
def thousands(number):
    try:
        return f"{int(number):,}"
    except (TypeError, ValueError):
        return number
