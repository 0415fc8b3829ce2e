"""Every approval policy version keeps its Dots policies as ApprovalPolicyDotsCopy rows.

Until now a version with one vendor or none kept its one Dots policy on the version itself
(`ApprovalPolicy.dots_id`, with the last call's error and time). Each such version gets one
copy row (its vendor, or none) holding those values; a retired version whose deletion in
Dots was confirmed (a clean call at or after its retirement) records that as the row's
`deleted_in_dots_at`. Migration 0006 then drops `ApprovalPolicy.dots_id`.
"""

from django.db import migrations


def to_copy_rows(apps, schema_editor):
    ApprovalPolicy = apps.get_model("payables", "ApprovalPolicy")
    Copy = apps.get_model("payables", "ApprovalPolicyDotsCopy")
    for policy in ApprovalPolicy.objects.filter(dots_copies__isnull=True).iterator():
        vendors = list(policy.vendors.all()[:2])
        deleted_at = None
        if policy.retired_at is not None and policy.dots_id:
            confirmed = (
                policy.last_dots_attempt_at is not None
                and policy.last_dots_attempt_at >= policy.retired_at
                and not policy.last_dots_error
            )
            deleted_at = policy.last_dots_attempt_at if confirmed else None
        Copy.objects.create(
            policy=policy,
            vendor=vendors[0] if len(vendors) == 1 else None,
            dots_id=policy.dots_id,
            last_dots_error=policy.last_dots_error,
            last_dots_attempt_at=policy.last_dots_attempt_at,
            deleted_in_dots_at=deleted_at,
        )


def to_version_ids(apps, schema_editor):
    ApprovalPolicy = apps.get_model("payables", "ApprovalPolicy")
    Copy = apps.get_model("payables", "ApprovalPolicyDotsCopy")
    for policy in ApprovalPolicy.objects.all().iterator():
        if policy.vendors.count() > 1:
            continue  # several vendors: the copy rows were the only form before too
        copies = list(Copy.objects.filter(policy=policy))
        if len(copies) != 1:
            continue
        policy.dots_id = copies[0].dots_id
        policy.save(update_fields=["dots_id"])
        copies[0].delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payables", "0004_dots_record_fields"),
    ]

    operations = [
        migrations.RunPython(to_copy_rows, to_version_ids),
    ]
