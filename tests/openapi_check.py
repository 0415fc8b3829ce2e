"""Check every emulator response against the Dots OpenAPI documents.

`OpenApiChecker.check(response)` finds the operation by method and path template
in v2.yaml first, else in v2-2026-01-14.yaml (routes the current file dropped),
and records a violation when
- the operation or the status code is not documented (2xx), or
- a 2xx JSON body does not match the documented schema, or
- an error body is not the envelope {"error": str, "error_code": str} (NOTES.md decision 2).

`checked_session(checker)` is a requests.Session whose response hook runs the check,
so a test only has to use it. Violations are collected, not raised, because a hook
that raises would hide the test's own assertion; the fixtures fail the test at teardown.

Two spec quirks are repaired when loading, as the authors evidently meant them:
`nullable: true` (OpenAPI 3.0) on 3.1 schemas becomes a "null" type, and a property
schema written `type: {enum: [...]}` becomes `enum: [...]`.
"""

from __future__ import annotations

import copy
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_FILES = ("v2.yaml", "v2-2026-01-14.yaml")
API_PREFIX = "/api"
METHODS = ("get", "post", "put", "patch", "delete")
ENVELOPE_SCHEMA = {
    "type": "object",
    "required": ["error", "error_code"],
    "properties": {"error": {"type": "string"}, "error_code": {"type": "string"}},
}


