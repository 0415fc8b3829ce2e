from django.contrib.admin.apps import AdminConfig


class LedgerlineAdminConfig(AdminConfig):
    """Makes `admin.site` the Ledgerline site, so third-party admins register on it too."""

    default_site = "core.admin_site.LedgerlineAdminSite"
