"""Reads of the reconciliation app's records shared by the seam's figures."""

from reconciliation.models import Discrepancy


def open_disagreements_count() -> int:
    """Disagreements with Dots nobody has adopted and that have not gone away (a Prometheus gauge)."""
    return Discrepancy.objects.filter(resolution=Discrepancy.Resolution.OPEN).count()