def spec_dir() -> Path:
    configured = os.environ.get("DOTS_SPEC_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "dots-api"


def _repair(node, *, is_name_map: bool = False):
    """Fix the two quirks described in the module docstring, in place, recursively.

    `is_name_map` marks a dict of name -> schema (`properties`, `paths`...), whose own
    keys are names: a property called "type" must not be taken for the keyword.
    """
    if isinstance(node, dict):
        if not is_name_map:
            declared = node.get("type")
            if isinstance(declared, dict):  # `type: {enum: [...]}` -> `enum: [...]`
                del node["type"]
                for key, value in declared.items():
                    node.setdefault(key, value)
            elif isinstance(declared, list) and None in declared:
                # `type: [object, null]` unquoted loads as YAML null, which no validator accepts.
                node["type"] = ["null" if t is None else t for t in declared]
            if node.get("nullable") is True:
                declared = node.get("type")
                if isinstance(declared, str):
                    node["type"] = [declared, "null"]
                elif isinstance(declared, list) and "null" not in declared:
                    node["type"] = [*declared, "null"]
                if "enum" in node and None not in node["enum"]:
                    node["enum"] = [*node["enum"], None]
        for key, value in node.items():
            child_is_map = not is_name_map and key in _NAME_MAPS
            _repair(value, is_name_map=child_is_map)
    elif isinstance(node, list):
        for value in node:
            _repair(value)
    return node


def load_spec(name: str) -> dict:
    """One of Dots' spec files, parsed and repaired as described above."""
    return _repair(yaml.safe_load((spec_dir() / name).read_text()))


# Keys whose value maps names to schemas (or to objects holding schemas).
_NAME_MAPS = frozenset(
    {
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "schemas",
        "paths",
        "responses",
        "content",
        "parameters",
        "requestBodies",
        "webhooks",
        "headers",
        "examples",
    }
)


def _escape_pointer(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@dataclass
class _Operation:
    spec_name: str
    template: str
    method: str
    pointer: str  # JSON pointer to the operation
    responses: dict


@dataclass
class _Spec:
    name: str
    uri: str
    document: dict
    templates: list[tuple[re.Pattern, str, int]] = field(default_factory=list)


class OpenApiChecker:
    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or spec_dir()
        self.specs: list[_Spec] = []
        registry = Registry()
        for name in SPEC_FILES:
            document = _repair(yaml.safe_load((directory / name).read_text()))  # as load_spec, from `directory`
            uri = f"urn:dots-spec:{name}"
            registry = registry.with_resource(uri, Resource.from_contents(document, default_specification=DRAFT202012))
            spec = _Spec(name=name, uri=uri, document=document)
            for template in document.get("paths", {}):
                # literal segments win over parameters: sort by number of parameters
                pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "/?$"
                spec.templates.append((re.compile(pattern), template, template.count("{")))
            spec.templates.sort(key=lambda t: t[2])
            self.specs.append(spec)
        self.registry = registry
        self._validators: dict[str, Draft202012Validator] = {}
        self._lock = threading.Lock()
        self.violations: list[str] = []

    # -- lookup ---------------------------------------------------------------------------------

    def find_operation(self, method: str, api_path: str) -> tuple[_Spec, str, dict] | None:
        method = method.lower()
        for spec in self.specs:
            for pattern, template, _ in spec.templates:
                if pattern.match(api_path):
                    operation = spec.document["paths"][template].get(method)
                    if operation is not None:
                        return spec, template, operation
        return None

    def _validator(self, spec: _Spec, pointer: str) -> Draft202012Validator:
        key = spec.uri + pointer
        validator = self._validators.get(key)
        if validator is None:
            validator = Draft202012Validator({"$ref": f"{spec.uri}#{pointer}"}, registry=self.registry)
            self._validators[key] = validator
        return validator

    # -- checking -----------------------------------------------------------------------------------

    def check(self, response: requests.Response) -> list[str]:
        """Problems with this response (also appended to self.violations)."""
        url_path = urlsplit(response.request.url).path
        if not url_path.startswith(API_PREFIX + "/"):
            return []
        api_path = url_path[len(API_PREFIX) :]
        method = response.request.method
        where = f"{method} {api_path} -> {response.status_code}"
        problems: list[str] = []
        try:
            body = response.json()
        except ValueError:
            problems.append(f"{where}: body is not JSON: {response.text[:200]!r}")
            body = None
        if response.status_code >= 400:
            if body is not None:
                problems += [
                    f"{where}: error envelope: {e}" for e in _errors(Draft202012Validator(ENVELOPE_SCHEMA), body)
                ]
        else:
            problems += self._check_success(method, api_path, where, response.status_code, body)
        if problems:
            with self._lock:
                self.violations.extend(problems)
        return problems

    def _check_success(self, method: str, api_path: str, where: str, status: int, body) -> list[str]:
        found = self.find_operation(method, api_path)
        if found is None:
            return [f"{where}: no operation documents {method} {api_path}"]
        spec, template, operation = found
        responses = operation.get("responses", {})
        status_key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
        if status_key not in responses:
            status_key = "default" if "default" in responses else None
        if status_key is None:
            documented = ", ".join(sorted(responses))
            return [f"{where}: status {status} is not documented in {spec.name} (documented: {documented})"]
        content = (responses[status_key] or {}).get("content") or {}
        media = content.get("application/json")
        if not media or "schema" not in media or body is None:
            return []
        pointer = "/" + "/".join(
            _escape_pointer(p)
            for p in (
                "paths",
                template,
                method.lower(),
                "responses",
                status_key,
                "content",
                "application/json",
                "schema",
            )
        )
        return [f"{where} ({spec.name} {template}): {e}" for e in _errors(self._validator(spec, pointer), body)]

    def take(self) -> list[str]:
        """Violations so far, clearing the list."""
        with self._lock:
            taken, self.violations = self.violations, []
        return taken


def _errors(validator: Draft202012Validator, body) -> list[str]:
    out = []
    for error in validator.iter_errors(body):
        location = "/".join(str(p) for p in error.absolute_path) or "<root>"
        out.append(f"at {location}: {error.message[:300]}")
        if len(out) >= 5:
            break
    return out


class BaseUrlSession(requests.Session):
    """A Session where a path starting with "/" is relative to `base_url` (e.g. ".../api")."""

    def __init__(self, base_url: str | None = None) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        if self.base_url and isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)


def checked_session(
    checker: OpenApiChecker, *, auth: tuple[str, str] | None = None, base_url: str | None = None
) -> requests.Session:
    session = BaseUrlSession(base_url)
    if auth is not None:
        session.auth = auth

    def hook(response: requests.Response, *args, **kwargs):
        checker.check(response)
        return response

    session.hooks["response"].append(hook)
    return session


def deep_copy_schema(checker: OpenApiChecker, spec_name: str, pointer: str) -> dict:
    """A copy of a schema node (for tests that want to look at what the spec says)."""
    for spec in checker.specs:
        if spec.name == spec_name:
            node = spec.document
            for part in pointer.strip("/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            return copy.deepcopy(node)
    raise KeyError(spec_name)
