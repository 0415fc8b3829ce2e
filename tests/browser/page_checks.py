"""What a person must never see on a page, found in what Chromium rendered.

`collect(page)` reads the rendered page once (visible text, label/value pairs, tables, and the
colours of badges and buttons); `problems(found)` lists what is wrong with it. The detectors are
plain functions over that data, so tests/browser/test_page_checks.py proves each one on a
deliberately bad page as well as on strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# A label that says "this is money": Amount, Total, Balance, Price... (and "Amount cents").
AMOUNT_LABEL = r"(?:amount|total|subtotal|balance|unit price|price|cents|wallet|sum)"
# After the label: a few words (never a digit or $), an optional colon, then a bare integer.
_RAW_CENTS_TEXT = re.compile(
    rf"\b{AMOUNT_LABEL}\b *(?:[A-Za-z()]+ *){{0,2}}[:=]? *\n? *(?<![$\d.,])(\d{{3,}})(?![\d.,/:\-])"
    r"(?! *(?:rows?|lines?|items?|payees?|payables?|events?|records?|people|of\b|%|days?|hours?|minutes?))",
    re.I,
)
_AMOUNT_HEADER = re.compile(rf"\b{AMOUNT_LABEL}\b", re.I)
_NOT_MONEY_HEADER = re.compile(r"\b(rows?|lines?|items?|count|number|attempts?|tries|payees?|%)\b", re.I)
_BARE_INTEGER = re.compile(r"^-?\d{3,}$")

_NONE_TEXT = re.compile(r"(?:^|[:\t])[^\S\n]*None[^\S\n]*(?:$|\t)", re.M)
_LITERALS = (
    (re.compile(r"\{\s*[\"'][^\"'\n]{0,80}[\"']\s*:"), "a JSON or Python dict"),
    (re.compile(r"\[\s*[\"']"), "a JSON or Python list"),
    (re.compile(r"(?:^|[:\t])[^\S\n]*(?:True|False)[^\S\n]*(?:$|\t)", re.M), "True/False as a value"),
)
_LITERAL_VALUES = {"True", "False", "[]", "{}", "None", "null"}
_SERVER_ERROR = re.compile(
    r"Traceback \(most recent call last\)|Server Error \(500\)|Exception Value:|TemplateSyntaxError"
)

MIN_CONTRAST = 4.5


@dataclass
class Found:
    """What one page showed."""

    status: int
    text: str  # the visible text (innerText: closed <details> and hidden elements excluded)
    fields: list[tuple[str, str]] = field(default_factory=list)  # (label, value) pairs a person reads
    tables: list[dict[str, Any]] = field(default_factory=list)  # {"headers": [...], "rows": [[...], ...]}
    colours: list[dict[str, Any]] = field(default_factory=list)  # {"label", "fg": [r,g,b,a], "bg": [r,g,b]}


# --- detectors ------------------------------------------------------------------------------------------


def server_error(status: int, text: str) -> list[str]:
    out = []
    if status >= 500:
        out.append(f"answered {status}")
    match = _SERVER_ERROR.search(text)
    if match:
        out.append(f"shows a traceback or server error ({match.group(0)!r})")
    return out


def raw_cents_in_text(text: str) -> list[str]:
    return [f"raw cents: {_context(text, m.start(), m.end())!r}" for m in _RAW_CENTS_TEXT.finditer(text)]


def raw_cents_in_fields(fields: list[tuple[str, str]]) -> list[str]:
    return [
        f"raw cents: {label.strip()} {value.strip()!r}"
        for label, value in fields
        if _AMOUNT_HEADER.search(label) and not _NOT_MONEY_HEADER.search(label) and _BARE_INTEGER.match(value.strip())
    ]


def raw_cents_in_tables(tables: list[dict[str, Any]]) -> list[str]:
    out = []
    for table in tables:
        headers = table.get("headers") or []
        money_columns = [
            i for i, h in enumerate(headers) if _AMOUNT_HEADER.search(h or "") and not _NOT_MONEY_HEADER.search(h)
        ]
        for row in table.get("rows") or []:
            for i in money_columns:
                if i < len(row) and _BARE_INTEGER.match((row[i] or "").strip()):
                    out.append(f"raw cents: column {headers[i].strip()!r} shows {row[i].strip()!r}")
    return sorted(set(out))


def visible_none(text: str, fields: list[tuple[str, str]] = (), tables: list[dict[str, Any]] = ()) -> list[str]:
    out = [f"shows None: {_context(text, m.start(), m.end())!r}" for m in _NONE_TEXT.finditer(text)]
    out += [f"shows None: {label.strip()}" for label, value in fields if value.strip() == "None"]
    for table in tables:
        for row in table.get("rows") or []:
            if any((cell or "").strip() == "None" for cell in row):
                out.append(f"shows None in a table row: {' | '.join(c.strip() for c in row)[:100]!r}")
    return sorted(set(out))


def literals(text: str, fields: list[tuple[str, str]] = (), tables: list[dict[str, Any]] = ()) -> list[str]:
    out = []
    for pattern, what in _LITERALS:
        for m in pattern.finditer(text):
            out.append(f"shows {what}: {_context(text, m.start(), m.end())!r}")
    for label, value in fields:
        if value.strip() in _LITERAL_VALUES - {"None"}:
            out.append(f"shows {value.strip()!r} as the value of {label.strip()!r}")
        for pattern, what in _LITERALS[:2]:
            if pattern.search(value):
                out.append(f"shows {what} in {label.strip()!r}: {value.strip()[:80]!r}")
    for table in tables:
        for row in table.get("rows") or []:
            for cell in row:
                if (cell or "").strip() in _LITERAL_VALUES - {"None"}:
                    out.append(f"shows {cell.strip()!r} in a table cell")
    return sorted(set(out))


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: list[float], bg: list[float]) -> float:
    """WCAG 2 contrast of a (possibly translucent) foreground over an opaque background."""
    alpha = fg[3] if len(fg) > 3 else 1.0
    blended = [fg[i] * alpha + bg[i] * (1 - alpha) for i in range(3)]
    light, dark = sorted((_luminance(blended), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def low_contrast(colours: list[dict[str, Any]]) -> list[str]:
    out = []
    for item in colours:
        ratio = contrast_ratio(item["fg"], item["bg"])
        if ratio < MIN_CONTRAST:
            out.append(
                f"low contrast {ratio:.1f}:1 (needs {MIN_CONTRAST}:1): {item['label']!r} "
                f"({_css(item['fg'])} on {_css(item['bg'])})"
            )
    return sorted(set(out))


def problems(found: Found) -> list[str]:
    return [
        *server_error(found.status, found.text),
        *raw_cents_in_text(found.text),
        *raw_cents_in_fields(found.fields),
        *raw_cents_in_tables(found.tables),
        *visible_none(found.text, found.fields, found.tables),
        *literals(found.text, found.fields, found.tables),
        *low_contrast(found.colours),
    ]


def _context(text: str, start: int, end: int) -> str:
    return re.sub(r"\s+", " ", text[max(0, start - 30) : end + 10]).strip()


def _css(rgb: list[float]) -> str:
    return "rgb(" + ", ".join(str(round(v)) for v in rgb[:3]) + ")"


# --- reading the rendered page --------------------------------------------------------------------------

BADGES_AND_BUTTONS = ", ".join(
    (
        ".status",
        "[class*='badge']",
        "[class*='status-']",
        "button",
        "input[type=submit]",
        "input[type=button]",
        "a.button",
        ".button",
        ".object-tools a",
        ".submit-row a",
    )
)

_COLLECT_JS = """
(selector) => {
  const hidden = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden') return true;
      const parent = e.parentElement;
      if (parent && parent.tagName === 'DETAILS' && !parent.open && e.tagName !== 'SUMMARY') return true;
    }
    const r = el.getBoundingClientRect();
    return r.width === 0 || r.height === 0;
  };
  const parse = (c) => {
    const m = (c || '').match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => c[i] * c[3] + v * (1 - c[3]));
    return out;
  };
  const text = (el) => (el.innerText || '').trim();
  const fields = [];
  for (const row of document.querySelectorAll('.form-row, .fieldBox')) {
    if (hidden(row)) continue;
    const label = row.querySelector('label');
    const readonly = row.querySelector('.readonly');
    if (label && readonly) fields.push([text(label), text(readonly)]);
  }
  const typed = ['hidden', 'checkbox', 'radio', 'submit', 'button', 'password'].map((t) => `:not([type=${t}])`);
  for (const input of document.querySelectorAll(`input${typed.join('')}, textarea`)) {
    if (hidden(input) || !input.value) continue;
    const label = input.id ? document.querySelector(`label[for="${input.id}"]`) : null;
    fields.push([label ? text(label) : (input.name || ''), input.value]);
  }
  for (const th of document.querySelectorAll('th[scope=row]')) {
    const td = th.nextElementSibling;
    if (td && !hidden(th)) fields.push([text(th), text(td)]);
  }
  const tables = [];
  for (const table of document.querySelectorAll('table')) {
    if (hidden(table)) continue;
    const headers = [...table.querySelectorAll('thead th')].map(text);
    const rows = [...table.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map(text));
    tables.push({headers, rows});
  }
  const colours = [];
  for (const el of document.querySelectorAll(selector)) {
    const label = (text(el) || el.value || '').slice(0, 40);
    if (!label || hidden(el)) continue;
    // Words moved off-screen (Django's selector arrows): a background-image icon, no text to read.
    if (parseFloat(getComputedStyle(el).textIndent) <= -999) continue;
    // An icon button (its words only for screen readers) shows the icon's colour, not its text's.
    const icon = [...el.querySelectorAll('svg')].find((svg) => getComputedStyle(svg).display !== 'none');
    const seen = [...el.childNodes].some((n) => (n.nodeType === 3 && n.textContent.trim()) ||
      (n.nodeType === 1 && n.tagName !== 'svg' && !n.classList.contains('visually-hidden') && text(n)));
    const fg = icon && !seen && !el.value ? parse(getComputedStyle(icon).fill) : parse(getComputedStyle(el).color);
    colours.push({label, fg, bg: background(el)});
  }
  return {text: document.body.innerText, fields, tables, colours};
}
"""


def collect(page, status: int) -> Found:
    data = page.evaluate(_COLLECT_JS, BADGES_AND_BUTTONS)
    return Found(
        status=status,
        text=data["text"],
        fields=[(label, value) for label, value in data["fields"]],
        tables=data["tables"],
        colours=[c for c in data["colours"] if c["fg"]],
    )
