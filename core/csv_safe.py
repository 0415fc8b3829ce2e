"""CSV cells that a spreadsheet will not run as formulas."""

# A leading =, +, -, @, tab or carriage return makes Excel and LibreOffice treat a
# cell as a formula (PITFALLS.md: defusedcsv misses tab and CR).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


class EchoBuffer:
    """csv.writer target that hands each written line back, for streaming responses."""

    def write(self, value: str) -> str:
        return value
