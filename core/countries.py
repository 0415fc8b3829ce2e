"""Countries as a person picks them: English names, stored and sent to Dots as two-letter ISO codes.

Dots takes ISO 3166-1 alpha-2 codes ("GB", "DE"). The names come from `phonenumbers`' own
English region names (already a dependency), so there is no second list to keep up to date.
"""

from functools import cache

import phonenumbers
from phonenumbers.geodata.locale import LOCALE_DATA

# Regions phonenumbers knows with no English name of their own in its locale data.
_EXTRA_NAMES = {"XK": "Kosovo", "AC": "Ascension Island", "TA": "Tristan da Cunha"}


def _english_name(code: str) -> str:
    names = LOCALE_DATA.get(code, {})
    name = names.get("en", "")
    if name.startswith("*"):  # "*xx": the name is held under the language xx
        name = names.get(name[1:], "")
    return name or _EXTRA_NAMES.get(code, "")


@cache
def country_names() -> dict[str, str]:
    """{"GB": "United Kingdom", ...} for every region with a name."""
    codes = set(phonenumbers.SUPPORTED_REGIONS) | set(LOCALE_DATA)
    named = {code: _english_name(code) for code in codes if len(code) == 2 and code.isalpha() and code.isupper()}
    return {code: name for code, name in named.items() if name}


def country_choices(*, exclude: tuple[str, ...] = (), blank: str | None = None) -> list[tuple[str, str]]:
    """Choices for a select, by name: ("DE", "Germany"); `blank` adds an empty first choice."""
    choices = sorted(
        ((code, name) for code, name in country_names().items() if code not in exclude), key=lambda c: c[1]
    )
    return ([("", blank)] if blank is not None else []) + choices


def country_name(code: str) -> str:
    """ "DE" -> "Germany"; an unknown code is shown as given."""
    return country_names().get(code, code)
