"""What the reports app brings to the shared machinery (core/registry.py): the business overview
on the home page, for Managers (who read everything) and Administrators."""

from django.conf import settings

from core import registry, roles
from core.registry import DashboardChart, DashboardPanel, Report, ScheduleSpec

APP = "reports"
OVERVIEW = "reports.view_overview"

# Managers get every view permission by themselves (core.roles); Administrators are given it here.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {roles.ADMINISTRATOR: (OVERVIEW,)}
registry.role_permissions(APP, ROLE_PERMISSIONS)
registry.audit_actions(APP, {"report.exported": "Report exported"})

_PANELS = (
    ("attention", "Needs attention: money in doubt and disagreements with Dots", "attention_panel", 20),
    ("cash_out", "Cash out by week", "cash_out_panel", 30),
    ("payables", "Payables by status and age", "payables_panel", 40),
    ("approvals", "Approvals waiting, by approver", "approvals_panel", 50),
    ("forecast", "Cash-out forecast: the next 8 weeks against the app wallet", "forecast_panel", 60),
)
for name, title, build, order in _PANELS:
    registry.dashboard_panel(
        APP,
        DashboardPanel(
            name=name,
            title=title,
            permission=OVERVIEW,
            build=f"reports.dashboard.{build}",
            template=f"admin/reports/dashboard/{name}.html",
            order=order,
        ),
    )
# What concerns each person, above the overview: their own work, by role.
_MY_WORK = (
    ("my_payables", "My drafts and rejected payables", "payables.add_payable", "clerk_panel", 10),
    ("my_approvals", "Waiting for my approval", "payables.approve_payable", "approver_panel", 11),
    ("ready_to_pay", "Ready to pay", "payables.pay_payable", "payer_panel", 12),
    ("payouts_under_way", "Payee imports and payout runs under way", "payouts.add_payeeimport", "operator_panel", 13),
)
for name, title, permission, build, order in _MY_WORK:
    registry.dashboard_panel(
        APP,
        DashboardPanel(
            name=name,
            title=title,
            permission=permission,
            build=f"reports.my_work.{build}",
            template=f"admin/reports/dashboard/{name}.html",
            order=order,
        ),
    )
for name, build in (("cash_out_by_week", "cash_out_chart"), ("aging", "aging_chart"), ("forecast", "forecast_chart")):
    registry.dashboard_chart(APP, DashboardChart(name=name, permission=OVERVIEW, build=f"reports.dashboard.{build}"))

_REPORTS = (
    (
        "ap_aging",
        "AP aging by vendor",
        "Unpaid payables of each vendor by days past due, with totals.",
        "ap_aging_report",
        10,
    ),
    (
        "vendor_spend",
        "Vendor spend by month",
        "What Dots paid to each vendor, month by month (the last 12 months unless you choose).",
        "vendor_spend_report",
        20,
    ),
    (
        "tax_1099",
        "1099 readiness",
        "What each payee was paid in a tax year against the 1099 threshold, with their W-9 and TIN check.",
        "tax_1099_report",
        30,
    ),
)
for name, title, description, build, order in _REPORTS:
    registry.report(
        APP,
        Report(
            name=name,
            title=title,
            description=description,
            permission=OVERVIEW,
            build=f"reports.reports.{build}",
            order=order,
        ),
    )
registry.dashboard_panel(
    APP,
    DashboardPanel(
        name="reports",
        title="Reports",
        permission=OVERVIEW,
        build="reports.dashboard.reports_panel",
        template="admin/reports/dashboard/reports.html",
        order=15,
    ),
)

registry.schedule(
    APP,
    ScheduleSpec(
        name="Compute the business overview's figures",
        func="reports.tasks.refresh_overview",
        minutes=settings.OVERVIEW_REFRESH_MINUTES,
    ),
)
