"""How an audit event's "what changed" reads: field names and values in words, not codes.

Events store what the services wrote: field names ("status"), stored values ("pay_requested",
cents, primary keys, ISO timestamps). A person reads the field's verbose name, the choice's
label ("Payment being sent"), "$25.00", the related record's name and "2026-03-01 14:02".
The record's model (its `object_type`) says which; a value no model explains is shown with
its underscores as spaces, never as a Python or JSON literal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst

from core.money import format_cents

EMPTY = "(empty)"
_CODE = re.compile(r"^[a-z][a-z0-9]*(?:[_.][a-z0-9]+)+$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# Field names that read badly when only their underscores become spaces.
_WORDS = {"ip": "IP", "id": "ID", "dots": "Dots", "otp": "OTP", "url": "URL", "pdf": "PDF", "csv": "CSV",
          "last4": "(last four)"}  # fmt: skip


@dataclass(frozen=True)
class ChangeLine:
    field: str
    before: str | None  # None: the change has no before/after (a plain value, shown as `after`)
    after: str

    def __str__(self) -> str:
        if self.before is None:
            return f"{self.field}: {self.after}"
        return f"{self.field}: {self.before} → {self.after}"


def _model_for(object_type: str) -> type[models.Model] | None:
    if "." not in object_type:
        return None
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _field(model: type[models.Model] | None, name: str) -> Any:
    if model is None:
        return None
    for candidate in (name, name.removesuffix("_id")):
        try:
            return model._meta.get_field(candidate)
        except FieldDoesNotExist:
            continue
    return None


def words(name: str) -> str:
    """ "last_dots_error" -> "Last Dots error"; "payable.pay" -> "Payable pay"."""
    parts = [_WORDS.get(part, part) for part in re.split(r"[_.\s]+", name.strip()) if part]
    if parts and parts[-1] == "cents":
        parts.pop()
    return capfirst(" ".join(parts)) if parts else name


def field_label(model: type[models.Model] | None, name: str) -> str:
    field = _field(model, name)
    verbose = getattr(field, "verbose_name", None)
    if verbose and str(verbose) != name.replace("_", " "):
        return capfirst(str(verbose))
    return words(name)


def _known_codes() -> dict[str, str]:
    """Audit actions and queued-action kinds, as their apps named them through the seam."""
    from core import registry

    reg = registry.discover()
    codes = {kind: spec.label for kind, spec in reg.action_kinds.items()}
    codes.update(reg.audit_actions)
    return codes


def _datetime_text(text: str) -> str | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return f"{moment:%Y-%m-%d %H:%M}"


def value_text(value: Any, *, field: Any = None, name: str = "", related: dict | None = None) -> str:
    """One stored value in words."""
    if value is None or value == "" or value == [] or value == {} or value == ():
        return EMPTY
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(v, field=field, name=name, related=related) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{words(str(k))}: {value_text(v, name=str(k), related=related)}" for k, v in value.items())
    choices = dict(getattr(field, "flatchoices", None) or ())
    if choices:
        label = choices.get(value, choices.get(str(value)))
        if label is not None:
            return str(label)
    if name.endswith("_cents") or type(field).__name__ == "MoneyField":
        try:
            return format_cents(int(value))
        except (TypeError, ValueError):
            return str(value)
    if field is not None and field.is_relation and field.related_model is not None:
        return _related_text(field.related_model, value, related)
    text = str(value)
    if _ISO_DATETIME.match(text):
        return _datetime_text(text) or text
    if _CODE.match(text):
        return _known_codes().get(text) or words(text)
    return text


def _related_text(model: Any, pk: Any, cache: dict | None) -> str:
    key = (model._meta.label_lower, str(pk))
    if cache is not None and key in cache:
        return cache[key]
    try:
        obj = model._default_manager.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        obj = None
    text = str(obj) if obj is not None else f"{capfirst(model._meta.verbose_name)} #{pk} (deleted)"
    if cache is not None:
        cache[key] = text
    return text


def change_lines(object_type: str, changes: Any, *, related: dict | None = None) -> Iterator[ChangeLine]:
    """Each changed field of an event, in words."""
    if not isinstance(changes, dict):
        if changes:
            yield ChangeLine("Details", None, value_text(changes))
        return
    model = _model_for(object_type)
    for name, change in changes.items():
        field = _field(model, name)
        label = field_label(model, name)
        if isinstance(change, dict) and change and set(change) <= {"before", "after"}:
            before = value_text(change.get("before"), field=field, name=name, related=related)
            after = value_text(change.get("after"), field=field, name=name, related=related)
            yield ChangeLine(label, before, after)
        else:
            yield ChangeLine(label, None, value_text(change, field=field, name=name, related=related))


def object_type_label(object_type: str) -> str:
    """ "payables.payable" -> "Payable"; a type that is not a model reads as written."""
    model = _model_for(object_type)
    if model is None:
        return capfirst(object_type)
    return capfirst(str(model._meta.verbose_name))
