"""Mask secrets and bank details before anything is logged.

``redact(value)`` walks dicts and lists and masks values by key name, keeping the
last four digits of account numbers (enough to tell accounts apart in a log,
useless for a payment). Routing numbers are public and stay readable.

``RedactingFilter`` is a ``logging.Filter`` the Django settings install on every
handler: it formats each record once, masks what looks like a credential or an
account number in the text, and freezes the result, so no handler or formatter
downstream sees the raw arguments.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "RedactingFilter", "mask_account_number", "redact", "redact_text"]

MASK = "[REDACTED]"
_DOTS = "\u2022\u2022\u2022\u2022"  # "••••"

# Substrings of a (lower-cased, dash-to-underscore) key that mark its value as secret.
_SECRET_SUBSTRINGS = (
    "password",
    "passcode",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "signature",
    "cookie",
    "private_key",
)
# Whole words (key split on "_") that are identity numbers; matched as words
# because as substrings they hide in harmless keys ("tin" in "routing").
_SECRET_WORDS = frozenset({"ssn", "tin", "ein", "dob", "itin"})
# Whole keys that are personal data but do not fit the two rules above.
_SECRET_KEYS = frozenset({"date_of_birth", "foreign_tax_id", "tax_id"})


def _normalise(key: str) -> str:
    return key.lower().replace("-", "_")


def _is_account_number_key(norm: str) -> bool:
    return norm.endswith("account_number") or norm in ("iban", "card_number")


def _is_secret_key(norm: str) -> bool:
    if norm in _SECRET_KEYS:
        return True
    if any(part in norm for part in _SECRET_SUBSTRINGS):
        return True
    return not _SECRET_WORDS.isdisjoint(norm.split("_"))


def mask_account_number(value: Any) -> str:
    """``"123456789"`` -> ``"••••6789"``; too short to keep four -> ``"••••"``."""
    text = str(value)
    if text.startswith(_DOTS):
        return text  # Already masked (Dots returns vendor account numbers this way).
    digits = [c for c in text if c.isalnum()]
    if len(digits) <= 4:
        return _DOTS
    return _DOTS + "".join(digits[-4:])


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret values masked by key name, at any depth.

    Booleans and None are kept: "was the SSN collected" is not a secret.
    """
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            out[key] = _redact_item(key, item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)
    return value


def _redact_item(key: Any, item: Any) -> Any:
    if not isinstance(key, str) or item is None or isinstance(item, bool):
        return redact(item)
    norm = _normalise(key)
    if _is_account_number_key(norm):
        if isinstance(item, (str, int)):
            return mask_account_number(item) if item != "" else item
        return MASK if isinstance(item, (Mapping, list, tuple, bytes)) else redact(item)
    if _is_secret_key(norm):
        return MASK if item != "" else item
    return redact(item)


# --- free text ---------------------------------------------------------------------------

_TEXT_RULES: tuple[tuple[re.Pattern[str], Any], ...] = (
    # "Authorization: Basic abc=" / "Bearer eyJ..." / "Basic abc=" on its own.
    (re.compile(r"\b(Basic|Bearer|Token)\s+[A-Za-z0-9+/=._~-]{6,}", re.IGNORECASE), lambda m: f"{m.group(1)} {MASK}"),
    # Svix webhook secrets.
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), lambda m: "whsec_" + MASK),
    # key=value / "key": "value" pairs whose key names a secret (JSON, query strings, reprs).
    (
        re.compile(
            r"""(?P<key>["']?[\w-]*(?:password|secret|token|api[_-]?key|authorization|signature|"""
            r"""\bssn|\btin|\bein)["']?\s*[:=]\s*)(?P<q>["']?)(?P<val>[^"'\s,&;}\]]+)""",
            re.IGNORECASE,
        ),
        lambda m: f"{m.group('key')}{m.group('q')}{MASK}",
    ),
    # account_number=... in any spelling keeps its last four, whatever its length.
    (
        re.compile(
            r"""(?P<key>["']?[\w-]*account[_-]?number["']?\s*[:=]\s*)(?P<q>["']?)(?P<val>[^"'\s,&;}\]]+)""",
            re.IGNORECASE,
        ),
        lambda m: f"{m.group('key')}{m.group('q')}{mask_account_number(m.group('val'))}",
    ),
    # Long bare digit runs: account numbers (4-17 digits in the US; we mask 8+ to spare
    # ids and amounts). Not inside longer tokens such as UUIDs or decimals.
    (re.compile(r"(?<![\w.\-•])(\d{8,17})(?![\w.\-])"), lambda m: _DOTS + m.group(1)[-4:]),
)


def redact_text(text: str, *, extra_secrets: Iterable[str] = ()) -> str:
    """Mask credentials, known secrets and account-number-like digit runs in free text."""
    for secret in extra_secrets:
        if secret:
            text = text.replace(secret, MASK)
    for pattern, repl in _TEXT_RULES:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    """Redact each record's message (and exception text) in place; never drops a record.

    ``extra_secrets`` are literal strings (e.g. the configured API key) masked
    wherever they appear, in case one shows up in a shape the patterns miss.
    """

    def __init__(self, name: str = "", *, extra_secrets: Iterable[str] = ()) -> None:
        super().__init__(name)
        self.extra_secrets = tuple(s for s in extra_secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_dots_redacted", False):
            return True  # Already done by another handler's filter.
        try:
            args = record.args
            if isinstance(args, Mapping):
                args = redact(args)
            elif isinstance(args, tuple):
                args = tuple(redact(a) for a in args)
            message = str(record.msg) % args if args else str(record.msg)
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact_text(message, extra_secrets=self.extra_secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, extra_secrets=self.extra_secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, extra_secrets=self.extra_secrets)
        record._dots_redacted = True
        return True
