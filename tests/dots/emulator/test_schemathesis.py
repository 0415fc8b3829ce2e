"""Property-based run of Dots' OpenAPI documents against the running emulator (schemathesis 4).

Every operation the emulator serves is generated from the spec that documents it
(v2.yaml; the January 2026 file only for the routes v2.yaml dropped), sent over
HTTP to the session's emulator, and checked for two things: no 5xx, and no 2xx
body that breaks the documented schema. Most generated ids are unknown, so most
path-parameter calls are 404s: the point is that nothing crashes and nothing
answers outside the spec, whatever the input.

Bounded for speed: SCHEMATHESIS_MAX_EXAMPLES (default 8) examples per operation in
the fuzzing phase, plus the spec's own examples; the coverage and stateful phases
are off. Run longer with, for example:

    SCHEMATHESIS_MAX_EXAMPLES=200 .venv/bin/pytest -p no:django -m schemathesis tests/dots/emulator/test_schemathesis.py

The spec is loaded with the same two repairs tests/openapi_check.py makes, plus
one more: `type: [object, null]` written unquoted parses as YAML null, which no
JSON Schema validator accepts, so a None inside a type list becomes "null".
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
import yaml
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from dots.emulator import controls
from dots.emulator.resources import RESOURCE_MODULES
from tests.openapi_check import _repair, spec_dir

pytestmark = pytest.mark.schemathesis

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
METHODS = ("get", "post", "put", "patch", "delete")
CHECKS = [not_a_server_error, response_schema_conformance]


def _served_operations() -> set[tuple[str, str]]:
    """(method, spec path template) for every /api route the emulator mounts."""
    served = set()
    for module in RESOURCE_MODULES:
        for route in getattr(module, "ROUTES", []):
            template = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", route.path)
            served.add((route.method.lower(), _shape(template)))
    assert controls  # controls are never under /api; imported only to make that explicit here
    return served


def _shape(template: str) -> str:
    """A path with its parameter names erased, so /x/{id} in the spec matches /x/<x_id> in the emulator."""
    return re.sub(r"\{[^}]+\}", "{}", template)


def _fix_null_types(node):
    if isinstance(node, dict):
        declared = node.get("type")
        if isinstance(declared, list) and None in declared:
            node["type"] = ["null" if t is None else t for t in declared]
        for value in node.values():
            _fix_null_types(value)
    elif isinstance(node, list):
        for value in node:
            _fix_null_types(value)
    return node


def _load(name: str, *, skip: set[tuple[str, str]]) -> tuple[dict, set[tuple[str, str]]]:
    """The spec file restricted to served operations not in `skip`; returns it and what it kept."""
    document = _fix_null_types(_repair(yaml.safe_load((spec_dir() / name).read_text())))
    served = _served_operations()
    kept: set[tuple[str, str]] = set()
    paths = {}
    for template, item in document.get("paths", {}).items():
        operations = {}
        for method in METHODS:
            key = (method, _shape(template))
            if method in item and key in served and key not in skip:
                operations[method] = item[method]
                kept.add(key)
        if operations:
            shared = {k: v for k, v in item.items() if k not in METHODS}
            paths[template] = {**shared, **operations}
    document["paths"] = paths
    return document, kept


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES, "mode": os.environ.get("SCHEMATHESIS_MODE", "positive"), "database": "none"},
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
            "suppress-health-check": ["all"],
        }
    )


CURRENT_DOC, CURRENT_OPS = _load("v2.yaml", skip=set())
OLDER_DOC, _ = _load("v2-2026-01-14.yaml", skip=CURRENT_OPS)
current = schemathesis.openapi.from_dict(CURRENT_DOC, config=_config())
older = schemathesis.openapi.from_dict(OLDER_DOC, config=_config())


def _call_and_check(case, emulator_server) -> None:
    response = case.call(base_url=emulator_server.base_url, auth=emulator_server.auth, timeout=10)
    case.validate_response(response, checks=CHECKS)


@current.parametrize()
def test_current_spec_operations(case, emulator_server):
    _call_and_check(case, emulator_server)


@older.parametrize()
def test_january_spec_operations(case, emulator_server):
    _call_and_check(case, emulator_server)
