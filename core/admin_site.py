"""The Ledgerline admin site: Django's, with two-factor sign-in and its set-up page, and a home page
whose panels the apps declare (core.dashboard)."""

from django.contrib import admin
from django.urls import path

from core.two_factor import TwoFactorLoginForm, setup_view


class LedgerlineAdminSite(admin.AdminSite):
    site_header = "Ledgerline"
    site_title = "Ledgerline back office"
    index_title = "Accounts payable and payouts"
    site_url = None  # there is no public site: hide "View site"
    login_form = TwoFactorLoginForm
    login_template = "admin/ledgerline_login.html"
    index_template = "admin/ledgerline_index.html"

    def index(self, request, extra_context=None):
        from core.dashboard import panels_for

        extra_context = {**(extra_context or {}), "dashboard_panels": panels_for(request)}
        return super().index(request, extra_context)

    # Apps whose own name reads as jargon on the home page (the rest: core/app_names.py).
    APP_NAMES = {"auth": "Users and roles"}

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for app in app_list:
            app["name"] = self.APP_NAMES.get(app["app_label"], app["name"])
        return app_list

    def get_urls(self):
        extra = [
            path(
                "two-factor/",
                self.admin_view(self._two_factor_setup),
                name="two_factor_setup",
            ),
            path(
                "dashboard/chart/<slug:name>.svg",
                self.admin_view(self._dashboard_chart),
                name="dashboard_chart",
            ),
            path("report/<slug:name>/", self.admin_view(self._report), name="report"),
            path(
                "report/<slug:name>/export/<str:fmt>/",
                self.admin_view(self._report_export),
                name="report_export",
            ),
        ]
        return extra + super().get_urls()

    def _dashboard_chart(self, request, name):
        from core.charts import chart_view

        return chart_view(request, name)

    def _report(self, request, name):
        from core.reports import report_view

        return report_view(request, name, admin_site=self)

    def _report_export(self, request, name, fmt):
        from core.reports import report_export_view

        return report_export_view(request, name, fmt)

    def _two_factor_setup(self, request):
        return setup_view(request, admin_site=self)
