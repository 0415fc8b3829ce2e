"""django-q2 entry points of the reports app (declared in reports/seam.py)."""

from reports import overview


def refresh_overview() -> str:
    snapshot = overview.refresh()
    return f"overview figures computed in {snapshot.took_ms} ms"
