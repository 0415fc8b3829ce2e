"""The README's map of the code lists every module that exists, and names none that does not."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Folders the map describes as a whole ("emulator/ the Dots emulator (its own README ...)").
DESCRIBED_AS_A_WHOLE = {"dots/emulator", "dots/resources", "core/templatetags", "core/management", "tests", "bench"}
APPS = (
    "config",
    "core",
    "dots",
    "vendors",
    "payables",
    "payouts",
    "receivables",
    "reconciliation",
    "reports",
    "wallet",
    "notifications",
)


def _map_sections() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Map of the code", 1)[1].split("```", 2)[1]
    sections: dict[str, list[str]] = {}
    current = None
    for line in block.splitlines():
        match = re.match(r"^([a-z_]+)/\s", line + " ")
        if match:
            current = match.group(1)
        if current:
            sections.setdefault(current, []).append(line)
    return {app: "\n".join(lines) for app, lines in sections.items()}


def _modules(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        relative = path.relative_to(ROOT)
        if "migrations" in relative.parts or path.name == "__init__.py":
            continue
        folder = str(relative.parent)
        if any(folder == whole or folder.startswith(whole + "/") for whole in DESCRIBED_AS_A_WHOLE):
            continue
        yield relative


@pytest.mark.parametrize("app", APPS)
def test_the_code_map_lists_every_module_of(app):
    section = _map_sections().get(app, "")
    missing = []
    for relative in _modules(app):
        inner = relative.relative_to(app)
        # A module in a sub-package is listed under its folder: "models/ payable.py ...", "services/ ...".
        named = inner.name if len(inner.parts) == 1 else f"{inner.parts[0]}/"
        if not re.search(rf"(?<![\w/]){re.escape(named)}", section):
            missing.append(str(relative))
    assert missing == [], f"add these to the README's map of the code: {missing}"


@pytest.mark.parametrize("app", APPS)
def test_the_code_map_names_no_module_that_does_not_exist(app):
    section = _map_sections().get(app, "")
    named = set(re.findall(r"(?<![\w/.])([a-z_]+\.py)\b", section))
    existing = {path.name for path in (ROOT / app).rglob("*.py")}
    assert named - existing == set()


def test_no_module_outside_migrations_and_tests_is_over_600_lines():
    """A module that long holds more than one idea: split it into modules named for them."""
    long = []
    for app in (*APPS, "bench"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            lines = len(path.read_text().splitlines())
            if lines > 600:
                long.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert long == []
