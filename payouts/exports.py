"""What the payouts lists export (core.exports): each list's columns, and a run's payouts."""

from core.exports import ExportColumn

PAYEE_COLUMNS = (
    ExportColumn("First name", "first_name"),
    ExportColumn("Last name", "last_name"),
    ExportColumn("Email", "email"),
    ExportColumn("Phone", "phone_e164"),
    ExportColumn("Country", "country"),
    ExportColumn("External id", "external_id"),
    ExportColumn("Status in Dots", "dots_status"),
    ExportColumn("Wallet balance", "wallet_cents", "money"),
    ExportColumn("Default payout method", "default_payout_method"),
    ExportColumn("Created", "created_at", "datetime"),
    ExportColumn("Dots user id", "dots_user_id"),
)

PAYOUT_RUN_COLUMNS = (
    ExportColumn("Run", "id", "number"),
    ExportColumn("Import file", "payee_import__file_name"),
    ExportColumn("Status", "status"),
    ExportColumn("Payouts", "item_count", "number"),
    ExportColumn("Total", "total_cents", "money"),
    ExportColumn("Created by", "created_by__username"),
    ExportColumn("Approved by", "approved_by__username"),
    ExportColumn("Created", "created_at", "datetime"),
    ExportColumn("Approved", "approved_at", "datetime"),
    ExportColumn("Finished", "finished_at", "datetime"),
)

# A run's payouts, one row each, as the run's page lists them.
PAYOUT_RUN_ITEM_COLUMNS = (
    ExportColumn("Line in the file", "row__line_number", "number"),
    ExportColumn("First name", "row__first_name"),
    ExportColumn("Last name", "row__last_name"),
    ExportColumn("Email", "row__email"),
    ExportColumn("Phone", "row__phone_e164"),
    ExportColumn("Amount", "amount_cents", "money"),
    ExportColumn("Memo", "memo"),
    ExportColumn("Status", "status"),
    ExportColumn("What happened", "outcome"),
    ExportColumn("Payout link", "payout_link_id", "number"),
    ExportColumn("Payout link status", "payout_link__status"),
)

TRANSFER_COLUMNS = (
    ExportColumn("Dots id", "dots_id"),
    ExportColumn("Type", "type"),
    ExportColumn("Status", "status"),
    ExportColumn("Amount", "amount_cents", "money"),
    ExportColumn("Why it failed", "failure_reason"),
    ExportColumn("Dots user id", "dots_user_id"),
    ExportColumn("Payout link (Dots id)", "payout_link_dots_id"),
    ExportColumn("Payable (Dots id)", "payable_dots_id"),
    ExportColumn("Created", "dots_created_at", "datetime"),
)
