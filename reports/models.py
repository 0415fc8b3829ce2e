"""Reports keep no records of their own: they read the other apps'. The one table holds the overview's
figures as last computed, and carries the permission to see the overview (Managers and Administrators)."""

from django.db import models


class OverviewSnapshot(models.Model):
    """The overview's heavy figures (cash out, payables by status and age, approvals waiting, forecast),
    computed together by a schedule every few minutes and read by the home page in one query.

    One row (pk 1), replaced each time: the home page says when its figures were computed. The
    "Needs attention" counts are not kept here: they are read live (small, indexed).
    """

    computed_at = models.DateTimeField()
    took_ms = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)

    class Meta:
        default_permissions = ()
        permissions = [("view_overview", "Can see the business overview (cash out, aging, approvals, forecast)")]
        verbose_name = "business overview figures"

    def __str__(self) -> str:
        return f"overview figures of {self.computed_at:%Y-%m-%d %H:%M}"
