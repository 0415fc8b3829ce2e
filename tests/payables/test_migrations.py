"""Migration 0005: every approval policy version keeps its Dots policies as copy rows."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("payables", "0004_dots_record_fields")]
AFTER = [("payables", "0006_remove_approvalpolicy_dots_id")]


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_a_versions_own_dots_id_error_and_deletion_move_into_one_copy_row():
    apps = _migrate(BEFORE)
    try:
        Policy = apps.get_model("payables", "ApprovalPolicy")
        Copy = apps.get_model("payables", "ApprovalPolicyDotsCopy")
        Vendor = apps.get_model("vendors", "Vendor")
        acme = Vendor.objects.create(name="Acme", address_line_1="1 Main St", city="A", state="IL", postcode="1")
        globex = Vendor.objects.create(name="Globex", address_line_1="2 Main St", city="B", state="IL", postcode="2")
        now = timezone.now()
        current = Policy.objects.create(description="Any vendor", dots_id="pol_current", last_dots_error="")
        one_vendor = Policy.objects.create(description="Acme only", dots_id="pol_acme", last_dots_error="late")
        one_vendor.vendors.set([acme])
        deleted = Policy.objects.create(
            description="Gone", dots_id="pol_gone", retired_at=now - dt.timedelta(hours=1), last_dots_attempt_at=now
        )
        stuck = Policy.objects.create(
            description="Stuck",
            dots_id="pol_stuck",
            retired_at=now - dt.timedelta(hours=1),
            last_dots_attempt_at=now,
            last_dots_error="Dots could not be reached",
        )
        never_sent = Policy.objects.create(description="Never sent")
        several = Policy.objects.create(description="Two vendors")
        several.vendors.set([acme, globex])
        Copy.objects.create(policy=several, vendor=acme, dots_id="pol_two_acme")
        Copy.objects.create(policy=several, vendor=globex, dots_id="pol_two_globex")

        apps = _migrate(AFTER)
        Copy = apps.get_model("payables", "ApprovalPolicyDotsCopy")

        def only_copy(policy):
            (copy,) = Copy.objects.filter(policy_id=policy.pk)
            return copy

        assert (only_copy(current).dots_id, only_copy(current).vendor_id) == ("pol_current", None)
        acme_copy = only_copy(one_vendor)
        assert (acme_copy.dots_id, acme_copy.vendor_id, acme_copy.last_dots_error) == ("pol_acme", acme.pk, "late")
        assert only_copy(deleted).deleted_in_dots_at == now
        assert (only_copy(stuck).deleted_in_dots_at, only_copy(stuck).dots_id) == (None, "pol_stuck")
        assert only_copy(never_sent).dots_id is None
        assert sorted(Copy.objects.filter(policy_id=several.pk).values_list("dots_id", flat=True)) == [
            "pol_two_acme",
            "pol_two_globex",
        ]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
