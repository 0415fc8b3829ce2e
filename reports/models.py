"""Reports keep no records of their own: they read the other apps'. This model only carries the
permission to see the business overview on the home page (Managers and Administrators)."""

from django.db import models


class Overview(models.Model):
    class Meta:
        managed = False  # no table: a holder for the permission below
        default_permissions = ()
        permissions = [("view_overview", "Can see the business overview (cash out, aging, approvals, forecast)")]
        verbose_name = "business overview"

    def __str__(self) -> str:
        return "business overview"
